/**
 * State: what warm-reconcile remembers between runs: the last version seen healthy, a hold already
 * alerted (so a nightly run does not repeat the same alert), and the history of runs.
 */
import type { Effect, Option } from "effect"
import { Context, Schema } from "effect"
import { HeldReason } from "../domain/Hold.js"
import { InFlightPhase } from "../domain/Phase.js"

export class StateError extends Schema.TaggedError<StateError>()("StateError", {
  message: Schema.String
}) {}

/** A hold already alerted; `reason` is spelled as the outcome and the alert spell it (`held-major`). */
export class HoldRecord extends Schema.Class<HoldRecord>("HoldRecord")({
  reason: HeldReason,
  from: Schema.String,
  to: Schema.String,
  ts: Schema.String
}) {}

export class RunRecord extends Schema.Class<RunRecord>("RunRecord")({
  app: Schema.String,
  outcome: Schema.String,
  detail: Schema.String,
  startedAt: Schema.String,
  endedAt: Schema.String,
  interrupted: Schema.optionalWith(Schema.Boolean, { default: () => false })
}) {}

/**
 * An upgrade under way, written before its first destructive step and kept current: a run that
 * finds one (the last run was killed, or the machine lost power) recovers before anything else.
 */
export class InFlight extends Schema.Class<InFlight>("InFlight")({
  from: Schema.String,
  to: Schema.String,
  /** Was `from` seen healthy before the upgrade? (Only then is it a last-good to commit.) */
  fromHealthy: Schema.Boolean,
  /** The version whose data the snapshot holds, once it is taken. */
  snapshot: Schema.NullOr(Schema.String),
  /** The step under way: a finished upgrade has no record at all. */
  phase: InFlightPhase,
  pid: Schema.Number,
  startedAt: Schema.String
}) {}

export class State extends Context.Tag("warm-reconcile/State")<State, {
  readonly lastGood: (app: string) => Effect.Effect<Option.Option<string>, StateError>
  /** Only ever called with a version that was seen healthy. */
  readonly setLastGood: (app: string, version: string) => Effect.Effect<void, StateError>
  readonly hold: (app: string) => Effect.Effect<Option.Option<HoldRecord>, StateError>
  readonly setHold: (app: string, hold: Option.Option<HoldRecord>) => Effect.Effect<void, StateError>
  readonly recordRun: (run: RunRecord) => Effect.Effect<void, StateError>
  readonly inFlight: (app: string) => Effect.Effect<Option.Option<InFlight>, StateError>
  /** Durable before it returns: the record must survive a power cut right after. */
  readonly setInFlight: (app: string, record: Option.Option<InFlight>) => Effect.Effect<void, StateError>
}>() {}
