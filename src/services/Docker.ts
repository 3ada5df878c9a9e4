/**
 * Docker: read-only facts about a Swarm stack: is it deployed, which version runs, its volumes
 * and secrets, the failed tasks of its app service (for crash-loop detection), and per service of
 * the stack whether Swarm has converged on the current spec (for the health gate).
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
  /**
   * Why the volume's data cannot be snapshotted from its mountpoint (a bind or network mount, another
   * driver, a mountpoint outside Docker's data root): a snapshot or restore that selects it is
   * refused with this, before anything changes. Absent for a plain local volume.
   */
  readonly refused?: string
}

export interface FailedTask {
  readonly state: string
  readonly exitCode: Option.Option<number>
  readonly error: string
  /** When the task was created, in epoch milliseconds. */
  readonly at: number
}

/** Swarm's `UpdateStatus.State` of a service; `none` when it was never updated. */
export type UpdateState =
  | "none"
  | "updating"
  | "paused"
  | "completed"
  | "rollback_started"
  | "rollback_paused"
  | "rollback_completed"

/** Swarm's verdicts on an update that fail a health gate at once. */
export const SWARM_VERDICTS: ReadonlyArray<UpdateState> = [
  "rollback_started",
  "rollback_paused",
  "rollback_completed",
  "paused"
]

/** A container's health: `none` when neither image nor compose file defines a healthcheck. */
export type ContainerHealth = "healthy" | "unhealthy" | "starting" | "none"

export interface ServiceFacts {
  /** The full service name, `<stack>_<service>`. */
  readonly name: string
  /** The service's `coop-cloud.<stack>.version` label. */
  readonly version: Option.Option<string>
  readonly update: UpdateState
  /** When the update (or Swarm's rollback of it) started, in epoch milliseconds. */
  readonly updateStartedAt: Option.Option<number>
  /** What Swarm said about the update (`UpdateStatus.Message`), empty when nothing. */
  readonly updateMessage: string
  /** Desired replicas (for a global service: the tasks Swarm wants running). */
  readonly desired: number
  /** Tasks in state `running`. */
  readonly running: number
  /** Running tasks created for the service's current spec (image, config, force-update counter). */
  readonly current: number
  /** Health of each running container that has a healthcheck (and could be inspected). */
  readonly health: ReadonlyArray<{ readonly status: ContainerHealth; readonly lastLog: string }>
  /** What the newest task that is not running said (state and error), empty when nothing. */
  readonly lastTaskMessage: string
}

export interface ServiceFailedTask extends FailedTask {
  /** The full service name, `<stack>_<service>`. */
  readonly service: string
}

export interface StackFacts {
  readonly services: ReadonlyArray<ServiceFacts>
  /** Failed tasks of any service of the stack created at or after `since`, oldest first. */
  readonly failed: ReadonlyArray<ServiceFailedTask>
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
  /** Every service of the stack (see {@link ServiceFacts}) and their failed tasks since `since`. */
  readonly stackFacts: (stack: string, since: number) => Effect.Effect<StackFacts, DockerError>
}>() {}
