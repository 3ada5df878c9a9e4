/**
 * The oracles of test/support/invariants.ts on purpose: each exception the design documents is
 * reached by a world built for it (and accepted only as narrowly as stated), and each oracle is shown
 * a world in which the program did what it must not (a deploy past the safety gate, last-good after
 * one healthy answer, a crash loop probed to the deadline, a rollback nobody is told of) and says so.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { type AppSpec, HealthConfig } from "../../src/domain/Config.js"
import * as Outcome from "../../src/domain/Outcome.js"
import { rehearse } from "../../src/simulation/Rehearsal.js"
import { demoApp, migrateTo12, running } from "../../src/simulation/Scenarios.js"
import * as World from "../../src/simulation/World.js"
import * as Invariants from "../support/invariants.js"

// A 40 s deadline: a crash loop (3 failed tasks, 5 s apart) is seen well before it.
const gate = { timeout: Duration.seconds(40), attemptTimeout: Duration.seconds(5), interval: Duration.seconds(1) }
const app: AppSpec = { ...demoApp(), health: new HealthConfig({ path: "/", ...gate, settle: Duration.seconds(10) }) }
const FROM = "1.1.0+1.1"
const TO = "1.2.0+1.2"
const MAJOR = "1.3.0+2.0"

/** 1.1.0 runs; the only newer release is an app major. */
const heldMajor: World.WorldSetup = {
  recipes: { keycloak: { tags: [FROM, MAJOR] } },
  servers: ["default"],
  apps: [running(FROM, app)]
}

const upgradeTo = (release: World.ReleaseSpec, faults: ReadonlyArray<World.Fault> = []): World.WorldSetup => ({
  recipes: { keycloak: { tags: [FROM, TO], releases: { [TO]: { migrate: migrateTo12, ...release } } } },
  servers: ["default"],
  apps: [running(FROM, app)],
  faults
})

/** Two nights of a world (the second undisturbed): the verdict of each, and the ledger's. */
const twoNights = (setup: World.WorldSetup) =>
  Effect.gen(function*() {
    const subject = Invariants.subjectOf(setup)
    const world = yield* World.make(setup)
    const start = yield* world.state.get
    const first = yield* rehearse(app, world)
    yield* World.restart(world)
    const next = yield* rehearse(app, world, { startMillis: 86_400_000 })
    const nights = Invariants.ledger(subject)
    nights.night({ before: start, after: first.world, outcome: first.outcome, crashed: first.world.crashed })
    nights.night({ before: first.world, after: next.world, outcome: next.outcome, crashed: false })
    return {
      subject,
      start,
      first,
      next,
      firstVerdict: Invariants.checkRun(subject, start, first.world, first.outcome, false),
      nextVerdict: Invariants.checkRun(subject, first.world, next.world, next.outcome, false),
      ledger: nights.close()
    }
  })

describe("the documented exceptions, reached on purpose", () => {
  it.effect("a held app whose unhealthy alert cannot be written: the hold alert stands, the run fails", () =>
    Effect.gen(function*() {
      // 1.1.0 is held behind an app major and answers 500 even after its redeploy; the first alert
      // (the hold's) goes through, every later one fails.
      const setup: World.WorldSetup = {
        recipes: { keycloak: { tags: [FROM, MAJOR], releases: { [FROM]: { health: "never" } } } },
        servers: ["default"],
        apps: [running(FROM, app)],
        faults: [{ step: "alert", kind: "fail", after: 1 }]
      }
      const r = yield* twoNights(setup)
      expect(Outcome.format(r.first.outcome)).toMatch(/^failed:/)
      expect(r.first.world.alerts.map((a) => a.reason)).toEqual(["held-major"])
      expect(r.firstVerdict).toEqual({ failures: [], exceptions: ["hold-then-alert-lost"] })
      // The next night the hold is not alerted again, and the unhealthy version is.
      expect(r.next.outcome._tag).toBe("unhealthy")
      expect(r.next.world.alerts.map((a) => a.reason)).toEqual(["held-major", "unhealthy-after-deploy"])
      expect(r.nextVerdict).toEqual({ failures: [], exceptions: [] })
      expect(r.ledger).toEqual([])
    }))

  it.effect("a rollback whose health probes all hang ends rollback-failed, exit 1, though 1.1.0 is healthy", () =>
    Effect.gen(function*() {
      const clean = upgradeTo({ health: "never" })
      // Every probe from the first one after the redeploy of 1.1.0 hangs.
      const redeployed = yield* rehearse(app, clean).pipe(Effect.map((c) => {
        const deploy = c.world.trace.findLastIndex((t) => t.step === "deploy")
        return c.world.trace.slice(0, deploy).filter((t) => t.step === "health").length
      }))
      const r = yield* twoNights({ ...clean, faults: [{ step: "health", kind: "hang", after: redeployed }] })
      expect(r.first.outcome._tag).toBe("rollback-failed")
      expect(Outcome.exitCode(r.first.outcome)).toBe(1)
      expect(Invariants.answersHealthy(r.subject, FROM)).toBe(true)
      expect(r.firstVerdict).toEqual({ failures: [], exceptions: ["probes-hang"] })
      // The record stays; the next night (probes answer again) recovers, with one alert.
      expect(r.next.outcome._tag).toBe("recovered")
      expect(r.nextVerdict.failures).toEqual([])
      expect(r.ledger).toEqual([])
    }))

  it.effect("a restore that keeps failing leaves the new data, undeployed, with its snapshot and record", () =>
    Effect.gen(function*() {
      const r = yield* twoNights(upgradeTo({ health: "never" }, [{ step: "restore", kind: "fail" }]))
      expect(r.first.outcome._tag).toBe("rollback-failed")
      const a = r.first.world.apps.get(app.name)!
      expect(a.deployment._tag).toBe("None")
      expect(a.volumes.get("data")!.get("db/schema")).toBe("schema 12\n")
      expect(r.firstVerdict).toEqual({ failures: [], exceptions: ["restore-keeps-failing"] })
      // The next night restores and runs 1.1.0 on its own data.
      expect(r.next.outcome._tag).toBe("recovered")
      expect(r.nextVerdict).toEqual({ failures: [], exceptions: [] })
      expect(r.ledger).toEqual([])
      // Narrowly: the same volume without the snapshot to restore from is a violation.
      const noSnapshot = { ...r.first.world, snapshots: new Map() }
      expect(Invariants.check(r.subject, r.start, noSnapshot, r.first.outcome, false).join()).toMatch(
        /never seen healthy/
      )
    }))
})

describe("the oracles see what the program must not do", () => {
  it.effect("the safety gate: a deploy of an app major is a violation", () =>
    Effect.gen(function*() {
      const setup = heldMajor
      const subject = Invariants.subjectOf(setup)
      expect(Invariants.expectedPlan(subject)).toEqual({ _tag: "held", reason: "major", to: MAJOR })
      const r = yield* rehearse(app, setup)
      const start = World.initialState(setup)
      expect(Invariants.check(subject, start, r.world, r.outcome, false)).toEqual([])
      const at = r.world.trace.at(-1)!.at
      const forged = {
        ...r.world,
        trace: [...r.world.trace, { at, step: "deploy" as const, app: app.name, detail: `app deploy x ${MAJOR}` }]
      }
      expect(Invariants.check(subject, start, forged, r.outcome, false).join()).toMatch(
        /deployed 1\.3\.0\+2\.0, which the safety gate holds \(major/
      )
    }))

  it.effect("the safety gate: a manual migration in a skipped version, or the policy, holds", () =>
    Effect.sync(() => {
      const subject = (notes: Record<string, string>, upgrade: "minor" | "patch") =>
        Invariants.subjectOf({
          recipes: { keycloak: { tags: [FROM, "1.1.1+1.1.1", TO], notes } },
          apps: [running(FROM, { ...app, upgrade })]
        })
      expect(Invariants.expectedPlan(subject({ "1.1.1+1.1.1": "Run the migration by hand." }, "minor")))
        .toMatchObject({ _tag: "held", reason: "manual-migration" })
      expect(Invariants.expectedPlan(subject({}, "patch"))).toMatchObject({ _tag: "held", reason: "policy" })
      expect(Invariants.expectedPlan(subject({}, "minor"))).toEqual({ _tag: "upgrade", to: TO })
    }))

  it.effect("the health gate: last-good after one healthy answer is a violation", () =>
    Effect.gen(function*() {
      const setup = upgradeTo({ health: "healthy" })
      const subject = Invariants.subjectOf(setup)
      const r = yield* rehearse(app, setup)
      const start = World.initialState(setup)
      expect(Outcome.format(r.outcome)).toBe(`upgraded:${FROM}->${TO}`)
      expect(Invariants.check(subject, start, r.world, r.outcome, false)).toEqual([])
      // Drop the last healthy probe before the commit: one success only.
      const commit = r.world.trace.findLastIndex((t) => t.step === "last-good-write")
      const probe = r.world.trace.slice(0, commit).findLastIndex((t) => t.step === "health")
      const forged = { ...r.world, trace: r.world.trace.filter((_, i) => i !== probe) }
      const failures = Invariants.check(subject, start, forged, r.outcome, false).join()
      expect(failures).toMatch(/last-good set to 1\.2\.0\+1\.2 before 2 healthy answers in a row/)
      expect(failures).toMatch(/upgraded:.* said healthy without 2 healthy answers/)
    }))

  it.effect("the health gate: a crash loop probed until the deadline is a violation", () =>
    Effect.gen(function*() {
      const setup = upgradeTo({ health: "crash-loop" })
      const subject = Invariants.subjectOf(setup)
      const r = yield* rehearse(app, setup)
      const start = World.initialState(setup)
      expect(r.outcome._tag).toBe("rolled-back")
      expect(Invariants.check(subject, start, r.world, r.outcome, false)).toEqual([])
      // The same run, had the gate kept probing: a probe 30 s after the deploy, before the rollback.
      const d = r.world.trace.findIndex((t) => t.step === "deploy")
      const deploy = r.world.trace[d]!
      const late = { at: deploy.at + 30_000, step: "health" as const, app: app.name, detail: "GET x -> 502" }
      const i = r.world.trace.findIndex((t, j) => j > d && !["health", "tasks", "in-flight-write"].includes(t.step))
      const forged = { ...r.world, trace: [...r.world.trace.slice(0, i), late, ...r.world.trace.slice(i)] }
      expect(Invariants.check(subject, start, forged, r.outcome, false).join()).toMatch(/the crash loop went unseen/)
    }))

  it.effect("the ledger: a rollback that wrote no alert and left no record is lost", () =>
    Effect.gen(function*() {
      const setup = upgradeTo({ health: "never" })
      const subject = Invariants.subjectOf(setup)
      const r = yield* rehearse(app, setup)
      const start = World.initialState(setup)
      const silent = { ...r.world, alerts: [] }
      const nights = Invariants.ledger(subject)
      nights.night({ before: start, after: silent, outcome: Outcome.Outcome.failed({ reason: "x" }), crashed: false })
      const failures = nights.close().join()
      expect(failures).toMatch(/undid a change and wrote no alert, and left nothing to write it later/)
      expect(failures).toMatch(/was never alerted in 1 nights/)
    }))

  it.effect("the ledger: a hold alerted twice though its record was kept is a violation", () =>
    Effect.gen(function*() {
      const setup = heldMajor
      const subject = Invariants.subjectOf(setup)
      const world = yield* World.make(setup)
      const start = yield* world.state.get
      const first = yield* rehearse(app, world)
      const nights = Invariants.ledger(subject)
      nights.night({ before: start, after: first.world, outcome: first.outcome, crashed: false })
      expect(nights.close()).toEqual([])
      // A second night that forgot the hold was alerted and alerted again.
      const again = { ...first.world, alerts: [...first.world.alerts, ...first.world.alerts], trace: first.world.trace }
      nights.night({ before: { ...first.world, trace: [] }, after: again, outcome: first.outcome, crashed: false })
      expect(nights.close().join()).toMatch(/held-major alerted 2 times in 2 nights/)
    }))
})
