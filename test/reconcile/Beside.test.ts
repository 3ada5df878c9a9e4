/**
 * Living beside the people who run the server (issue 13), on the simulated world: an app with no
 * env file is not created unless its config says `create`; an app a person undeployed stays so
 * unless `keepDeployed`; an env file of another recipe is refused; a chaos deploy is held and left
 * untouched, alerted once per chaos version.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { AppConfig, type AppName, type AppSpec, appSpec } from "../../src/domain/Config.js"
import * as Outcome from "../../src/domain/Outcome.js"
import { rehearse } from "../../src/simulation/Rehearsal.js"
import * as Scenarios from "../../src/simulation/Scenarios.js"
import { demoApp } from "../../src/simulation/Scenarios.js"
import type { AppSetup, RecipeSpec, Step, WorldSetup, WorldState } from "../../src/simulation/World.js"
import * as World from "../../src/simulation/World.js"

/** A config's app: neither `create` nor `keepDeployed`, as the defaults are. */
const app = demoApp({ create: false, keepDeployed: false })
const TAGS: RecipeSpec = { tags: ["1.1.0+1.1", "1.2.0+1.2"] }

const world = (apps: ReadonlyArray<AppSetup>, recipe: RecipeSpec = TAGS, faults: WorldSetup["faults"] = []) => ({
  recipes: { keycloak: recipe },
  apps,
  servers: ["default"],
  faults
})

const steps = (state: WorldState): Array<Step> => state.trace.map((t) => t.step)
/** Steps that change something on the server or the recipe clone (`server` only looks up here: see below). */
const CHANGES: ReadonlyArray<Step> = [
  "fetch",
  "checkout",
  "app-new",
  "secrets-generate",
  "undeploy",
  "snapshot",
  "deploy",
  "restore"
]
const changes = (state: WorldState) => steps(state).filter((s) => CHANGES.includes(s))

/** Another app abra knows on the same server (the one the typo meant). */
const other = (domain: string, name = "realkc"): AppSetup =>
  Scenarios.running("1.1.0+1.1", appSpec(name as AppName, new AppConfig({ recipe: "keycloak", domain })))

const typo = (domain: string, more: Partial<ConstructorParameters<typeof AppConfig>[0]> = {}): AppSpec =>
  appSpec("keycloak" as AppName, new AppConfig({ recipe: "keycloak", domain, ...more }))

describe("an app with no env file is not created unless the config says create", () => {
  it.effect("a domain typo: exit 2, one line naming the expected path and the closest domain; nothing written", () =>
    Effect.gen(function*() {
      const spec = typo("id.exmaple.org")
      const r = yield* rehearse(
        spec,
        world([other("id.example.org"), other("cloud.example.org", "nc"), {
          spec,
          env: false
        }])
      )
      expect(r.mismatch?._tag).toBe("ConfigMismatch")
      expect(r.mismatch!.message).toBe(
        "keycloak: no env file at /root/.abra/servers/default/id.exmaple.org.env; did you mean id.example.org? " +
          "(set \"create\": true to create the app)"
      )
      expect(r.mismatch!.message).not.toContain("\n")
      expect(changes(r.world)).toEqual([])
      expect([...r.world.servers]).toEqual(["default"])
      // Not a run: nothing recorded, no alert.
      expect(r.world.history).toEqual([])
      expect(r.world.alerts).toEqual([])
      expect(Option.isNone(r.world.apps.get("keycloak")!.env)).toBe(true)
    }))

  it.effect("no domain close to it: says so instead of suggesting an unrelated one", () =>
    Effect.gen(function*() {
      const spec = typo("wiki.example.net")
      const r = yield* rehearse(spec, world([other("id.example.org"), { spec, env: false }]))
      expect(r.mismatch!.message).toContain("no domain on server default is close")
      expect(r.mismatch!.message).not.toContain("did you mean")
      expect(changes(r.world)).toEqual([])
    }))

  it.effect("the server is only looked up, never added, for an app the config does not let create", () =>
    Effect.gen(function*() {
      const r = yield* rehearse(app, { ...world([{ spec: app, env: false }]), servers: [] })
      expect(r.outcome._tag).toBe("failed")
      expect(r.world.servers.size).toBe(0)
      expect(changes(r.world)).toEqual([])
    }))

  it.effect("\"create\": true: app new, secrets and a fresh deploy, as the original did", () =>
    Effect.gen(function*() {
      const spec = typo("id.example.org", { create: true })
      const r = yield* rehearse(spec, { ...world([{ spec, env: false }]), servers: [] })
      expect(Outcome.format(r.outcome)).toBe("deployed-fresh:1.2.0+1.2")
      expect(changes(r.world)).toContain("app-new")
    }))

  it.effect("an env file of another recipe: exit 2 naming both recipes, nothing fetched or deployed", () =>
    Effect.gen(function*() {
      const r = yield* rehearse(
        app,
        world([Scenarios.running("1.1.0+1.1", app, { envRecipe: "nextcloud" })])
      )
      expect(r.mismatch?._tag).toBe("ConfigMismatch")
      expect(r.mismatch!.message).toContain("is for the recipe nextcloud, the config says keycloak")
      expect(changes(r.world)).toEqual([])
      expect(r.world.history).toEqual([])
    }))
})

describe("an app a person undeployed stays undeployed unless the config says keepDeployed", () => {
  it.effect("held-undeployed, exit 0, no alert; nothing fetched, created, generated or deployed", () =>
    Effect.gen(function*() {
      const r = yield* rehearse(
        app,
        world([{ spec: app, env: true, pinned: "1.1.0+1.1", secrets: ["admin_password_v1"], secretsGenerated: false }])
      )
      expect(Outcome.format(r.outcome)).toBe("held-undeployed:1.1.0+1.1")
      expect(Outcome.exitCode(r.outcome)).toBe(0)
      expect(r.world.alerts).toEqual([])
      expect(changes(r.world)).toEqual([])
      expect(r.world.holds.size).toBe(0)
      expect(r.world.history.map((h) => h.outcome)).toEqual(["held-undeployed"])
    }))

  it.effect("\"keepDeployed\": true: deployed, as before", () =>
    Effect.gen(function*() {
      const kept = demoApp({ create: false, keepDeployed: true })
      const r = yield* rehearse(kept, world([{ spec: kept, env: true, pinned: "1.1.0+1.1", volumes: {} }]))
      expect(Outcome.format(r.outcome)).toBe("deployed-fresh:1.1.0+1.1")
    }))

  it.effect("an upgrade killed halfway (undeployed for its snapshot) is still recovered first", () =>
    Effect.gen(function*() {
      const broken: RecipeSpec = { tags: ["1.1.0+1.1", "1.2.0+1.2"], releases: { "1.2.0+1.2": { health: "never" } } }
      const w = yield* World.make(
        world([Scenarios.running("1.1.0+1.1", app)], broken, [{ step: "deploy", kind: "crash", times: 1 }])
      )
      const killed = yield* rehearse(app, w)
      expect(killed.world.crashed).toBe(true)
      expect(Option.isNone(killed.world.apps.get(app.name)!.deployment)).toBe(true)
      expect(killed.world.inFlight.size).toBe(1)
      yield* World.restart(w)
      const next = yield* rehearse(app, w)
      expect(Outcome.format(next.outcome)).toBe("recovered:1.2.0+1.2->1.1.0+1.1")
      expect(Option.map(next.world.apps.get(app.name)!.deployment, (d) => d.version)).toEqual(
        Option.some("1.1.0+1.1")
      )
      // And the night after, it is an ordinary deployed app again (the release not retried yet: held).
      const after = yield* rehearse(app, w)
      expect(after.outcome._tag).not.toBe("held-undeployed")
    }))
})

describe("a chaos deploy is the operator's work in progress", () => {
  const chaos = (version: string) => Scenarios.running("1.1.0+1.1", app, { chaos: version })

  it.effect("held-chaos naming the chaos version, one alert saying how to resume; nothing touched", () =>
    Effect.gen(function*() {
      const w = yield* World.make(world([chaos("3f2a9c1+U")]))
      const before = yield* w.state.get
      const r = yield* rehearse(app, w)
      expect(Outcome.format(r.outcome)).toBe("held-chaos:3f2a9c1+U")
      expect(Outcome.exitCode(r.outcome)).toBe(0)
      expect(r.world.alerts.map((a) => a.reason)).toEqual(["held-chaos"])
      expect(r.world.alerts[0]!.fields).toMatchObject({ chaos_version: "3f2a9c1+U" })
      expect(String(r.world.alerts[0]!.fields["resume"])).toContain("abra app deploy id.example.org <version>")
      // Nothing undeployed, snapshotted, deployed, checked out, fetched or probed.
      expect(changes(r.world)).toEqual([])
      expect(steps(r.world)).not.toContain("health")
      const a = r.world.apps.get(app.name)!
      const b = before.apps.get(app.name)!
      expect(a.deployment).toEqual(b.deployment)
      expect(a.checkout).toEqual(b.checkout)
      expect(a.volumes).toEqual(b.volumes)
    }))

  it.effect("one alert per chaos version: the next night says nothing, a new chaos version alerts again", () =>
    Effect.gen(function*() {
      const w = yield* World.make(world([chaos("3f2a9c1")]))
      yield* rehearse(app, w)
      const again = yield* rehearse(app, w, { startMillis: 86_400_000 })
      expect(Outcome.format(again.outcome)).toBe("held-chaos:3f2a9c1")
      expect(again.world.alerts).toHaveLength(1)
      yield* w.updateApp(app.name, (a) => ({
        ...a,
        deployment: Option.map(a.deployment, (d) => ({ ...d, chaos: "77be0d2" }))
      }))
      const next = yield* rehearse(app, w, { startMillis: 2 * 86_400_000 })
      expect(Outcome.format(next.outcome)).toBe("held-chaos:77be0d2")
      expect(next.world.alerts.map((a) => a.fields["chaos_version"])).toEqual(["3f2a9c1", "77be0d2"])
    }))

  it.effect("held even when the chaos deploy is unhealthy or a major release is out: never redeployed", () =>
    Effect.gen(function*() {
      const r = yield* rehearse(
        app,
        world([Scenarios.running("1.1.0+1.1", app, { chaos: "deadbee", brokenUntilRedeploy: true })], {
          tags: ["1.1.0+1.1", "2.0.0+2.0"]
        })
      )
      expect(Outcome.format(r.outcome)).toBe("held-chaos:deadbee")
      expect(changes(r.world)).toEqual([])
    }))
})

describe("a dirty recipe clone is found before anything changes", () => {
  const dirty = " M compose.yml\n?? notes.txt"

  it.effect("failed with git's whole report, exit 1; nothing undeployed, snapshotted or deployed; no hold", () =>
    Effect.gen(function*() {
      const owned = demoApp()
      const r = yield* rehearse(
        owned,
        world([Scenarios.running("1.1.0+1.1", owned)], { ...TAGS, localChanges: dirty })
      )
      expect(r.outcome._tag).toBe("failed")
      expect(Outcome.exitCode(r.outcome)).toBe(1)
      const reason = (r.outcome as Extract<Outcome.Outcome, { _tag: "failed" }>).reason
      expect(reason).toContain("M compose.yml; ?? notes.txt")
      expect(changes(r.world).filter((s) => s !== "fetch")).toEqual([])
      expect(r.world.holds.size).toBe(0)
      expect(r.world.inFlight.size).toBe(0)
      expect(r.world.alerts).toEqual([])
      expect(Option.map(r.world.apps.get(owned.name)!.deployment, (d) => d.version)).toEqual(Option.some("1.1.0+1.1"))
    }))

  it.effect("a clean clone is not in the way; a hold does not look at the clone at all", () =>
    Effect.gen(function*() {
      const owned = demoApp()
      const clean = yield* rehearse(owned, world([Scenarios.running("1.1.0+1.1", owned)]))
      expect(clean.outcome._tag).toBe("upgraded")
      const held = yield* rehearse(
        owned,
        world([Scenarios.running("1.1.0+1.1", owned)], { tags: ["1.1.0+1.1", "2.0.0+2.0"], localChanges: dirty })
      )
      expect(held.outcome._tag).toBe("held-major")
      expect(steps(held.world)).not.toContain("clone-status")
    }))
})

describe("only a failed release is held as failed", () => {
  const owned = demoApp()
  const recipe: RecipeSpec = { tags: ["1.1.0+1.1", "1.2.0+1.2"] }

  // Which occurrence of the step belongs to the upgrade (the first last-good and in-flight writes come before).
  const LOCAL = [["checkout", 0], ["snapshot", 0], ["last-good-write", 1], ["in-flight-write", 1]] as const
  for (const [step, after] of LOCAL) {
    it.effect(`a local step failing (${step}) rolls back without holding the release; the next run upgrades`, () =>
      Effect.gen(function*() {
        const w = yield* World.make(
          world([Scenarios.running("1.1.0+1.1", owned)], recipe, [{ step, kind: "fail", after, times: 1 }])
        )
        const first = yield* rehearse(owned, w)
        expect(first.outcome._tag).not.toBe("upgraded")
        expect(first.world.holds.has(owned.name)).toBe(false)
        yield* World.restart(w)
        const next = yield* rehearse(owned, w, { startMillis: 86_400_000 })
        expect(Outcome.format(next.outcome)).toBe("upgraded:1.1.0+1.1->1.2.0+1.2")
      }))
  }

  it.effect("a failed deploy of the release holds it", () =>
    Effect.gen(function*() {
      const r = yield* rehearse(
        owned,
        world([Scenarios.running("1.1.0+1.1", owned)], recipe, [{ step: "deploy", kind: "fail", version: "1.2.0+1.2" }])
      )
      expect(Outcome.format(r.outcome)).toBe("rolled-back:1.2.0+1.2->1.1.0+1.1")
      expect(r.world.holds.get(owned.name)).toMatchObject({ reason: "held-failed-release", to: "1.2.0+1.2" })
    }))
})
