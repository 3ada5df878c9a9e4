/**
 * Fault injection at every side effect of every path, on the simulated world: for each step an
 * undisturbed run makes (server, fetch, tags, notes, env read, app new, secrets, Docker look-ups,
 * undeploy, snapshot, deploy, health, state and alert writes, restore, the redeploy of last-good)
 * the step fails, hangs until its deadline, or the run is interrupted (SIGTERM) while it is under
 * way. Then the next night runs undisturbed. After each run the invariants of the issue hold:
 * - the volume holds its pre-upgrade content, or the data of a target that was seen healthy;
 * - last-good only ever names a version that was seen healthy;
 * - every hold and every rollback writes exactly one alert, and none is lost;
 * - the exit code matches the app's end state.
 * (abra writes the env file inside `app new` and `deploy`: those steps are its writes.)
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Option } from "effect"
import { type AppSpec, HealthConfig } from "../../src/domain/Config.js"
import { rehearse } from "../../src/simulation/Rehearsal.js"
import * as Scenarios from "../../src/simulation/Scenarios.js"
import { demoApp, migrateTo12 } from "../../src/simulation/Scenarios.js"
import * as World from "../../src/simulation/World.js"
import * as Invariants from "../support/invariants.js"

// Short health deadlines keep each run to a few dozen side effects; the logic is the same.
const app: AppSpec = {
  ...demoApp(),
  health: new HealthConfig({
    path: "/",
    timeout: Duration.seconds(20),
    interval: Duration.seconds(1),
    settle: Duration.seconds(10)
  })
}
const OLD = "1.0.0+1.0"
const FROM = "1.1.0+1.1"
const TO = "1.2.0+1.2"
const MAJOR = "2.0.0+2.0"

interface Path {
  readonly name: string
  readonly setup: World.WorldSetup
}

const running = (version: string): World.AppSetup => Scenarios.running(version, app)

const upgrade = (name: string, release: World.ReleaseSpec): Path => ({
  name,
  setup: {
    recipes: { keycloak: { tags: [OLD, FROM, TO], releases: { [TO]: { migrate: migrateTo12, ...release } } } },
    servers: ["default"],
    apps: [running(FROM)]
  }
})

const PATHS: ReadonlyArray<Path> = [
  upgrade("healthy upgrade", { health: "healthy" }),
  upgrade("upgrade to a release that answers 500, rolled back", { health: "never" }),
  upgrade("upgrade to a crash-looping release, rolled back", { health: "crash-loop" }),
  {
    name: "fresh deploy",
    setup: {
      recipes: { keycloak: { tags: [FROM, TO] } },
      servers: [],
      apps: [{ spec: app, env: false, secrets: [] }]
    }
  },
  {
    name: "first deploy of an env file made by hand, secrets not generated yet",
    setup: {
      recipes: { keycloak: { tags: [FROM, TO] } },
      servers: ["default"],
      apps: [{ spec: app, env: true, pinned: TO, secrets: ["admin_password_v1"], secretsGenerated: false }]
    }
  },
  {
    name: "major bump, held",
    setup: { recipes: { keycloak: { tags: [FROM, MAJOR] } }, servers: ["default"], apps: [running(FROM)] }
  },
  {
    name: "manual migration in a skipped version, held",
    setup: {
      recipes: {
        keycloak: {
          tags: [FROM, "1.1.1+1.1.1", TO],
          notes: { "1.1.1+1.1.1": "ACTION REQUIRED: run the migration by hand before starting 1.1.1." }
        }
      },
      servers: ["default"],
      apps: [running(FROM)]
    }
  }
]

type FaultKind = "fail" | "hang" | "interrupt"
const KINDS: ReadonlyArray<FaultKind> = ["fail", "hang", "interrupt"]

/** One side effect of an undisturbed run: its step, which occurrence of that step, and when. */
interface Target {
  readonly step: World.Step
  readonly occurrence: number
  readonly at: number
  readonly detail: string
}

/**
 * The side effects to hit: every occurrence of every step, except that a long health wait is hit at
 * its first, second and last probe (the probes between are alike).
 */
const targets = (trace: ReadonlyArray<World.TraceEntry>): Array<Target> => {
  const seen = new Map<World.Step, number>()
  const all = trace.map((t) => {
    const occurrence = seen.get(t.step) ?? 0
    seen.set(t.step, occurrence + 1)
    return { step: t.step, occurrence, at: t.at, detail: t.detail }
  })
  return all.filter((t) => t.step !== "health" || t.occurrence < 2 || t.occurrence === seen.get("health")! - 1)
}

const subject = (path: Path): Invariants.Subject => Invariants.subjectOf(path.setup)

interface Verdict {
  readonly cases: number
  readonly held: number
  readonly failures: ReadonlyArray<string>
  /** Steps hit, with the deploys of last-good after a failed target counted as `redeploy`. */
  readonly steps: ReadonlySet<string>
}

/** Every target × every fault kind of one path, each followed by an undisturbed next night. */
const sweep = (path: Path) =>
  Effect.gen(function*() {
    const clean = yield* rehearse(app, path.setup)
    const failures: Array<string> = []
    const steps = new Set<string>()
    let cases = 0
    let held = 0
    for (const target of targets(clean.world.trace)) {
      steps.add(target.step === "deploy" && target.detail.endsWith(` ${FROM}`) ? "redeploy" : target.step)
      for (const kind of KINDS) {
        yield* Invariants.eventLoopTurn
        const world = yield* World.make({
          ...path.setup,
          faults: [{ step: target.step, kind: kind === "fail" ? "fail" : "hang", after: target.occurrence, times: 1 }]
        })
        const start = yield* world.state.get
        // An interruption arrives 1 ms into the step (which hangs so that it is still under way).
        const first = yield* rehearse(app, world, kind === "interrupt" ? { interruptAfter: target.at + 1 } : {})
        const label = `${kind} at ${target.step}#${target.occurrence} (${target.detail})`
        const caseFailures = Invariants.check(subject(path), start, first.world, first.outcome, first.interrupted)
          .map((f) => `${path.name} / ${label}: ${f}`)
        if (kind === "interrupt" && !first.interrupted) caseFailures.push(`${path.name} / ${label}: not interrupted`)
        yield* World.restart(world)
        const next = yield* rehearse(app, world, { startMillis: 86_400_000 })
        caseFailures.push(
          ...Invariants.check(subject(path), first.world, next.world, next.outcome, false)
            .map((f) => `${path.name} / ${label}, then the next night: ${f}`)
        )
        const nights = Invariants.ledger(subject(path))
        nights.night({ before: start, after: first.world, outcome: first.outcome, crashed: first.world.crashed })
        nights.night({ before: first.world, after: next.world, outcome: next.outcome, crashed: false })
        caseFailures.push(...nights.close().map((f) => `${path.name} / ${label}: ${f}`))
        // After an undisturbed night the app is up on a healthy version with its data.
        const a = next.world.apps.get(app.name)!
        const version = Option.getOrUndefined(Option.map(a.deployment, (d) => d.version))
        if (version === undefined || !Invariants.answersHealthy(subject(path), version)) {
          caseFailures.push(`${path.name} / ${label}: after the next night ${version ?? "nothing"} runs`)
        }
        if (next.world.inFlight.size > 0) caseFailures.push(`${path.name} / ${label}: an in-flight record is left`)
        cases++
        if (caseFailures.length === 0) held++
        failures.push(...caseFailures)
      }
    }
    return { cases, held, failures, steps } satisfies Verdict
  })

describe("a fault at every side effect of every path", () => {
  const totals = { cases: 0, held: 0, steps: new Set<string>() }
  for (const path of PATHS) {
    it.effect(path.name, () =>
      Effect.gen(function*() {
        const v = yield* sweep(path)
        totals.cases += v.cases
        totals.held += v.held
        v.steps.forEach((step) => totals.steps.add(step))
        console.log(`fault sweep, ${path.name}: ${v.cases} cases, ${v.held} held`)
        if (v.failures.length) console.log(v.failures.slice(0, 20).join("\n"))
        expect(v.failures).toEqual([])
        expect(v.cases).toBeGreaterThan(10)
      }), 120_000)
  }
  it("covers every step the issue names, with every fault", () => {
    console.log(`fault sweep, all paths: ${totals.cases} cases, ${totals.held} held`)
    expect(totals.held).toBe(totals.cases)
    const named = [
      "server",
      "fetch",
      "tags",
      "notes",
      "env-read",
      "app-new",
      "secrets-list",
      "secrets-generate",
      "deployed-check",
      "undeploy",
      "snapshot",
      "deploy",
      "health",
      "last-good-write",
      "alert",
      "restore",
      "redeploy"
    ]
    expect(named.filter((step) => !totals.steps.has(step))).toEqual([])
  })
})
