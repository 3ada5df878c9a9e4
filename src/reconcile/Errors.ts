/** The typed failures of the program: every service's errors, the health gate's, and its own. */
import { Cause, Option, Schema } from "effect"
import type { AlertError } from "../services/Alerts.js"
import type { AbraError } from "../services/Apps.js"
import type { DockerError } from "../services/Docker.js"
import type { RecipeError } from "../services/Recipes.js"
import type { SnapshotError } from "../services/Snapshots.js"
import type { StateError, StateUnreadable } from "../services/State.js"
import type { HealthGateFailed } from "./HealthGate.js"

/** A step took longer than it may. */
export class StepTimedOut extends Schema.TaggedError<StepTimedOut>()("StepTimedOut", {
  app: Schema.String,
  step: Schema.String,
  message: Schema.String
}) {}

/** Why a recovery rolls back: the run that started the upgrade was killed before it finished. */
export class RunKilled extends Schema.TaggedError<RunKilled>()("RunKilled", {
  app: Schema.String,
  message: Schema.String
}) {}

/**
 * The config does not fit what abra has: no env file for an app the config does not let create,
 * or an env file naming another recipe. Bad config (exit 2), found before anything is written, and
 * not a run: `run` passes it on instead of recording a `failed` outcome.
 */
export class ConfigMismatch extends Schema.TaggedError<ConfigMismatch>()("ConfigMismatch", {
  app: Schema.String,
  message: Schema.String
}) {}

/**
 * What `reconcile` and `recover` can fail with: only before anything was changed, since every
 * failure after the first change ends as an outcome. `run` turns each into the `failed` outcome.
 */
export type ReconcileError =
  | AbraError
  | AlertError
  | DockerError
  | HealthGateFailed
  | RecipeError
  | SnapshotError
  | StateError
  | StateUnreadable
  | StepTimedOut

/** What a rollback is told it undoes: a step's failure, or a killed run found by the recovery. */
export type RollbackCause = ReconcileError | RunKilled

/**
 * Did the release itself fail (its deploy failed or timed out, its health gate failed or it
 * crash-looped)? Only then is it held as failed. An interruption (SIGINT, SIGTERM) or a local step
 * (checkout, snapshot, undeploy, state writes, Docker look-ups) says nothing against the release:
 * the next run tries it again.
 */
export const releaseFailed = (cause: Cause.Cause<RollbackCause>, version: string): boolean =>
  !Cause.isInterrupted(cause) &&
  Option.exists(Cause.failureOption(cause), (e) =>
    e._tag === "HealthGateFailed" ||
    (e._tag === "AbraError" && e.operation === `app deploy ${version}`) ||
    (e._tag === "StepTimedOut" && e.step === "deploy"))
