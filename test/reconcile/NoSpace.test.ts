/**
 * The space check before the first destructive step: a snapshot that would not fit holds the
 * upgrade (`held-no-space`, both figures in the alert), nothing is undeployed, the alert is not
 * repeated for the same target, and once there is room the next run upgrades.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option, Ref } from "effect"
import * as Outcome from "../../src/domain/Outcome.js"
import { rehearse } from "../../src/simulation/Rehearsal.js"
import * as Scenarios from "../../src/simulation/Scenarios.js"
import { DATA_BEFORE, demoApp } from "../../src/simulation/Scenarios.js"
import * as World from "../../src/simulation/World.js"

const app = demoApp()
const FROM = "1.1.0+1.1"
const TO = "1.2.0+1.2"
/** What a first snapshot of the demo volume adds: every file. */
const VOLUME_BYTES = Object.values(DATA_BEFORE).reduce((n, text) => n + text.length, 0)

const setup = (diskFree: number): World.WorldSetup => ({
  recipes: { keycloak: { tags: [FROM, TO] } },
  apps: [Scenarios.running(FROM, app)],
  servers: ["default"],
  diskFree
})

describe("space check before the snapshot", () => {
  it.effect("too little space: held, both figures alerted, nothing undeployed or snapshotted", () =>
    Effect.gen(function*() {
      const r = yield* rehearse(app, setup(VOLUME_BYTES - 1))
      expect(r.outcome).toEqual(
        Outcome.Outcome["held-no-space"]({ from: FROM, to: TO, free: VOLUME_BYTES - 1, needed: VOLUME_BYTES })
      )
      expect(Outcome.format(r.outcome)).toBe(`held-no-space:${FROM}->${TO}`)
      expect(Outcome.exitCode(r.outcome)).toBe(0)
      const steps = r.world.trace.map((t) => t.step)
      expect(steps.filter((s) => ["undeploy", "snapshot-precopy", "snapshot", "deploy"].includes(s))).toEqual([])
      expect(Option.map(r.world.apps.get(app.name)!.deployment, (d) => d.version)).toEqual(Option.some(FROM))
      expect(r.world.snapshots.size).toBe(0)
      expect(r.world.inFlight.size).toBe(0)
      expect(r.world.alerts.map((a) => a.reason)).toEqual(["held-no-space"])
      expect(r.world.alerts[0]!.fields).toMatchObject({
        current: FROM,
        latest: TO,
        needed: `${VOLUME_BYTES} bytes`,
        free: `${VOLUME_BYTES - 1} bytes`
      })
    }))

  it.effect("the next run alerts no more while still short; with room it upgrades and clears the hold", () =>
    Effect.gen(function*() {
      const w = yield* World.make(setup(10))
      yield* rehearse(app, w)
      const again = yield* rehearse(app, w, { startMillis: 86_400_000 })
      expect(again.outcome._tag).toBe("held-no-space")
      expect(again.world.alerts.map((a) => a.reason)).toEqual(["held-no-space"])
      yield* Ref.update(w.state, (s) => ({ ...s, diskFree: VOLUME_BYTES }))
      const roomy = yield* rehearse(app, w, { startMillis: 2 * 86_400_000 })
      expect(Outcome.format(roomy.outcome)).toBe(`upgraded:${FROM}->${TO}`)
      expect(roomy.world.holds.size).toBe(0)
      expect(roomy.world.snapshots.get(app.name)?.version).toBe(FROM)
    }))
})
