/**
 * The in-flight record of an upgrade under way, kept current by a tracker: a run killed at any
 * point leaves a record that names the step it was in and the snapshot it took, so that the next
 * run can recover. A finished upgrade has no record (`Option.none()`).
 */
import { Clock, Effect, Option, Ref } from "effect"
import type { AppSpec } from "../domain/Config.js"
import type { InFlightPhase } from "../domain/Phase.js"
import { InFlight, State, type StateError } from "../services/State.js"
import type { StepTimedOut } from "./Errors.js"
import { SHORT_STEP, within } from "./Steps.js"

export interface Tracker {
  /** The first write must succeed: without it a kill in the next step could not be recovered. */
  readonly begin: (phase: InFlightPhase) => Effect.Effect<void, StateError | StepTimedOut>
  /**
   * On the way forward a write must succeed: a kill after a snapshot the record does not name, or
   * after a deploy it does not know of, could not be recovered. Failing here rolls the upgrade back.
   */
  readonly advance: (phase: InFlightPhase, snapshot?: string | null) => Effect.Effect<void, StateError | StepTimedOut>
  /** On the way back (rollback, recovery) a record that cannot be written must not stop the undo. */
  readonly track: (phase: InFlightPhase) => Effect.Effect<void>
  /** The upgrade is over: remove the record. Never fails (a failure is logged). */
  readonly finish: Effect.Effect<void>
}

/** A tracker for the upgrade `from` -> `to`; a recovery passes the snapshot the record named. */
export const tracker = (
  app: AppSpec,
  from: string,
  to: string,
  fromHealthy: boolean,
  snapshot: string | null = null
): Effect.Effect<Tracker, never, State> =>
  Effect.gen(function*() {
    const state = yield* State
    const startedAt = new Date(yield* Clock.currentTimeMillis).toISOString()
    const pid = yield* Effect.sync(() => process.pid)
    // A recovery carries the snapshot over: losing it would let a second crash skip the restore.
    const snapshotRef = yield* Ref.make<string | null>(snapshot)
    const record = (phase: InFlightPhase, snapshot: string | null) =>
      new InFlight({ from, to, fromHealthy, snapshot, phase, pid, startedAt })
    const setRecord = (record: Option.Option<InFlight>) =>
      state.setInFlight(app.name, record).pipe(within(app, "in-flight write", SHORT_STEP))
    const write = (phase: Option.Option<InFlightPhase>, snapshot?: string | null) =>
      Effect.gen(function*() {
        if (snapshot !== undefined) yield* Ref.set(snapshotRef, snapshot)
        const current = yield* Ref.get(snapshotRef)
        yield* setRecord(Option.map(phase, (p) => record(p, current)))
      })
    const logged = (what: string) =>
      Effect.catchAll((e: StateError | StepTimedOut) =>
        Effect.logError(`could not write the in-flight record (${what}): ${e.message}`)
      )
    return {
      begin: (phase) => setRecord(Option.some(record(phase, null))),
      advance: (phase, snapshot) => write(Option.some(phase), snapshot),
      track: (phase) => write(Option.some(phase)).pipe(logged(phase)),
      finish: write(Option.none()).pipe(logged("done"))
    }
  })
