/** In-memory Docker over the simulated world. */
import { Clock, Effect, Layer, Option } from "effect"
import { Docker, DockerApiError } from "../services/Docker.js"
import { stackFactsAt } from "./Swarm.js"
import { failedTasksAt, type InjectedFault, SimulatedWorld } from "./World.js"

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
      chaosVersion: (stack) =>
        world.step("deployed-version", stack, `chaos labels of ${stack}_app`).pipe(
          Effect.mapError(fromFault),
          Effect.zipRight(byStack(stack)),
          Effect.map(Option.flatMap((a) => Option.flatMap(a.deployment, (d) => Option.fromNullable(d.chaos))))
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
        ),
      stackFacts: (stack, since) =>
        world.step("tasks", stack, `service ls, task ls ${stack}`).pipe(
          Effect.mapError(fromFault),
          Effect.zipRight(byStack(stack)),
          Effect.flatMap((found) =>
            Option.match(Option.flatMap(found, (a) => Option.map(a.deployment, (d) => ({ a, d }))), {
              onNone: () => Effect.succeed({ services: [], failed: [] }),
              onSome: ({ a, d }) =>
                world.release(a.spec.recipe, d.version).pipe(
                  Effect.zip(Clock.currentTimeMillis),
                  Effect.map(([release, now]) => stackFactsAt(stack, release, d, now, since))
                )
            })
          )
        )
    })
  })
)
