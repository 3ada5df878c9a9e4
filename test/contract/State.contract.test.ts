/**
 * State, live (files under a temp state dir) and in memory: last-good, hold, in-flight record and
 * run history, each absent at first, then as written, per app; and the refusal of a version that
 * is not one word.
 */
import { NodeContext } from "@effect/platform-node"
import { expect } from "@effect/vitest"
import { Context, Effect, Option, Ref } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as LiveState from "../../src/live/State.js"
import {
  HoldRecord,
  InFlight,
  RunRecord,
  State,
  type StateError,
  type StateRecord,
  type StateUnreadable
} from "../../src/services/State.js"
import * as SimulatedState from "../../src/simulation/State.js"
import * as Contract from "./harness.js"

const APP = "keycloak"
const OTHER = "wiki"
const [v1, v2] = ["1.1.0+1.1", "1.2.0+1.2"]

const hold = new HoldRecord({ reason: "held-major", from: v1, to: "2.0.0+2.0", ts: "2026-11-25T20:15:35.000Z" })
const inFlight = new InFlight({
  from: v1,
  to: v2,
  fromHealthy: true,
  snapshot: v1,
  phase: "deploy",
  pid: 4242,
  startedAt: "2026-11-25T20:15:35.000Z"
})
const run = (outcome: string, detail = "") =>
  new RunRecord({
    app: APP,
    outcome,
    detail,
    startedAt: "2026-11-25T20:15:35.000Z",
    endedAt: "2026-11-25T20:16:00.000Z",
    interrupted: false
  })

/** A per-app record: none, each of `values` as written in turn (only for APP), none again once cleared. */
const heldUntilCleared = <A, E>(
  read: (app: string) => Effect.Effect<Option.Option<A>, E>,
  write: (app: string, value: Option.Option<A>) => Effect.Effect<void, E>,
  values: ReadonlyArray<A>
) =>
  Effect.gen(function*() {
    yield* write(APP, Option.none())
    for (const value of values) {
      yield* write(APP, Option.some(value))
      expect(yield* read(APP)).toEqual(Option.some(value))
      expect(yield* read(OTHER)).toEqual(Option.none())
    }
    yield* write(APP, Option.none())
    expect(yield* read(APP)).toEqual(Option.none())
  })

interface StateWorld {
  readonly state: State["Type"]
  /** The runs recorded for an app, oldest first. */
  readonly history: (app: string) => Effect.Effect<ReadonlyArray<RunRecord>>
  /** The app's `record` exists but does not decode (torn, or edited by hand). */
  readonly corrupt: (app: string, record: StateRecord) => Effect.Effect<void>
}

/** The live layer's files, and what a torn or hand-edited one holds. */
const CORRUPT: Record<StateRecord, { readonly file: string; readonly text: string }> = {
  "in-flight": { file: "in-flight.json", text: "{\"from\": \"1.1.0+1.1\", \"pha" },
  hold: { file: "hold.json", text: "{\"reason\": \"held-sideways\"}" },
  "last-good": { file: "last_good", text: "1.1.0+1.1 $(reboot)" }
}

const liveTwin = Contract.live<StateWorld>(Effect.gen(function*() {
  const stateDir = yield* Contract.scratchDir("contract-state-")
  const context = yield* Contract.layerContext(LiveState.layer({ stateDir }))
  return {
    state: Context.get(context, State),
    history: (app) => LiveState.readHistory(stateDir, app).pipe(Effect.provide(NodeContext.layer), Effect.orDie),
    corrupt: (app, record) =>
      Effect.sync(() => {
        Fs.mkdirSync(Path.join(stateDir, app), { recursive: true, mode: 0o700 })
        Fs.writeFileSync(Path.join(stateDir, app, CORRUPT[record].file), CORRUPT[record].text, { mode: 0o600 })
      })
  } satisfies StateWorld
}))

const simulatedTwin = Contract.simulated<StateWorld>(Effect.gen(function*() {
  const { context, world } = yield* Contract.simulatedWorld(Contract.appOnly, SimulatedState.layerTest)
  return {
    state: Context.get(context, State),
    history: (app) => Effect.map(Ref.get(world.state), (s) => s.history.filter((r) => r.app === app)),
    corrupt: (app, record) =>
      Ref.update(world.state, (s) => ({
        ...s,
        unreadable: new Map([...s.unreadable, [app, new Set([...s.unreadable.get(app) ?? [], record])]])
      }))
  } satisfies StateWorld
}))

Contract.suite("State", [liveTwin, simulatedTwin], (test) => {
  test("a new app has no last-good, no hold, no in-flight record and no history", (w) =>
    Effect.gen(function*() {
      expect(yield* w.state.lastGood(APP)).toEqual(Option.none())
      expect(yield* w.state.hold(APP)).toEqual(Option.none())
      expect(yield* w.state.inFlight(APP)).toEqual(Option.none())
      expect(yield* w.history(APP)).toEqual([])
    }))

  test("lastGood answers the last version set, per app", (w) =>
    Effect.gen(function*() {
      yield* w.state.setLastGood(APP, v1)
      expect(yield* w.state.lastGood(APP)).toEqual(Option.some(v1))
      yield* w.state.setLastGood(APP, v2)
      expect(yield* w.state.lastGood(APP)).toEqual(Option.some(v2))
      expect(yield* w.state.lastGood(OTHER)).toEqual(Option.none())
    }))

  test("setLastGood of something that is not one word fails and keeps the last-good", (w) =>
    Effect.gen(function*() {
      yield* w.state.setLastGood(APP, v1)
      for (const bad of ["", "1.2.0 +1.2", "1.2.0\n"]) {
        const error = yield* Contract.failureOf(w.state.setLastGood(APP, bad))
        expect(error._tag).toBe("StateError")
        expect(error.message).toContain("a version is one word")
      }
      expect(yield* w.state.lastGood(APP)).toEqual(Option.some(v1))
    }))

  test("a hold is held as written until it is cleared; clearing none is fine", (w) =>
    heldUntilCleared(w.state.hold, w.state.setHold, [hold]))

  test("an in-flight record is held as written until it is removed; removing none is fine", (w) =>
    heldUntilCleared(w.state.inFlight, w.state.setInFlight, [inFlight, new InFlight({ ...inFlight, phase: "health" })]))

  test("a record that exists but does not decode is StateUnreadable, per app, until it is written", (w) =>
    Effect.gen(function*() {
      const reads: Record<
        StateRecord,
        (app: string) => Effect.Effect<Option.Option<unknown>, StateError | StateUnreadable>
      > = {
        "in-flight": w.state.inFlight,
        hold: w.state.hold,
        "last-good": w.state.lastGood
      }
      for (const record of ["in-flight", "hold", "last-good"] as const) {
        yield* w.corrupt(APP, record)
        const error = yield* Contract.failureOf(reads[record](APP))
        expect(error._tag).toBe("StateUnreadable")
        if (error._tag !== "StateUnreadable") continue
        expect([error.app, error.record]).toEqual([APP, record])
        expect(error.path.endsWith(`${APP}/${CORRUPT[record].file}`)).toBe(true)
        expect(error.message).toContain(`${error.path} is not a valid ${record} record (`)
        expect(error.message).toContain("then move the file aside")
        // Another app's records are not touched by it.
        expect(yield* reads[record](OTHER)).toEqual(Option.none())
      }
      // Writing a record replaces what did not decode.
      yield* w.state.setInFlight(APP, Option.some(inFlight))
      yield* w.state.setHold(APP, Option.none())
      yield* w.state.setLastGood(APP, v2)
      expect(yield* w.state.inFlight(APP)).toEqual(Option.some(inFlight))
      expect(yield* w.state.hold(APP)).toEqual(Option.none())
      expect(yield* w.state.lastGood(APP)).toEqual(Option.some(v2))
    }))

  test("recordRun appends to the app's history, oldest first", (w) =>
    Effect.gen(function*() {
      const first = run("upgraded")
      const second = run("failed", "recipe keycloak: fetch failed")
      yield* w.state.recordRun(first)
      yield* w.state.recordRun(second)
      expect(yield* w.history(APP)).toEqual([first, second])
      expect(yield* w.history(OTHER)).toEqual([])
    }))
})
