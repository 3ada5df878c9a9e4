/**
 * A paused app (`"enabled": false`, issue 13) on the simulated world: whatever the world holds (a
 * newer release, a chaos deploy, an undeployed app, an unfinished upgrade) and whatever would fail,
 * the run ends `paused` (exit 0) and touches nothing: no step at all, no history, no alert.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { AppConfig, type AppName, appSpec } from "../../src/domain/Config.js"
import * as Outcome from "../../src/domain/Outcome.js"
import { rehearse } from "../../src/simulation/Rehearsal.js"
import * as Scenarios from "../../src/simulation/Scenarios.js"
import type { AppSetup, Fault } from "../../src/simulation/World.js"

const paused = appSpec(
  "keycloak" as AppName,
  new AppConfig({ recipe: "keycloak", domain: "id.example.org", enabled: false })
)
const recipes = { keycloak: { tags: ["1.1.0+1.1", "1.2.0+1.2", "2.0.0+2.0"] } }

const worlds: ReadonlyArray<readonly [string, AppSetup]> = [
  ["a newer release", Scenarios.running("1.1.0+1.1", paused)],
  ["a chaos deploy", Scenarios.running("1.1.0+1.1", paused, { chaos: "3f2a9c1+U" })],
  ["undeployed by hand", { spec: paused, env: true, pinned: "1.1.0+1.1" }],
  ["no env file", { spec: paused, env: false }]
]
const faults: ReadonlyArray<ReadonlyArray<Fault>> = [
  [],
  [{ step: "any", kind: "fail" }],
  [{ step: "any", kind: "crash" }],
  [{ step: "deploy", kind: "hang" }]
]

describe("a paused app", () => {
  it.effect("ends paused, exit 0, and touches nothing, whatever the world holds and whatever fails", () =>
    Effect.gen(function*() {
      for (const [name, setup] of worlds) {
        for (const f of faults) {
          const r = yield* rehearse(paused, { recipes, apps: [setup], servers: ["default"], faults: f })
          const label = `${name}, faults ${JSON.stringify(f)}`
          expect(Outcome.format(r.outcome), label).toBe("paused:enabled=false")
          expect(Outcome.exitCode(r.outcome), label).toBe(0)
          expect(r.world.trace, label).toEqual([])
          expect(r.world.history, label).toEqual([])
          expect(r.world.alerts, label).toEqual([])
        }
      }
    }))
})
