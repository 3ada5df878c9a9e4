/**
 * State: what warm-reconcile remembers between runs: the last version seen healthy, a hold already
 * alerted (so a nightly run does not repeat the same alert), and the history of runs.
 */
import { Context, Effect, Layer, Option, Ref, Schema } from "effect"
import { SimulatedWorld } from "../simulation/World.js"

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

/** In-memory state, kept in the simulated world. */
export const layerTest: Layer.Layer<State, never, SimulatedWorld> = Layer.effect(
  State,
  Effect.gen(function*() {
    const world = yield* SimulatedWorld
    const fail = Effect.mapError((fault: { message: string }) => new StateError({ message: fault.message }))
    return State.of({
      lastGood: (app) =>
        world.step("last-good-read", app, "read last_good").pipe(
          fail,
          Effect.zipRight(Ref.get(world.state)),
          Effect.map((s) => Option.fromNullable(s.lastGood.get(app)))
        ),
      setLastGood: (app, version) =>
        world.step("last-good-write", app, `last_good := ${version}`, version).pipe(
          fail,
          Effect.zipRight(
            Ref.update(world.state, (s) => ({ ...s, lastGood: new Map([...s.lastGood, [app, version]]) }))
          )
        ),
      hold: (app) =>
        world.step("hold-read", app, "read hold").pipe(
          fail,
          Effect.zipRight(Ref.get(world.state)),
          Effect.map((s) => Option.fromNullable(s.holds.get(app)))
        ),
      setHold: (app, hold) =>
        world.step(
          "hold-write",
          app,
          Option.match(hold, { onNone: () => "clear hold", onSome: (h) => `hold ${h.reason} ${h.to}` })
        )
          .pipe(
            fail,
            Effect.zipRight(Ref.update(world.state, (s) => {
              const holds = new Map(s.holds)
              Option.match(hold, { onNone: () => holds.delete(app), onSome: (h) => holds.set(app, h) })
              return { ...s, holds }
            }))
          ),
      recordRun: (run) =>
        world.step("history", run.app, `history += ${run.outcome}`).pipe(
          fail,
          Effect.zipRight(Ref.update(world.state, (s) => ({ ...s, history: [...s.history, run] })))
        )
    })
  })
)
