/**
 * Alerts, live (one JSON file per alert in a temp state dir) and in memory: a written alert is
 * held as written, and two of the same app, reason and second are two, not one.
 */
import { expect } from "@effect/vitest"
import { Context, Effect, Either, Ref } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { Alert, ALERT_SCHEMA_VERSION } from "../../src/domain/Alert.js"
import * as LiveAlerts from "../../src/live/Alerts.js"
import { Alerts } from "../../src/services/Alerts.js"
import * as SimulatedAlerts from "../../src/simulation/Alerts.js"
import * as Contract from "./harness.js"

const TS = "20261125T201535Z"
const rollback = new Alert({
  schemaVersion: ALERT_SCHEMA_VERSION,
  app: "keycloak",
  reason: "rollback",
  ts: TS,
  fields: { last_good: "1.1.0+1.1", attempted: "1.2.0+1.2", recovered: true, release_notes: "Keycloak 1.2.\n" }
})
const heldMajor = new Alert({
  schemaVersion: ALERT_SCHEMA_VERSION,
  app: "keycloak",
  reason: "held-major",
  ts: TS,
  fields: { from: "1.1.0+1.1", to: "2.0.0+2.0" }
})

interface AlertsWorld {
  readonly alerts: Alerts["Type"]
  /** The alerts the world holds for a person to read. */
  readonly held: Effect.Effect<ReadonlyArray<Alert>>
  /** The id in what `write` answered: a file name without `.json`, or the id itself. */
  readonly idOf: (where: string) => string
}

const liveTwin = Contract.live<AlertsWorld>(Effect.gen(function*() {
  const stateDir = yield* Contract.scratchDir("contract-alerts-")
  const context = yield* Contract.layerContext(LiveAlerts.layer({ stateDir }))
  const dir = LiveAlerts.alertsDir(stateDir)
  return {
    alerts: Context.get(context, Alerts),
    held: Effect.sync(() =>
      (Fs.existsSync(dir) ? Fs.readdirSync(dir).filter((f) => f.endsWith(".json")) : []).map((f) =>
        Either.getOrThrow(LiveAlerts.decode(Fs.readFileSync(Path.join(dir, f), "utf8")))
      )
    ),
    idOf: (where) => {
      expect(Path.dirname(where)).toBe(dir)
      return Path.basename(where, ".json")
    }
  } satisfies AlertsWorld
}))

const simulatedTwin = Contract.simulated<AlertsWorld>(Effect.gen(function*() {
  const { context, world } = yield* Contract.simulatedWorld(Contract.appOnly, SimulatedAlerts.layerTest)
  return {
    alerts: Context.get(context, Alerts),
    held: Effect.map(Ref.get(world.state), (s) => s.alerts),
    idOf: (where) => where
  } satisfies AlertsWorld
}))

Contract.suite("Alerts", [liveTwin, simulatedTwin], (test) => {
  test("no alert is held before one is written", (w) =>
    Effect.gen(function*() {
      expect(yield* w.held).toEqual([])
    }))

  test("write holds the alert as written and answers where it went", (w) =>
    Effect.gen(function*() {
      const where = yield* w.alerts.write(rollback)
      expect(w.idOf(where)).toBe(`${TS}-keycloak-rollback`)
      expect(yield* w.held).toEqual([rollback])
    }))

  test("two alerts of the same app, reason and second are both held, in two places", (w) =>
    Effect.gen(function*() {
      const first = yield* w.alerts.write(rollback)
      const second = yield* w.alerts.write(rollback)
      const other = yield* w.alerts.write(heldMajor)
      expect([first, second, other].map(w.idOf)).toEqual([
        `${TS}-keycloak-rollback`,
        `${TS}-keycloak-rollback-2`,
        `${TS}-keycloak-held-major`
      ])
      const held = yield* w.held
      expect(held).toHaveLength(3)
      expect(held.filter((a) => a.reason === "rollback")).toEqual([rollback, rollback])
      expect(held).toContainEqual(heldMajor)
    }))
})
