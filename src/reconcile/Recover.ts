/**
 * Recovery from an upgrade that a killed run left half done (its in-flight record is still there):
 * the target deployed and healthy means commit; anything else means restore the snapshot and
 * redeploy last-good. One `recovered` alert (or `rollback-failed`).
 */
import { Cause, Effect, Option } from "effect"
import type { AppSpec } from "../domain/Config.js"
import { Outcome } from "../domain/Outcome.js"
import { Docker } from "../services/Docker.js"
import { Snapshots } from "../services/Snapshots.js"
import { type InFlight, State } from "../services/State.js"
import { RunKilled } from "./Errors.js"
import { clearHold } from "./Hold.js"
import { tracker } from "./InFlight.js"
import { rollback } from "./Rollback.js"
import { forApp, healthyWithin, inPhase, SHORT_STEP, tryAlert, within } from "./Steps.js"

export const recover = (app: AppSpec, record: InFlight) =>
  Effect.gen(function*() {
    const docker = yield* Docker
    const snapshots = yield* Snapshots
    const state = yield* State
    const { from, to } = record
    yield* Effect.logWarning(
      `found an unfinished upgrade ${from} -> ${to} (phase ${record.phase}, pid ${record.pid}, ` +
        `started ${record.startedAt}): recovering before anything else`
    )
    const track = yield* tracker(app, from, to, record.fromHealthy, record.snapshot)
    const deployed = yield* docker.isDeployed(app.stack).pipe(within(app, "deployed check", SHORT_STEP))
    const running = deployed
      ? Option.getOrUndefined(
        yield* docker.deployedVersion(app.stack).pipe(within(app, "deployed version", SHORT_STEP))
      )
      : undefined
    const healthyNow = (version: string) => healthyWithin(app, version, app.health.timeout)
    const settle = (lastGood: string, committed: boolean) =>
      Effect.gen(function*() {
        if (committed || record.fromHealthy) {
          yield* state.setLastGood(app.name, lastGood).pipe(within(app, "last-good write", SHORT_STEP))
        }
        // The record goes only once the alert is written, so that no recovery goes untold.
        const fields = { last_good: lastGood, attempted: to, committed, phase: record.phase, recovered: true }
        const alerted = yield* tryAlert(app, "recovered", fields, "recovered")
        if (!alerted) return Outcome.failed({ reason: `recovered ${to}, but the alert could not be written` })
        yield* track.finish
        return Outcome.recovered({ attempted: to, lastGood, committed })
      })

    // The target runs: if it is healthy the upgrade had in fact succeeded; commit it. (Whatever the
    // phase says: the record may be behind, but the target only runs after its deploy.)
    if (running === to && (yield* healthyNow(to))) {
      yield* clearHold(app)
      return yield* settle(to, true)
    }
    // Killed before anything destructive (last-good still runs, its data untouched), or after a
    // finished rollback whose alert was not written yet: leave it be, and tell.
    const untouched = record.snapshot === null && record.phase !== "rollback"
    // (A rollback that ended in phase `alert` has already held its target if the release failed.)
    if (running === from && (untouched || record.phase === "alert") && (yield* healthyNow(from))) {
      return yield* settle(from, false)
    }
    // Otherwise roll back, from whatever state the killed run left.
    const snapshot = record.snapshot === null
      ? Option.none()
      : Option.filter(
        yield* snapshots.show(app).pipe(within(app, "snapshot show", SHORT_STEP)),
        (m) => m.version === record.snapshot
      )
    const volumes = app.stateful
      ? yield* docker.stackVolumes(app.stack).pipe(within(app, "volume list", SHORT_STEP))
      : []
    const killed = new RunKilled({ app: app.name, message: "the run was killed" })
    const outcome = yield* rollback(
      app,
      { from, to, notes: "" },
      { undeployed: true, volumes, snapshot, deployAttempted: true },
      Cause.fail(killed),
      // A killed run is a local interruption, not the release failing: the next run tries it again.
      { tracker: track, successAlert: "recovered", remember: false }
    )
    return outcome._tag === "rolled-back"
      ? Outcome.recovered({ attempted: to, lastGood: from, committed: false })
      : outcome
  }).pipe(inPhase("recover"), forApp(app))
