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
import type { AlertReason } from "../../src/domain/Alert.js"
import { type AppSpec, HealthConfig } from "../../src/domain/Config.js"
import * as Outcome from "../../src/domain/Outcome.js"
import { rehearse } from "../../src/simulation/Rehearsal.js"
import { DATA_BEFORE, demoApp, migrateTo12 } from "../../src/simulation/Scenarios.js"
import * as World from "../../src/simulation/World.js"

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
const MIGRATED = Object.fromEntries(migrateTo12("data", new Map(Object.entries(DATA_BEFORE))))

interface Path {
  readonly name: string
  readonly setup: World.WorldSetup
  /** Versions whose data may be in the volume while they run (besides the pre-upgrade data). */
  readonly healthyTarget: boolean
}

const running = (version: string): World.AppSetup => ({
  spec: app,
  env: true,
  pinned: version,
  deployed: version,
  volumes: { data: DATA_BEFORE },
  secrets: ["admin_password_v1"],
  secretsGenerated: true,
  lastGood: version
})

const upgrade = (name: string, release: World.ReleaseSpec, healthyTarget: boolean): Path => ({
  name,
  healthyTarget,
  setup: {
    recipes: { keycloak: { tags: [OLD, FROM, TO], releases: { [TO]: { migrate: migrateTo12, ...release } } } },
    servers: ["default"],
    apps: [running(FROM)]
  }
})

const PATHS: ReadonlyArray<Path> = [
  upgrade("healthy upgrade", { health: "healthy" }, true),
  upgrade("upgrade to a release that answers 500, rolled back", { health: "never" }, false),
  upgrade("upgrade to a crash-looping release, rolled back", { health: "crash-loop" }, false),
  {
    name: "fresh deploy",
    healthyTarget: true,
    setup: {
      recipes: { keycloak: { tags: [FROM, TO] } },
      servers: [],
      apps: [{ spec: app, env: false, secrets: [] }]
    }
  },
  {
    name: "first deploy of an env file made by hand, secrets not generated yet",
    healthyTarget: true,
    setup: {
      recipes: { keycloak: { tags: [FROM, TO] } },
      servers: ["default"],
      apps: [{ spec: app, env: true, pinned: TO, secrets: ["admin_password_v1"], secretsGenerated: false }]
    }
  },
  {
    name: "major bump, held",
    healthyTarget: false,
    setup: { recipes: { keycloak: { tags: [FROM, MAJOR] } }, servers: ["default"], apps: [running(FROM)] }
  },
  {
    name: "manual migration in a skipped version, held",
    healthyTarget: false,
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

const ROLLBACK_ALERT: Partial<Record<Outcome.Outcome["_tag"], AlertReason>> = {
  "rolled-back": "rollback",
  "rollback-failed": "rollback-failed",
  recovered: "recovered"
}

/** The invariants after one run; `before` is the world as the run found it. */
const check = (
  path: Path,
  label: string,
  before: World.WorldState,
  after: World.WorldState,
  outcome: Outcome.Outcome,
  interrupted: boolean
): Array<string> => {
  const failures: Array<string> = []
  const fail = (why: string) => failures.push(`${path.name} / ${label}: ${why} (outcome ${Outcome.format(outcome)})`)
  const a = after.apps.get(app.name)!
  const deployment = Option.getOrUndefined(a.deployment)
  const data = a.volumes.has("data") ? JSON.stringify(Object.fromEntries(a.volumes.get("data")!)) : undefined

  // The volume: its pre-upgrade content, or the migrated data of a target that was seen healthy.
  const seenHealthy = healthySeen(after.trace)
  if (data !== undefined && data !== JSON.stringify(DATA_BEFORE)) {
    if (data !== JSON.stringify(MIGRATED)) fail(`the volume holds neither version's data: ${data}`)
    else if (!seenHealthy.has(TO)) fail(`the volume holds ${TO}'s data but ${TO} was never seen healthy`)
    else if (deployment !== undefined && deployment.version !== TO) fail(`${deployment.version} runs on ${TO}'s data`)
  }
  if (data === JSON.stringify(DATA_BEFORE) && deployment?.version === TO) fail(`${TO} runs on the old data`)

  // last-good: every write names a version seen healthy before it.
  for (const bad of lastGoodWritesNotSeenHealthy(after.trace)) fail(`last-good set to ${bad} before it answered 200`)
  const lastGood = after.lastGood.get(app.name)
  if (lastGood !== undefined && lastGood !== before.lastGood.get(app.name) && !seenHealthy.has(lastGood)) {
    fail(`last-good is ${lastGood}, never seen healthy`)
  }

  // Alerts: exactly one per hold (once per release held) and per rollback.
  const written = after.alerts.slice(before.alerts.length).map((x) => x.reason)
  const rollbackReason = ROLLBACK_ALERT[outcome._tag]
  const heldBefore = Option.getOrUndefined(Option.fromNullable(before.holds.get(app.name)))
  if (outcome._tag.startsWith("held-")) {
    const to = "to" in outcome ? outcome.to : ""
    const alreadyAlerted = heldBefore?.reason === outcome._tag && heldBefore.to === to
    const expected = alreadyAlerted ? [] : [outcome._tag]
    if (JSON.stringify(written) !== JSON.stringify(expected)) {
      fail(`a hold wrote alerts ${JSON.stringify(written)}, expected ${JSON.stringify(expected)}`)
    }
    if (after.holds.get(app.name)?.reason !== outcome._tag) fail("the hold is not recorded")
  } else if (rollbackReason !== undefined) {
    if (JSON.stringify(written) !== JSON.stringify([rollbackReason])) {
      fail(`a ${outcome._tag} wrote alerts ${JSON.stringify(written)}, expected ["${rollbackReason}"]`)
    }
  } else if (outcome._tag === "unhealthy") {
    if (written.length !== 1 || !written[0]!.startsWith("unhealthy-")) fail(`unhealthy wrote ${written}`)
  } else if (written.length !== 0) {
    fail(`${outcome._tag} wrote alerts ${JSON.stringify(written)}`)
  }
  // An alert that could not be written (after its retries) is not forgotten: the run does not end
  // 0 and the next night writes it (checked by the next night's own alert count).
  const alertWanted = outcome._tag.startsWith("held-") || rollbackReason !== undefined
  if (alertWanted && written.length === 0 && Outcome.exitCode(outcome) === 0 && !interrupted) {
    const alreadyHeld = heldBefore?.reason === outcome._tag
    if (!alreadyHeld) fail("no alert was written, yet the run ended 0")
  }

  // The exit code: 0 only when a version that is healthy runs on its own data; down means 1.
  const healthyNow = deployment !== undefined && !deployment.broken && answersHealthy(path, deployment.version)
  const ownData = data === undefined ||
    (deployment?.version === TO ? data === JSON.stringify(MIGRATED) : data === JSON.stringify(DATA_BEFORE))
  if (!interrupted && Outcome.exitCode(outcome) === 0 && !(healthyNow && ownData)) {
    fail(`exit 0 but the app is ${deployment === undefined ? "not deployed" : `on ${deployment.version}, unhealthy`}`)
  }
  if (!interrupted && deployment === undefined && Outcome.exitCode(outcome) === 0) fail("exit 0 with the app down")
  if (!interrupted && Outcome.exitCode(outcome) === 1 && healthyNow && ownData && outcome._tag !== "failed") {
    fail("exit 1 though the app is healthy and nothing failed")
  }
  return failures
}

/** Will `version` answer 200 once started, in this path's world? */
const answersHealthy = (path: Path, version: string): boolean => {
  const release = path.setup.recipes["keycloak"]?.releases?.[version] ?? {}
  return World.statusAt(release, { version, at: 0, broken: false }, Number.MAX_SAFE_INTEGER) === 200
}

/** Versions that answered 200 while deployed, replayed from the trace. */
const healthySeen = (trace: ReadonlyArray<World.TraceEntry>): Set<string> => {
  const seen = new Set<string>()
  replay(trace, (entry, deployed) => {
    if (entry.step === "health" && / -> 200$/.test(entry.detail) && deployed !== undefined) seen.add(deployed)
  })
  return seen
}

const lastGoodWritesNotSeenHealthy = (trace: ReadonlyArray<World.TraceEntry>): Array<string> => {
  const seen = new Set<string>()
  const bad: Array<string> = []
  replay(trace, (entry, deployed) => {
    if (entry.step === "health" && / -> 200$/.test(entry.detail) && deployed !== undefined) seen.add(deployed)
    const written = /^last_good := (\S+)$/.exec(entry.detail)
    if (entry.step === "last-good-write" && written && !seen.has(written[1]!)) bad.push(written[1]!)
  })
  return bad
}

/** Walk the trace knowing which version is deployed at each entry (faulted entries changed nothing). */
const replay = (
  trace: ReadonlyArray<World.TraceEntry>,
  visit: (entry: World.TraceEntry, deployed: string | undefined) => void
) => {
  let deployed: string | undefined = FROM
  for (const entry of trace) {
    const faulted = / \[(fails|hangs|crash before it)\]$/.test(entry.detail)
    if (!faulted && entry.step === "deploy") deployed = /app deploy \S+ (\S+)/.exec(entry.detail)?.[1]
    if (!faulted && entry.step === "undeploy") deployed = undefined
    visit(entry, faulted ? undefined : deployed)
  }
}

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
        const world = yield* World.make({
          ...path.setup,
          faults: [{ step: target.step, kind: kind === "fail" ? "fail" : "hang", after: target.occurrence, times: 1 }]
        })
        const start = yield* world.state.get
        // An interruption arrives 1 ms into the step (which hangs so that it is still under way).
        const first = yield* rehearse(app, world, kind === "interrupt" ? { interruptAfter: target.at + 1 } : {})
        const label = `${kind} at ${target.step}#${target.occurrence} (${target.detail})`
        const caseFailures = check(path, label, start, first.world, first.outcome, first.interrupted)
        if (kind === "interrupt" && !first.interrupted) caseFailures.push(`${path.name} / ${label}: not interrupted`)
        yield* World.restart(world)
        const next = yield* rehearse(app, world, { startMillis: 86_400_000 })
        caseFailures.push(...check(path, `${label}, then the next night`, first.world, next.world, next.outcome, false))
        // After an undisturbed night the app is up on a healthy version with its data.
        const a = next.world.apps.get(app.name)!
        const version = Option.getOrUndefined(Option.map(a.deployment, (d) => d.version))
        if (version === undefined || !answersHealthy(path, version)) {
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
