/**
 * State: what warm-reconcile remembers between runs: the last version seen healthy, a hold already
 * alerted (so a nightly run does not repeat the same alert), and the history of runs.
 */
import type { Effect, Option } from "effect"
import { Context, Schema } from "effect"

export class StateError extends Schema.TaggedError<StateError>()("StateError", {
  message: Schema.String
}) {}

export class HoldRecord extends Schema.Class<HoldRecord>("HoldRecord")({
  reason: Schema.String,
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

export class State extends Context.Tag("warm-reconcile/State")<State, {
  readonly lastGood: (app: string) => Effect.Effect<Option.Option<string>, StateError>
  /** Only ever called with a version that was seen healthy. */
  readonly setLastGood: (app: string, version: string) => Effect.Effect<void, StateError>
  readonly hold: (app: string) => Effect.Effect<Option.Option<HoldRecord>, StateError>
  readonly setHold: (app: string, hold: Option.Option<HoldRecord>) => Effect.Effect<void, StateError>
  readonly recordRun: (run: RunRecord) => Effect.Effect<void, StateError>
}>() {}
