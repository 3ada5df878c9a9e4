/**
 * Docker: read-only facts about a Swarm stack: is it deployed, which version runs, its volumes
 * and secrets, and the failed tasks of its app service (for crash-loop detection).
 */
import type { Effect, Option } from "effect"
import { Context, Schema } from "effect"

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
  /**
   * The `coop-cloud.<stack>.chaos-version` label of `<stack>_app` when it also carries
   * `coop-cloud.<stack>.chaos=true` (a person's `abra app deploy -C`); none for a release's deploy.
   */
  readonly chaosVersion: (stack: string) => Effect.Effect<Option.Option<string>, DockerError>
  /** Secret names of the stack (`<stack>_<name>_<version>`). */
  readonly secrets: (stack: string) => Effect.Effect<ReadonlyArray<string>, DockerError>
  /** Failed tasks of `<stack>_app` created at or after `since` (epoch milliseconds). */
  readonly failedTasks: (stack: string, since: number) => Effect.Effect<ReadonlyArray<FailedTask>, DockerError>
}>() {}
