/**
 * The rollback: undo a failed or interrupted upgrade (undeploy the target, restore the snapshot,
 * redeploy last-good, check its health), from what the upgrade had done so far or what a killed
 * run's in-flight record says. It never fails: what it ends as is the outcome.
 */
import { Cause, Clock, Effect, Option, Ref } from "effect"
import type { AlertReason } from "../domain/Alert.js"
import type { AppSpec } from "../domain/Config.js"
import { Outcome } from "../domain/Outcome.js"
import { Apps } from "../services/Apps.js"
import { Docker, type StackVolume } from "../services/Docker.js"
import { type SnapshotMeta, Snapshots } from "../services/Snapshots.js"
import type { RollbackCause } from "./Errors.js"
import { rememberFailedRelease } from "./Hold.js"
import type { Tracker } from "./InFlight.js"
import {
  deployVersion,
  healthGate,
  inStep,
  RETRY,
  SHORT_STEP,
  SNAPSHOT_STEP,
  timedPhase,
  tryAlert,
  within
} from "./Steps.js"

/** What the upgrade transaction has done so far: the rollback undoes exactly that. */
export interface Progress {
  readonly undeployed: boolean
  readonly volumes: ReadonlyArray<StackVolume>
  readonly snapshot: Option.Option<SnapshotMeta>
  readonly deployAttempted: boolean
}

const describeCause = (cause: Cause.Cause<RollbackCause>): string =>
  Cause.isInterruptedOnly(cause)
    ? "interrupted"
    : Option.match(Cause.failureOption(cause), {
      onNone: () => Cause.pretty(cause).split("\n")[0] ?? "unknown failure",
      onSome: (e) => e.message
    })

/** The health gate's verdict, when that is why: its reason and the service it names (issue 15). */
const gateFields = (cause: Cause.Cause<RollbackCause>): Record<string, string> =>
  Option.match(Cause.failureOption(cause), {
    onNone: () => ({}),
    onSome: (e) =>
      e._tag === "HealthGateFailed"
        ? { gate: e.reason, ...(e.service === undefined ? {} : { failed_service: e.service }) }
        : {}
  })

export interface RollbackOptions {
  readonly tracker: Pick<Tracker, "track" | "finish">
  readonly successAlert?: AlertReason
  /** Hold the target as a failed release (before the record goes, so that a kill cannot skip it). */
  readonly remember?: boolean
}

/**
 * Undo a failed or interrupted upgrade. It writes exactly one alert (`rollback`, or
 * `rollback-failed` when any step of it failed).
 */
export const rollback = (
  app: AppSpec,
  { from, notes, to }: { readonly from: string; readonly to: string; readonly notes: string },
  done: Progress,
  cause: Cause.Cause<RollbackCause>,
  { remember = false, successAlert = "rollback", tracker: { finish, track } }: RollbackOptions
) =>
  Effect.gen(function*() {
    const apps = yield* Apps
    const docker = yield* Docker
    const snapshots = yield* Snapshots
    const reason = describeCause(cause)
    if (!done.undeployed && !done.deployAttempted) {
      // Nothing was changed yet (the upgrade failed while recording last-good): nothing to undo.
      yield* finish
      return Outcome.failed({ reason: `upgrade ${from}->${to} not started: ${reason}` })
    }
    yield* Effect.logWarning(`upgrade to ${to} failed (${reason}): rolling back to ${from}`)
    yield* track("rollback")
    const step = yield* Ref.make("undeploy")
    const undo = Effect.gen(function*() {
      if (app.stateful) {
        if (yield* docker.isDeployed(app.stack).pipe(within(app, "deployed check", SHORT_STEP))) {
          yield* apps.undeploy(app).pipe(within(app, "undeploy", app.deployTimeout), inStep("undeploy"))
        }
        if (Option.isSome(done.snapshot)) {
          yield* Ref.set(step, "restore")
          yield* Effect.logInfo(`restore snapshot of ${from}`)
          yield* snapshots.restore(app, done.volumes).pipe(within(app, "restore", SNAPSHOT_STEP), timedPhase("restore"))
        }
      }
      yield* Ref.set(step, "redeploy")
      const since = yield* Clock.currentTimeMillis
      yield* deployVersion(app, from)
      yield* Ref.set(step, "health")
      return yield* healthGate(app, from, since)
    })
    const result = yield* Effect.either(undo.pipe(
      Effect.tapError((e) => Effect.logWarning(`rollback step ${e._tag} failed: ${e.message}`)),
      // Start over (each step is safe to repeat), but a last-good that stays unhealthy is final.
      Effect.retry({ schedule: RETRY, while: (e) => e._tag !== "HealthGateFailed" })
    ))
    const failedStep = yield* Ref.get(step)
    const outcome = result._tag === "Right"
      ? Outcome["rolled-back"]({ attempted: to, lastGood: from, reason })
      : Outcome["rollback-failed"]({
        attempted: to,
        lastGood: from,
        reason: `${failedStep} failed during rollback: ${result.left.message}`
      })
    const fields = {
      last_good: from,
      attempted: to,
      recovered: result._tag === "Right",
      cause: reason,
      ...gateFields(cause),
      release_notes: notes,
      ...(result._tag === "Left" ? { failed_step: failedStep, error: result.left.message } : {}),
      ...(Option.isSome(done.snapshot) ? { snapshot_version: done.snapshot.value.version } : {})
    }
    if (remember) yield* rememberFailedRelease(app, from, to)
    // After a failed rollback the record stays, so that the next run tries the rollback again
    // instead of starting anything new. After a good one it goes once the alert is written: an
    // alert that cannot be written leaves the record (phase `alert`) for the next run to write it.
    yield* track(outcome._tag === "rollback-failed" ? "rollback-failed" : "alert")
    const alertReason = outcome._tag === "rolled-back" ? successAlert : "rollback-failed"
    const alerted = yield* tryAlert(app, alertReason, fields, "rollback", fields)
    if (result._tag === "Left") yield* Effect.logError(`rollback to ${from} failed: ${result.left.message}`)
    else yield* Effect.logInfo(`rolled back to ${from}; healthy again`)
    if (!alerted && outcome._tag === "rolled-back") {
      return Outcome.failed({ reason: `rolled back ${to} -> ${from}, but the alert could not be written` })
    }
    if (outcome._tag === "rolled-back") yield* finish
    return outcome
  })
