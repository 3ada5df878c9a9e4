/**
 * Maintenance windows on the simulated world and the virtual clock: outside the window a run
 * changes nothing (it fetches and reads, holds and alerts); inside it the upgrade runs; too late
 * in the window for an upgrade and its rollback to end, none is started.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { AppConfig, type AppSpec, configuredApp, decodeConfig } from "../../src/domain/Config.js"
import * as Outcome from "../../src/domain/Outcome.js"
import { rehearse } from "../../src/simulation/Rehearsal.js"
import * as Scenarios from "../../src/simulation/Scenarios.js"
import type { AppSetup, RecipeSpec, Step, WorldState } from "../../src/simulation/World.js"

/** The demo keycloak with a window of 02:00-05:00 (UTC in these tests). */
const inWindow = (window: string | ReadonlyArray<string> = "02:00-05:00", base = Scenarios.demoApp()): AppSpec => ({
  ...base,
  window: window as AppConfig["window"]
})
const world = (apps: ReadonlyArray<AppSetup>, recipe: RecipeSpec = { tags: ["1.1.0+1.1", "1.2.0+1.2"] }) => ({
  recipes: { keycloak: recipe },
  apps,
  servers: ["default"],
  faults: []
})
/** Every step that changes the server, the app or its data (a recipe fetch only updates the clone). */
const CHANGES = new Set<Step>(["checkout", "app-new", "secrets-generate", "undeploy", "snapshot", "deploy", "restore"])
const changes = (state: WorldState) => state.trace.map((t) => t.step).filter((s) => CHANGES.has(s))
const at = (iso: string) => ({ startMillis: Date.parse(iso), timeZone: "UTC" })

describe("a run outside the maintenance window changes nothing", () => {
  it.effect("an upgrade waits: held-window, exit 0, no change, no alert, the app still on 1.1", () =>
    Effect.gen(function*() {
      const app = inWindow()
      const r = yield* rehearse(app, world([Scenarios.running("1.1.0+1.1", app)]), at("2026-06-01T12:00:00Z"))
      expect(r.outcome._tag).toBe("held-window")
      expect(Outcome.format(r.outcome)).toBe("held-window:1.1.0+1.1->1.2.0+1.2")
      expect((r.outcome as Extract<Outcome.Outcome, { _tag: "held-window" }>).reason).toBe(
        "outside the maintenance window: upgrade 1.1.0+1.1 -> 1.2.0+1.2 waits; " +
          "the next window opens Tue 2026-06-02 02:00 (UTC)"
      )
      expect(Outcome.exitCode(r.outcome)).toBe(0)
      expect(changes(r.world)).toEqual([])
      expect(r.world.alerts).toEqual([])
      expect(Option.map(r.world.apps.get("keycloak")!.deployment, (d) => d.version)).toEqual(Option.some("1.1.0+1.1"))
      expect(r.world.history.map((h) => h.outcome)).toEqual(["held-window"])
    }))

  it.effect("an app to create is neither created nor given secrets outside the window", () =>
    Effect.gen(function*() {
      const app = inWindow()
      const r = yield* rehearse(app, world([{ spec: app, env: false }]), at("2026-06-01T12:00:00Z"))
      expect(Outcome.format(r.outcome)).toBe("held-window:undeployed->1.2.0+1.2")
      expect(changes(r.world)).toEqual([])
      expect(Option.isNone(r.world.apps.get("keycloak")!.env)).toBe(true)
    }))

  it.effect("a hold is still held and alerted outside the window: a major waits for a person, not a window", () =>
    Effect.gen(function*() {
      const app = inWindow()
      const r = yield* rehearse(
        app,
        world([Scenarios.running("1.1.0+1.1", app)], { tags: ["1.1.0+1.1", "2.0.0+2.0"] }),
        at("2026-06-01T12:00:00Z")
      )
      expect(r.outcome._tag).toBe("held-major")
      expect(r.world.alerts.map((a) => a.reason)).toEqual(["held-major"])
      expect(changes(r.world)).toEqual([])
    }))
})

describe("inside the window", () => {
  it.effect("with time for the upgrade and a rollback: upgraded", () =>
    Effect.gen(function*() {
      const app = inWindow()
      const r = yield* rehearse(app, world([Scenarios.running("1.1.0+1.1", app)]), at("2026-06-01T02:00:00Z"))
      expect(Outcome.format(r.outcome)).toBe("upgraded:1.1.0+1.1->1.2.0+1.2")
    }))

  it.effect("too late for the upgrade and a rollback (2 x (15 min deploy + 15 min health)): not started", () =>
    Effect.gen(function*() {
      const app = inWindow()
      const r = yield* rehearse(app, world([Scenarios.running("1.1.0+1.1", app)]), at("2026-06-01T04:01:00Z"))
      expect(r.outcome._tag).toBe("held-window")
      const reason = (r.outcome as Extract<Outcome.Outcome, { _tag: "held-window" }>).reason
      expect(reason).toContain("the maintenance window closes Mon 2026-06-01 05:00 (UTC)")
      expect(reason).toContain("up to 1h")
      expect(changes(r.world)).toEqual([])
      // At 04:00 there is just time.
      const early = yield* rehearse(app, world([Scenarios.running("1.1.0+1.1", app)]), at("2026-06-01T04:00:00Z"))
      expect(early.outcome._tag).toBe("upgraded")
    }))

  it.effect("a window past midnight on given days only: Saturday 01:00 is Friday's window", () =>
    Effect.gen(function*() {
      const app = inWindow("Fri 22:00-04:00")
      const sat = yield* rehearse(app, world([Scenarios.running("1.1.0+1.1", app)]), at("2026-06-06T01:00:00Z"))
      expect(sat.outcome._tag).toBe("upgraded")
      const sun = yield* rehearse(app, world([Scenarios.running("1.1.0+1.1", app)]), at("2026-06-07T01:00:00Z"))
      expect(sun.outcome._tag).toBe("held-window")
    }))
})

describe("the config: a global window, replaced per app", () => {
  it("an app without its own window takes the global one; its own replaces it", () => {
    const config = Effect.runSync(decodeConfig({
      window: ["02:00-05:00", "Sun 10:00-12:00"],
      apps: {
        kc: { recipe: "keycloak", domain: "id.example.org" },
        wiki: { recipe: "mediawiki", domain: "wiki.example.org", window: "00:00-24:00" }
      }
    }))
    expect(configuredApp(config, "kc" as never).window).toEqual(["02:00-05:00", "Sun 10:00-12:00"])
    expect(configuredApp(config, "wiki" as never).window).toBe("00:00-24:00")
    expect(new AppConfig({ recipe: "keycloak", domain: "id.example.org" }).window).toBeUndefined()
  })

  it("a bad window is a config error naming the key", () => {
    const result = Effect.runSync(Effect.either(decodeConfig({
      apps: { kc: { recipe: "keycloak", domain: "id.example.org", window: "2am-5am" } }
    })))
    expect(result._tag).toBe("Left")
    if (result._tag === "Left") {
      expect(result.left.message).toContain("apps.kc.window")
      expect(result.left.message).toContain("expected a window such as \"02:00-05:00\"")
    }
  })
})
