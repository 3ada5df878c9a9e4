/**
 * Docker: read-only facts about a Swarm stack: is it deployed, which version runs, its volumes
 * and secrets, and the failed tasks of its app service (for crash-loop detection).
 */
import { Clock, Context, Effect, Layer, Option, Schema } from "effect"
import { failedTasksAt, type InjectedFault, SimulatedWorld } from "../simulation/World.js"

/** The Docker socket cannot be reached at all. */
export class DockerUnavailable extends Schema.TaggedError<DockerUnavailable>()("DockerUnavailable", {
  socket: Schema.String,
  message: Schema.String
}) {}

/** The Engine API answered with an error. */
export class DockerApiError extends Schema.TaggedError<DockerApiError>()("DockerApiError", {
  status: Schema.Number,
  message: Schema.String
}) {}

export type DockerError = DockerUnavailable | DockerApiError

export interface StackVolume {
  /** The full volume name, `<stack>_<volume>`. */
  readonly name: string
  /** Where the volume's data lives on the host. */
  readonly mountpoint: string
}

export interface FailedTask {
  readonly state: string
  readonly exitCode: Option.Option<number>
  readonly error: string
  /** When the task was created, in epoch milliseconds. */
  readonly at: number
}

export class Docker extends Context.Tag("warm-reconcile/Docker")<Docker, {
  readonly isDeployed: (stack: string) => Effect.Effect<boolean, DockerError>
  /** The `coop-cloud.<stack>.version` label of `<stack>_app`, when deployed. */
  readonly deployedVersion: (stack: string) => Effect.Effect<Option.Option<string>, DockerError>
  readonly stackVolumes: (stack: string) => Effect.Effect<ReadonlyArray<StackVolume>, DockerError>
  /** Secret names of the stack (`<stack>_<name>_<version>`). */
  readonly secrets: (stack: string) => Effect.Effect<ReadonlyArray<string>, DockerError>
  /** Failed tasks of `<stack>_app` created at or after `since` (epoch milliseconds). */
  readonly failedTasks: (stack: string, since: number) => Effect.Effect<ReadonlyArray<FailedTask>, DockerError>
}>() {}

const fromFault = (fault: InjectedFault) =>
  new DockerApiError({ status: 500, message: `Docker Engine API error: ${fault.message}` })

/** In-memory Docker over the simulated world. */
export const layerTest: Layer.Layer<Docker, never, SimulatedWorld> = Layer.effect(
  Docker,
  Effect.gen(function*() {
    const world = yield* SimulatedWorld
    const byStack = (stack: string) =>
      world.state.get.pipe(
        Effect.map((s) => Option.fromNullable([...s.apps.values()].find((a) => a.spec.stack === stack)))
      )
    return Docker.of({
      isDeployed: (stack) =>
        world.step("deployed-check", stack, `service ls ${stack}`).pipe(
          Effect.mapError(fromFault),
          Effect.zipRight(byStack(stack)),
          Effect.map(Option.exists((a) => Option.isSome(a.deployment)))
        ),
      deployedVersion: (stack) =>
        world.step("deployed-version", stack, `version label of ${stack}_app`).pipe(
          Effect.mapError(fromFault),
          Effect.zipRight(byStack(stack)),
          Effect.map(Option.flatMap((a) => Option.map(a.deployment, (d) => d.version)))
        ),
      stackVolumes: (stack) =>
        world.step("volumes", stack, `volume ls ${stack}`).pipe(
          Effect.mapError(fromFault),
          Effect.zipRight(byStack(stack)),
          Effect.map(Option.match({
            onNone: () => [],
            onSome: (a) =>
              [...a.volumes.keys()].map((v) => ({
                name: `${stack}_${v}`,
                mountpoint: `/var/lib/docker/volumes/${stack}_${v}/_data`
              }))
          }))
        ),
      secrets: (stack) =>
        world.step("secrets-list", stack, `secret ls ${stack}`).pipe(
          Effect.mapError(fromFault),
          Effect.zipRight(byStack(stack)),
          Effect.map(Option.match({
            onNone: () => [],
            onSome: (a) =>
              a.secretsGenerated
                ? Option.match(a.env, { onNone: () => [], onSome: (e) => e.secrets.map((s) => `${stack}_${s}`) })
                : []
          }))
        ),
      failedTasks: (stack, since) =>
        world.step("tasks", stack, `task ls ${stack}_app`).pipe(
          Effect.mapError(fromFault),
          Effect.zipRight(byStack(stack)),
          Effect.flatMap((found) =>
            Option.match(Option.flatMap(found, (a) => Option.map(a.deployment, (d) => ({ a, d }))), {
              onNone: () => Effect.succeed([]),
              onSome: ({ a, d }) =>
                world.release(a.spec.recipe, d.version).pipe(
                  Effect.zip(Clock.currentTimeMillis),
                  Effect.map(([release, now]) =>
                    failedTasksAt(release, d, now).filter((at) => at >= since).map((at) => ({
                      state: "failed",
                      exitCode: Option.some(1),
                      error: "task: non-zero exit (1)",
                      at
                    }))
                  )
                )
            })
          )
        )
    })
  })
)
