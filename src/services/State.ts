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

/** The records a run reads before it acts on an app. */
export const StateRecord = Schema.Literal("in-flight", "hold", "last-good")
export type StateRecord = typeof StateRecord.Type

/**
 * A record that exists but does not decode (torn by a disk fault, edited by hand, written by a
 * newer version). Never read as "none": an unreadable in-flight record hides an unfinished upgrade
 * whose snapshot the next upgrade would replace. The app stops until a person has looked.
 */
export class StateUnreadable extends Schema.TaggedError<StateUnreadable>()("StateUnreadable", {
  app: Schema.String,
  record: StateRecord,
  /** Where the record is (a path for the live layer). */
  path: Schema.String,
  message: Schema.String
}) {}

/** The one message of a {@link StateUnreadable}, the same from both twins. */
export const unreadableMessage = (app: string, record: StateRecord, path: string, why: string): string =>
  `${path} is not a valid ${record} record (${why}): ${app} is left as it is until a person checks it; ` +
  `check the app by hand (abra app ps), then move the file aside`

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
  readonly lastGood: (app: string) => Effect.Effect<Option.Option<string>, StateError | StateUnreadable>
  /** Only ever called with a version that was seen healthy. */
  readonly setLastGood: (app: string, version: string) => Effect.Effect<void, StateError>
  readonly hold: (app: string) => Effect.Effect<Option.Option<HoldRecord>, StateError | StateUnreadable>
  readonly setHold: (app: string, hold: Option.Option<HoldRecord>) => Effect.Effect<void, StateError>
  readonly recordRun: (run: RunRecord) => Effect.Effect<void, StateError>
  readonly inFlight: (app: string) => Effect.Effect<Option.Option<InFlight>, StateError | StateUnreadable>
  /** Durable before it returns: the record must survive a power cut right after. */
  readonly setInFlight: (app: string, record: Option.Option<InFlight>) => Effect.Effect<void, StateError>
}>() {}
