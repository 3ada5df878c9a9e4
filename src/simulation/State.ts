/** In-memory State over the simulated world. */
import { Effect, Layer, Option, Ref } from "effect"
import { State, StateError, type StateRecord, StateUnreadable, unreadableMessage } from "../services/State.js"
import { SimulatedWorld, type WorldState } from "./World.js"

/** The live layer's file names, so that messages read the same from both twins. */
const FILE: Record<StateRecord, string> = { "in-flight": "in-flight.json", hold: "hold.json", "last-good": "last_good" }

/** In-memory state, kept in the simulated world. */
export const layerTest: Layer.Layer<State, never, SimulatedWorld> = Layer.effect(
  State,
  Effect.gen(function*() {
    const world = yield* SimulatedWorld
    const fail = Effect.mapError((fault: { message: string }) => new StateError({ message: fault.message }))
    /** Read `record` of `app`: a record marked unreadable fails as the live layer's undecodable file. */
    const read = <A>(app: string, record: StateRecord, value: (s: WorldState) => A | undefined) =>
      Effect.flatMap(Ref.get(world.state), (s) => {
        if (!s.unreadable.get(app)?.has(record)) return Effect.succeed(Option.fromNullable(value(s)))
        const path = `state/${app}/${FILE[record]}`
        return new StateUnreadable({
          app,
          record,
          path,
          message: unreadableMessage(app, record, path, "simulated: does not decode")
        })
      })
    /** A write replaces the file: the record is readable again. */
    const readable = (s: WorldState, app: string, record: StateRecord): WorldState["unreadable"] => {
      const marked = s.unreadable.get(app)
      if (!marked?.has(record)) return s.unreadable
      const rest = new Set(marked)
      rest.delete(record)
      return new Map([...s.unreadable, [app, rest]])
    }
    return State.of({
      lastGood: (app) =>
        world.step("last-good-read", app, "read last_good").pipe(
          fail,
          Effect.zipRight(read(app, "last-good", (s) => s.lastGood.get(app)))
        ),
      setLastGood: (app, version) =>
        world.step("last-good-write", app, `last_good := ${version}`, version).pipe(
          fail,
          // As the live layer: a version is one word, anything else is the caller's bug.
          Effect.zipRight(
            version === "" || /\s/.test(version)
              ? new StateError({
                message: `refusing to record ${JSON.stringify(version)} as the last good version of ${app}: ` +
                  "a version is one word; this is a bug in the caller"
              })
              : Effect.void
          ),
          Effect.zipRight(
            Ref.update(world.state, (s) => ({
              ...s,
              lastGood: new Map([...s.lastGood, [app, version]]),
              unreadable: readable(s, app, "last-good")
            }))
          )
        ),
      hold: (app) =>
        world.step("hold-read", app, "read hold").pipe(
          fail,
          Effect.zipRight(read(app, "hold", (s) => s.holds.get(app)))
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
              return { ...s, holds, unreadable: readable(s, app, "hold") }
            }))
          ),
      inFlight: (app) =>
        world.step("in-flight-read", app, "read in-flight.json").pipe(
          fail,
          Effect.zipRight(read(app, "in-flight", (s) => s.inFlight.get(app)))
        ),
      setInFlight: (app, record) =>
        world.step(
          "in-flight-write",
          app,
          Option.match(record, {
            onNone: () => "clear in-flight",
            onSome: (r) => `in-flight ${r.phase} ${r.from}->${r.to}`
          })
        ).pipe(
          fail,
          Effect.zipRight(Ref.update(world.state, (s) => {
            const inFlight = new Map(s.inFlight)
            Option.match(record, { onNone: () => inFlight.delete(app), onSome: (r) => inFlight.set(app, r) })
            return { ...s, inFlight, unreadable: readable(s, app, "in-flight") }
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
