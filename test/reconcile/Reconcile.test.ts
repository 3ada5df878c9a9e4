import { describe, expect, it } from "@effect/vitest"
import { Effect, Option, Ref } from "effect"
import * as Outcome from "../../src/domain/Outcome.js"
import { rehearse } from "../../src/simulation/Rehearsal.js"
import * as Scenarios from "../../src/simulation/Scenarios.js"
import { DATA_BEFORE, demoApp, migrateTo12, scenarios } from "../../src/simulation/Scenarios.js"
import type { AppSetup, RecipeSpec, Step, TraceEntry, WorldSetup, WorldState } from "../../src/simulation/World.js"
import * as World from "../../src/simulation/World.js"

const app = demoApp()

const running = (version: string, more: Partial<AppSetup> = {}): AppSetup => Scenarios.running(version, app, more)

const world = (setup: AppSetup, recipe: RecipeSpec, faults: WorldSetup["faults"] = []): WorldSetup => ({
  recipes: { keycloak: recipe },
  apps: [setup],
  servers: ["default"],
  faults
})

const steps = (state: WorldState): Array<Step> => state.trace.map((t) => t.step)
const first = (state: WorldState, step: Step, detail?: string): TraceEntry | undefined =>
  state.trace.find((t) => t.step === step && (detail === undefined || t.detail.includes(detail)))
const volume = (state: WorldState, name = "data") =>
  Object.fromEntries(state.apps.get(app.name)?.volumes.get(name) ?? new Map())
const deployedVersion = (state: WorldState) => Option.map(state.apps.get(app.name)!.deployment, (d) => d.version)

const broken = (tags = ["1.1.0+1.1", "1.2.0+1.2"]): RecipeSpec => ({
  tags,
  releases: { "1.2.0+1.2": { health: "never", migrate: migrateTo12 } }
})

describe("every scenario reaches its outcome", () => {
  for (const scenario of scenarios) {
    it.effect(`${scenario.name}: ${scenario.expect}`, () =>
      Effect.gen(function*() {
        const r = yield* rehearse(scenario.app, scenario.setup, {
          ...(scenario.interruptAfter ? { interruptAfter: scenario.interruptAfter } : {})
        })
        expect(r.outcome._tag).toBe(scenario.expect)
        // Every scenario ends with the run recorded in the history.
        expect(r.world.history.map((h) => h.outcome)).toEqual([scenario.expect])
      }))
  }
})

describe("upgrade and rollback", () => {
  it.effect("a healthy minor upgrade commits last-good only after the health gate passed", () =>
    Effect.gen(function*() {
      const r = yield* rehearse(app, world(running("1.0.0+1.0"), { tags: ["1.0.0+1.0", "1.1.0+1.1"] }))
      expect(Outcome.format(r.outcome)).toBe("upgraded:1.0.0+1.0->1.1.0+1.1")
      expect(r.world.lastGood.get(app.name)).toBe("1.1.0+1.1")
      expect(deployedVersion(r.world)).toEqual(Option.some("1.1.0+1.1"))
      const commit = r.world.trace.findIndex((t) => t.step === "last-good-write" && t.detail.includes("1.1.0+1.1"))
      const lastProbe = r.world.trace.findLastIndex((t) => t.step === "health")
      expect(commit).toBeGreaterThan(lastProbe)
      // Stateful: undeploy and snapshot come before the deploy of the target.
      const order = steps(r.world).filter((s) => ["undeploy", "snapshot", "deploy"].includes(s))
      expect(order).toEqual(["undeploy", "snapshot", "deploy"])
      expect(r.world.alerts).toHaveLength(0)
    }))

  it.effect("a release that corrupts the volume and fails: the volume equals its pre-upgrade content byte for byte", () =>
    Effect.gen(function*() {
      const r = yield* rehearse(app, world(running("1.1.0+1.1"), broken()))
      expect(Outcome.format(r.outcome)).toBe("rolled-back:1.2.0+1.2->1.1.0+1.1")
      expect(volume(r.world)).toEqual(DATA_BEFORE)
      expect(deployedVersion(r.world)).toEqual(Option.some("1.1.0+1.1"))
      expect(r.world.lastGood.get(app.name)).toBe("1.1.0+1.1")
      expect(r.world.alerts.map((a) => a.reason)).toEqual(["rollback"])
      expect(r.world.alerts[0]!.fields).toMatchObject({
        last_good: "1.1.0+1.1",
        attempted: "1.2.0+1.2",
        recovered: true
      })
      // The migration really happened before the restore (so the restore is what brought the data back).
      const s = steps(r.world)
      expect(s.indexOf("restore")).toBeGreaterThan(s.indexOf("deploy"))
      expect(Outcome.exitCode(r.outcome)).toBe(0)
    }))

  it.effect("interrupting the run during the health wait triggers the same rollback", () =>
    Effect.gen(function*() {
      const r = yield* rehearse(app, world(running("1.1.0+1.1"), broken()), { interruptAfter: "45 seconds" })
      expect(r.interrupted).toBe(true)
      expect(Outcome.format(r.outcome)).toBe("rolled-back:1.2.0+1.2->1.1.0+1.1")
      expect(volume(r.world)).toEqual(DATA_BEFORE)
      expect(deployedVersion(r.world)).toEqual(Option.some("1.1.0+1.1"))
      expect(r.world.alerts.map((a) => a.reason)).toEqual(["rollback"])
      expect(r.world.alerts[0]!.fields["cause"]).toBe("interrupted")
      // The rollback started right at the interruption, not at the 15-minute deadline.
      const restore = first(r.world, "restore")!
      expect(restore.at).toBeLessThan(60_000)
      expect(r.world.history).toMatchObject([{ outcome: "rolled-back", interrupted: true }])
    }))

  it.effect("a failing restore gives rollback-failed, an alert and exit 1, and never deploys over migrated data", () =>
    Effect.gen(function*() {
      const r = yield* rehearse(
        app,
        world(running("1.1.0+1.1"), broken(), [{ step: "restore", kind: "fail" }])
      )
      expect(r.outcome._tag).toBe("rollback-failed")
      expect(Outcome.exitCode(r.outcome)).toBe(1)
      expect(r.world.alerts.map((a) => a.reason)).toEqual(["rollback-failed"])
      expect(r.world.alerts[0]!.fields).toMatchObject({ recovered: false, failed_step: "restore" })
      // Last-good is not redeployed over data it cannot read: the app stays undeployed.
      expect(deployedVersion(r.world)).toEqual(Option.none())
      expect(r.world.trace.filter((t) => t.step === "deploy").map((t) => t.detail)).toEqual([
        "app deploy id.example.org 1.2.0+1.2"
      ])
    }))

  it.effect("a crash-looping release starts its rollback long before the health deadline", () =>
    Effect.gen(function*() {
      const r = yield* rehearse(
        app,
        world(running("1.1.0+1.1"), {
          tags: ["1.1.0+1.1", "1.2.0+1.2"],
          releases: { "1.2.0+1.2": { health: "crash-loop" } }
        })
      )
      expect(r.outcome._tag).toBe("rolled-back")
      const deploy = first(r.world, "deploy", "1.2.0+1.2")!
      const rollbackStart = r.world.trace.find((t) => t.at > deploy.at && t.step === "undeploy")!
      // 3 failed tasks at one every 5 s: about 15 s, against a 15-minute deadline.
      expect(rollbackStart.at - deploy.at).toBeLessThanOrEqual(20_000)
      expect(String(r.world.alerts[0]!.fields["cause"])).toContain("crash-looping")
    }))

  it.effect("a snapshot that fails aborts the upgrade before any deploy of the target", () =>
    Effect.gen(function*() {
      const r = yield* rehearse(app, world(running("1.1.0+1.1"), broken(), [{ step: "snapshot", kind: "fail" }]))
      expect(r.outcome._tag).toBe("rolled-back")
      expect(r.world.trace.some((t) => t.step === "deploy" && t.detail.includes("1.2.0+1.2"))).toBe(false)
      expect(deployedVersion(r.world)).toEqual(Option.some("1.1.0+1.1"))
      expect(volume(r.world)).toEqual(DATA_BEFORE)
    }))

  it.effect("a deploy that hangs is cut at the deploy timeout and rolled back", () =>
    Effect.gen(function*() {
      const r = yield* rehearse(
        app,
        world(running("1.1.0+1.1"), broken(), [{ step: "deploy", kind: "hang", version: "1.2.0+1.2" }])
      )
      expect(r.outcome._tag).toBe("rolled-back")
      const hung = first(r.world, "deploy", "1.2.0+1.2")!
      const next = r.world.trace.find((t) => t.at > hung.at)!
      expect(next.at - hung.at).toBe(15 * 60_000)
      expect(deployedVersion(r.world)).toEqual(Option.some("1.1.0+1.1"))
    }))

  it.effect("a stateless app is neither undeployed nor snapshotted", () =>
    Effect.gen(function*() {
      const stateless = demoApp({ stateful: false })
      const r = yield* rehearse(
        stateless,
        world({ ...running("1.1.0+1.1"), spec: stateless }, {
          tags: ["1.1.0+1.1", "1.2.0+1.2"],
          releases: { "1.2.0+1.2": { health: "never" } }
        })
      )
      expect(r.outcome._tag).toBe("rolled-back")
      expect(steps(r.world)).not.toContain("undeploy")
      expect(steps(r.world)).not.toContain("snapshot")
      expect(steps(r.world)).not.toContain("restore")
      expect(deployedVersion(r.world)).toEqual(Option.some("1.1.0+1.1"))
    }))

  it.effect("last-good is not advanced to a version that was not seen healthy", () =>
    Effect.gen(function*() {
      // 1.0.0 runs but is broken; the upgrade to 1.1.0 works.
      const r = yield* rehearse(
        app,
        world(running("1.0.0+1.0", { brokenUntilRedeploy: true, lastGood: "0.9.0+0.9" }), {
          tags: ["0.9.0+0.9", "1.0.0+1.0", "1.1.0+1.1"]
        })
      )
      expect(r.outcome._tag).toBe("upgraded")
      const writes = r.world.trace.filter((t) => t.step === "last-good-write").map((t) => t.detail)
      expect(writes).toEqual(["last_good := 1.1.0+1.1"])
    }))
})

describe("a release that failed is not retried every night", () => {
  it.effect("the next run holds the rolled-back target without a new alert; a newer release is tried", () =>
    Effect.gen(function*() {
      const w = yield* World.make(world(running("1.1.0+1.1"), broken()))
      const first = yield* rehearse(app, w)
      expect(first.outcome._tag).toBe("rolled-back")
      // The next night (virtual time starts where the first run's left off, not at 0 again).
      const second = yield* rehearse(app, w, { startMillis: 86_400_000 })
      expect(Outcome.format(second.outcome)).toBe("held-failed-release:1.1.0+1.1->1.2.0+1.2")
      expect(second.world.alerts.map((a) => a.reason)).toEqual(["rollback"])
      // No deploy in the second run: only the first run's attempt and its rollback.
      const deploys = second.world.trace.filter((t) => t.step === "deploy")
      expect(deploys.map((t) => t.detail)).toEqual([
        "app deploy id.example.org 1.2.0+1.2",
        "app deploy id.example.org 1.1.0+1.1"
      ])
      yield* Ref.update(w.state, (s) => ({
        ...s,
        recipes: new Map([["keycloak", { tags: ["1.1.0+1.1", "1.2.0+1.2", "1.2.1+1.2.1"] }]])
      }))
      const third = yield* rehearse(app, w, { startMillis: 2 * 86_400_000 })
      expect(Outcome.format(third.outcome)).toBe("upgraded:1.1.0+1.1->1.2.1+1.2.1")
      expect(third.world.holds.has(app.name)).toBe(false)
    }))

  // Issue 13, item 6 reversed this case (it asserted a hold): an interruption is not the release failing.
  it.effect("an interrupted upgrade does not hold its target: the next run tries it again, and holds it if it fails", () =>
    Effect.gen(function*() {
      const w = yield* World.make(world(running("1.1.0+1.1"), broken()))
      const first = yield* rehearse(app, w, { interruptAfter: "30 seconds" })
      expect(first.interrupted).toBe(true)
      expect(first.world.holds.has(app.name)).toBe(false)
      const second = yield* rehearse(app, w, { startMillis: 86_400_000 })
      expect(Outcome.format(second.outcome)).toBe("rolled-back:1.2.0+1.2->1.1.0+1.1")
      expect(second.world.holds.get(app.name)).toMatchObject({ reason: "held-failed-release", to: "1.2.0+1.2" })
    }))
})

describe("a held app is still watched", () => {
  const major = { tags: ["1.1.0+1.1", "2.0.0+2.0"] }

  it.effect("a held app whose deployment is stuck is redeployed on the same version, and stays held", () =>
    Effect.gen(function*() {
      const r = yield* rehearse(app, world(running("1.1.0+1.1", { brokenUntilRedeploy: true }), major))
      expect(Outcome.format(r.outcome)).toBe("held-major:1.1.0+1.1->2.0.0+2.0")
      expect(Outcome.exitCode(r.outcome)).toBe(0)
      expect(r.world.trace.filter((t) => t.step === "deploy").map((t) => t.detail)).toEqual([
        "app deploy id.example.org 1.1.0+1.1"
      ])
      expect(r.world.alerts.map((a) => a.reason)).toEqual(["held-major"])
    }))

  it.effect("a held app that stays unhealthy after the redeploy is unhealthy: alert and exit 1", () =>
    Effect.gen(function*() {
      const r = yield* rehearse(
        app,
        world(running("1.1.0+1.1"), { ...major, releases: { "1.1.0+1.1": { health: "never" } } })
      )
      expect(Outcome.format(r.outcome)).toBe("unhealthy:1.1.0+1.1")
      expect(Outcome.exitCode(r.outcome)).toBe(1)
      expect(r.world.alerts.map((a) => a.reason)).toEqual(["held-major", "unhealthy-after-deploy"])
    }))
})

describe("holds touch nothing", () => {
  const changes: ReadonlyArray<Step> = ["undeploy", "snapshot", "deploy", "restore", "app-new", "secrets-generate"]

  it.effect("a major bump holds with an alert carrying the notes, and no undeploy, snapshot or deploy", () =>
    Effect.gen(function*() {
      const r = yield* rehearse(
        app,
        world(running("1.1.0+1.1"), {
          tags: ["1.1.0+1.1", "1.2.0+1.2", "2.0.0+2.0"],
          notes: { "2.0.0+2.0": "Keycloak 2: new console." }
        })
      )
      expect(Outcome.format(r.outcome)).toBe("held-major:1.1.0+1.1->2.0.0+2.0")
      expect(steps(r.world).filter((s) => changes.includes(s))).toEqual([])
      expect(r.world.alerts).toHaveLength(1)
      expect(r.world.alerts[0]!.reason).toBe("held-major")
      expect(String(r.world.alerts[0]!.fields["release_notes"])).toContain("Keycloak 2: new console.")
      expect(r.world.lastGood.get(app.name)).toBe("1.1.0+1.1")
    }))

  it.effect("a manual-migration note on a skipped intermediate version holds the upgrade", () =>
    Effect.gen(function*() {
      const r = yield* rehearse(
        app,
        world(running("1.1.0+1.1"), {
          tags: ["1.1.0+1.1", "1.1.1+1.1.1", "1.1.2+1.1.2", "1.2.0+1.2"],
          notes: {
            "1.1.1+1.1.1": "Run the migration Manually before upgrading.",
            "1.2.0+1.2": "Faster login."
          }
        })
      )
      expect(r.outcome).toMatchObject({ _tag: "held-manual-migration", versions: ["1.1.1+1.1.1"] })
      expect(steps(r.world).filter((s) => changes.includes(s))).toEqual([])
      // Every skipped version's notes were read, not only the target's.
      expect(r.world.trace.filter((t) => t.step === "notes").map((t) => t.detail)).toEqual([
        "release/1.1.1+1.1.1",
        "release/1.1.2+1.1.2",
        "release/1.2.0+1.2"
      ])
      expect(r.world.alerts[0]!.fields).toMatchObject({ versions: ["1.1.1+1.1.1"], markers: ["Manually"] })
      expect(String(r.world.alerts[0]!.fields["release_notes"])).toContain("Run the migration Manually")
    }))

  it.effect("the same hold is alerted once; a newer target is alerted again", () =>
    Effect.gen(function*() {
      const w = yield* World.make(world(running("1.1.0+1.1"), { tags: ["1.1.0+1.1", "2.0.0+2.0"] }))
      yield* rehearse(app, w)
      yield* rehearse(app, w)
      expect((yield* w.state.get).alerts).toHaveLength(1)
      yield* Ref.update(w.state, (s) => ({
        ...s,
        recipes: new Map([["keycloak", { tags: ["1.1.0+1.1", "2.0.0+2.0", "2.1.0+2.1"] }]])
      }))
      const third = yield* rehearse(app, w)
      expect(Outcome.format(third.outcome)).toBe("held-major:1.1.0+1.1->2.1.0+2.1")
      expect(third.world.alerts.map((a) => a.fields["latest"])).toEqual(["2.0.0+2.0", "2.1.0+2.1"])
    }))

  it.effect("policy none holds a patch; policy patch holds a minor but applies a patch", () =>
    Effect.gen(function*() {
      const none = demoApp({ upgrade: "none" })
      const r1 = yield* rehearse(
        none,
        world({ ...running("1.1.0+1.1"), spec: none }, { tags: ["1.1.0+1.1", "1.1.1+1.1.1"] })
      )
      expect(r1.outcome._tag).toBe("held-policy")
      const patch = demoApp({ upgrade: "patch" })
      const r2 = yield* rehearse(
        patch,
        world({ ...running("1.1.0+1.1"), spec: patch }, { tags: ["1.1.0+1.1", "1.1.1+1.1.1"] })
      )
      expect(Outcome.format(r2.outcome)).toBe("upgraded:1.1.0+1.1->1.1.1+1.1.1")
    }))

  it.effect("a deployed app whose version cannot be told is held, not upgraded", () =>
    Effect.gen(function*() {
      const r = yield* rehearse(app, {
        ...world(running("1.1.0+1.1", { pinned: "garbage" }), { tags: ["1.1.0+1.1", "1.2.0+1.2"] })
      })
      expect(r.outcome._tag).toBe("held-unknown-version")
      expect(steps(r.world).filter((s) => changes.includes(s))).toEqual([])
    }))
})

describe("the other paths of the original", () => {
  it.effect("fresh deploy: app new at the latest version, secrets generated, healthy, last-good set", () =>
    Effect.gen(function*() {
      const r = yield* rehearse(app, {
        recipes: { keycloak: { tags: ["1.0.0+1.0", "1.1.0+1.1"] } },
        apps: [{ spec: app, secrets: [] }],
        servers: []
      })
      expect(Outcome.format(r.outcome)).toBe("deployed-fresh:1.1.0+1.1")
      expect(first(r.world, "app-new")!.detail).toContain("1.1.0+1.1")
      expect(r.world.servers.has("default")).toBe(true)
      expect(r.world.lastGood.get(app.name)).toBe("1.1.0+1.1")
    }))

  it.effect("fresh deploy of a pinned version keeps the pin (no upgrade while nothing runs)", () =>
    Effect.gen(function*() {
      const r = yield* rehearse(
        app,
        world({ spec: app, env: true, pinned: "1.0.0+1.0", volumes: {} }, { tags: ["1.0.0+1.0", "1.1.0+1.1"] })
      )
      expect(Outcome.format(r.outcome)).toBe("deployed-fresh:1.0.0+1.0")
    }))

  it.effect("missing secrets are generated, present ones are not", () =>
    Effect.gen(function*() {
      const missing = yield* rehearse(
        app,
        world(running("1.1.0+1.1", { secretsGenerated: false }), { tags: ["1.1.0+1.1"] })
      )
      expect(steps(missing.world)).toContain("secrets-generate")
      const present = yield* rehearse(app, world(running("1.1.0+1.1"), { tags: ["1.1.0+1.1"] }))
      expect(steps(present.world)).not.toContain("secrets-generate")
    }))

  it.effect("on latest and still unhealthy after a redeploy: alert unhealthy-on-latest, exit 1", () =>
    Effect.gen(function*() {
      const r = yield* rehearse(
        app,
        world(running("1.1.0+1.1", { brokenUntilRedeploy: true }), {
          tags: ["1.1.0+1.1"],
          releases: { "1.1.0+1.1": { health: "never" } }
        })
      )
      expect(Outcome.format(r.outcome)).toBe("unhealthy:1.1.0+1.1")
      expect(Outcome.exitCode(r.outcome)).toBe(1)
      expect(r.world.alerts.map((a) => a.reason)).toEqual(["unhealthy-on-latest"])
    }))

  it.effect("a failure before any change is the failed outcome with exit 1 and changes nothing", () =>
    Effect.gen(function*() {
      const r = yield* rehearse(app, world(running("1.1.0+1.1"), broken(), [{ step: "fetch", kind: "fail" }]))
      expect(r.outcome._tag).toBe("failed")
      expect(Outcome.exitCode(r.outcome)).toBe(1)
      // Only reads: the state records (issue 18), the server, the env file and what runs (read
      // before the fetch since issue 13), the failed fetch; then the run is recorded.
      expect(steps(r.world)).toEqual([
        "in-flight-read",
        "hold-read",
        "last-good-read",
        "server",
        "env-read",
        "env-read",
        "deployed-check",
        "deployed-version",
        "fetch",
        "history"
      ])
    }))

  it.effect("--skip-fetch uses the clone as it is", () =>
    Effect.gen(function*() {
      const r = yield* rehearse(app, world(running("1.1.0+1.1"), { tags: ["1.1.0+1.1"] }), { skipFetch: true })
      expect(steps(r.world)).not.toContain("fetch")
      expect(r.outcome._tag).toBe("noop-healthy")
    }))
})

describe("the health gate", () => {
  it.effect("notices health within a second of it appearing", () =>
    Effect.gen(function*() {
      const r = yield* rehearse(
        app,
        world(running("1.0.0+1.0"), {
          tags: ["1.0.0+1.0", "1.1.0+1.1"],
          releases: { "1.1.0+1.1": { health: { healthyAfter: "137 seconds" } } }
        })
      )
      expect(r.outcome._tag).toBe("upgraded")
      const deploy = first(r.world, "deploy", "1.1.0+1.1")!
      const healthyAt = deploy.at + 137_000
      const commit = first(r.world, "last-good-write", "1.1.0+1.1")!
      // Two consecutive successes 500 ms apart: the gate passes within 1 s + one interval.
      expect(commit.at - healthyAt).toBeGreaterThanOrEqual(500)
      expect(commit.at - healthyAt).toBeLessThanOrEqual(1_500)
    }))

  it.effect("a probe that hangs is cut by the per-attempt timeout, and the next probe goes on", () =>
    Effect.gen(function*() {
      const r = yield* rehearse(
        app,
        world(running("1.0.0+1.0"), { tags: ["1.0.0+1.0", "1.1.0+1.1"] }, [
          { step: "health", kind: "hang", after: 2, times: 1 }
        ])
      )
      expect(r.outcome._tag).toBe("upgraded")
      const probes = r.world.trace.filter((t) => t.step === "health")
      const hung = probes.findIndex((t) => t.detail.endsWith("[hangs]"))
      expect(hung).toBeGreaterThanOrEqual(0)
      expect(probes[hung + 1]!.at - probes[hung]!.at).toBe(10_000 + 500)
    }))
})

describe("a state record that does not decode stops its app (issue 18 item 4)", () => {
  for (const record of ["in-flight", "hold", "last-good"] as const) {
    it.effect(`${record}: failed, one state-unreadable alert, nothing undeployed, snapshotted or deployed`, () =>
      Effect.gen(function*() {
        const r = yield* rehearse(app, world(running("1.1.0+1.1", { unreadable: [record] }), broken()))
        expect(r.outcome._tag).toBe("failed")
        expect(Outcome.format(r.outcome)).toContain(`is not a valid ${record} record`)
        expect(r.world.alerts.map((a) => [a.reason, a.fields["record"]])).toEqual([["state-unreadable", record]])
        const acted = steps(r.world).filter((s) =>
          ["undeploy", "snapshot", "deploy", "checkout", "env-write"].includes(s)
        )
        expect(acted).toEqual([])
        expect(deployedVersion(r.world)).toEqual(Option.some("1.1.0+1.1"))
        expect(volume(r.world)).toEqual(DATA_BEFORE)
        // Still unreadable: the record is left for a person, and the next run stops again.
        expect(r.world.unreadable.get(app.name)?.has(record)).toBe(true)
      }))
  }
})
