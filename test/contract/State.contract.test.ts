/**
 * State, live (files under a temp state dir) and in memory: last-good, hold, in-flight record and
 * run history, each absent at first, then as written, per app; and the refusal of a version that
 * is not one word.
 */
import { NodeContext } from "@effect/platform-node"
import { expect } from "@effect/vitest"
import { Context, Effect, Option, Ref } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as LiveState from "../../src/live/State.js"
import { HoldRecord, InFlight, RunRecord, State } from "../../src/services/State.js"
import * as SimulatedState from "../../src/simulation/State.js"
import {
  contract,
  contractApp,
  failureOf,
  liveContext,
  realTime,
  simulatedWorld,
  type Twin,
  virtualTime
} from "./harness.js"

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

interface StateWorld {
  readonly state: State["Type"]
  /** The runs recorded for an app, oldest first. */
  readonly history: (app: string) => Effect.Effect<ReadonlyArray<RunRecord>>
}

const live: Twin<StateWorld> = {
  name: "live",
  run: realTime,
  world: Effect.gen(function*() {
    const stateDir = yield* Effect.acquireRelease(
      Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "contract-state-"))),
      (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
    )
    const context = yield* liveContext(LiveState.layer({ stateDir }))
    return {
      state: Context.get(context, State),
      history: (app) => LiveState.readHistory(stateDir, app).pipe(Effect.provide(NodeContext.layer), Effect.orDie)
    } satisfies StateWorld
  })
}

const simulated: Twin<StateWorld> = {
  name: "simulated",
  run: virtualTime,
  world: Effect.gen(function*() {
    const { context, world } = yield* simulatedWorld({
      recipes: {},
      apps: [{ spec: contractApp() }]
    }, SimulatedState.layerTest)
    return {
      state: Context.get(context, State),
      history: (app) => Effect.map(Ref.get(world.state), (s) => s.history.filter((r) => r.app === app))
    } satisfies StateWorld
  })
}

contract("State", [live, simulated], (test) => {
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
        const error = yield* failureOf(w.state.setLastGood(APP, bad))
        expect(error._tag).toBe("StateError")
        expect(error.message).toContain("a version is one word")
      }
      expect(yield* w.state.lastGood(APP)).toEqual(Option.some(v1))
    }))

  test("a hold is held as written until it is cleared; clearing none is fine", (w) =>
    Effect.gen(function*() {
      yield* w.state.setHold(APP, Option.none())
      yield* w.state.setHold(APP, Option.some(hold))
      expect(yield* w.state.hold(APP)).toEqual(Option.some(hold))
      expect(yield* w.state.hold(OTHER)).toEqual(Option.none())
      yield* w.state.setHold(APP, Option.none())
      expect(yield* w.state.hold(APP)).toEqual(Option.none())
    }))

  test("an in-flight record is held as written until it is removed; removing none is fine", (w) =>
    Effect.gen(function*() {
      yield* w.state.setInFlight(APP, Option.none())
      yield* w.state.setInFlight(APP, Option.some(inFlight))
      expect(yield* w.state.inFlight(APP)).toEqual(Option.some(inFlight))
      const advanced = new InFlight({ ...inFlight, phase: "health" })
      yield* w.state.setInFlight(APP, Option.some(advanced))
      expect(yield* w.state.inFlight(APP)).toEqual(Option.some(advanced))
      expect(yield* w.state.inFlight(OTHER)).toEqual(Option.none())
      yield* w.state.setInFlight(APP, Option.none())
      expect(yield* w.state.inFlight(APP)).toEqual(Option.none())
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
