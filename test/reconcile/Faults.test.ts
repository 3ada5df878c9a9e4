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
 * Each path also states what it ends as: undisturbed, disturbed, and the night after; and how many
 * cases it sweeps, so a sweep that silently shrinks or a gate that lets a path through fails here.
 * (abra writes the env file inside `app new` and `deploy`: those steps are its writes.)
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Option } from "effect"
import { type AppSpec, HealthConfig } from "../../src/domain/Config.js"
import * as Outcome from "../../src/domain/Outcome.js"
import { rehearse } from "../../src/simulation/Rehearsal.js"
import * as Scenarios from "../../src/simulation/Scenarios.js"
import { demoApp, migrateTo12 } from "../../src/simulation/Scenarios.js"
import * as World from "../../src/simulation/World.js"
import * as Figures from "../support/figures.js"
import * as Invariants from "../support/invariants.js"
import { targets } from "../support/targets.js"
import { DEEP } from "./PropertySuite.js"

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

/**
 * What a run may end as: an outcome as printed (`upgraded:1.1.0+1.1->1.2.0+1.2`), or `failed` for
 * any failed operation (the many reasons a fault gives are not worth listing one by one).
 */
type Ending = string

interface Path {
  readonly name: string
  /** The app the path reconciles; the stateful keycloak above by default. */
  readonly app?: AppSpec
  readonly setup: World.WorldSetup
  /** What an undisturbed run ends as. */
  readonly undisturbed: Ending
  /** What a run with one fault may end as. */
  readonly disturbed: ReadonlyArray<Ending>
  /** What the undisturbed night after it may end as. */
  readonly nextNight: ReadonlyArray<Ending>
  /** Every target of the undisturbed run × the three fault kinds. */
  readonly cases: number
  /**
   * The app whose undisturbed run gives the targets, when the path's own run makes no side effect
   * (a paused app): every step the enabled app would make fails, hangs or is interrupted, and the
   * paused app, over before any of it, must still touch nothing.
   */
  readonly targetsOf?: AppSpec
}

const endsAs = (allowed: ReadonlyArray<Ending>, outcome: Outcome.Outcome) =>
  allowed.includes(Outcome.format(outcome)) || (outcome._tag === "failed" && allowed.includes("failed"))

const running = (version: string, spec: AppSpec = app): World.AppSetup => Scenarios.running(version, spec)

const UPGRADED = `upgraded:${FROM}->${TO}`
const ROLLED_BACK = `rolled-back:${TO}->${FROM}`
/** The next night after a rollback: the failed release is not tried again. */
const HELD_FAILED = `held-failed-release:${FROM}->${TO}`

const upgrade = (release: World.ReleaseSpec, spec: AppSpec = app): World.WorldSetup => ({
  recipes: {
    keycloak: {
      tags: [OLD, FROM, TO],
      // A stateless app has nothing a release could migrate.
      releases: { [TO]: spec.stateful ? { migrate: migrateTo12, ...release } : release }
    }
  },
  servers: ["default"],
  apps: [running(FROM, spec)]
})

/** Updated in place by Swarm (no undeploy first): the old task may still answer after the deploy. */
const stateless: AppSpec = { ...app, stateful: false }

/** A rolled-back path: never anything but the rollback, and no retry of the release the next night. */
const rolledBack = (name: string, release: World.ReleaseSpec, cases: number, spec?: AppSpec): Path => ({
  name,
  ...(spec === undefined ? {} : { app: spec }),
  setup: upgrade(release, spec),
  undisturbed: ROLLED_BACK,
  disturbed: ["failed", ROLLED_BACK],
  // A rollback interrupted or with its record left is finished by the next night's recovery.
  nextNight: [HELD_FAILED, `recovered:${TO}->${FROM}`, ROLLED_BACK],
  cases
})

/** A held path: the hold, or a failure before the gate; never a deploy. */
const held = (name: string, setup: World.WorldSetup, hold: Ending, cases: number): Path => ({
  name,
  setup,
  undisturbed: hold,
  disturbed: ["failed", hold],
  nextNight: [hold],
  cases
})

/** An app of a config, not one warm-reconcile owns: neither `create` nor `keepDeployed`. */
const besideApp: AppSpec = { ...app, create: false, keepDeployed: false }
const paused: AppSpec = { ...app, enabled: false }
const CHAOS = "3f2a9c1+U"
const PAUSED = "paused:enabled=false"

/** A held path of an app of a config (issue 13). */
const beside = (name: string, setup: World.WorldSetup, hold: Ending, cases: number): Path => ({
  ...held(name, setup, hold, cases),
  app: besideApp
})

const FRESH = `deployed-fresh:${TO}`
const fresh = (name: string, setup: World.WorldSetup, cases: number): Path => ({
  name,
  setup,
  undisturbed: FRESH,
  disturbed: ["failed", FRESH],
  nextNight: [FRESH, `noop-healthy:${TO}`],
  cases
})

const PATHS: ReadonlyArray<Path> = [
  {
    name: "healthy upgrade",
    setup: upgrade({ health: "healthy" }),
    undisturbed: UPGRADED,
    // A fault in the deploy or its health gate rolls back; a fault in a later write does not undo it.
    disturbed: ["failed", UPGRADED, ROLLED_BACK],
    nextNight: [UPGRADED, `noop-healthy:${TO}`, `recovered:${TO}`, HELD_FAILED],
    cases: 114
  },
  rolledBack("upgrade to a release that answers 500, rolled back", { health: "never" }, 198),
  rolledBack("upgrade to a crash-looping release, rolled back", { health: "crash-loop" }, 183),
  fresh("fresh deploy", {
    recipes: { keycloak: { tags: [FROM, TO] } },
    servers: [],
    apps: [{ spec: app, env: false, secrets: [] }]
  }, 72),
  fresh("first deploy of an env file made by hand, secrets not generated yet", {
    recipes: { keycloak: { tags: [FROM, TO] } },
    servers: ["default"],
    apps: [{ spec: app, env: true, pinned: TO, secrets: ["admin_password_v1"], secretsGenerated: false }]
  }, 72),
  held(
    "major bump, held",
    { recipes: { keycloak: { tags: [FROM, MAJOR] } }, servers: ["default"], apps: [running(FROM)] },
    `held-major:${FROM}->${MAJOR}`,
    63
  ),
  held(
    "manual migration in a skipped version, held",
    {
      recipes: {
        keycloak: {
          tags: [FROM, "1.1.1+1.1.1", TO],
          notes: { "1.1.1+1.1.1": "ACTION REQUIRED: run the migration by hand before starting 1.1.1." }
        }
      },
      servers: ["default"],
      apps: [running(FROM)]
    },
    `held-manual-migration:${FROM}->${TO}`,
    66
  ),
  // The gate judges the new release across the stack (issue 15).
  {
    name: "stateless healthy upgrade, the old task serving through its grace period",
    app: stateless,
    setup: upgrade({ health: "healthy", oldTaskServes: "6 seconds" }, stateless),
    undisturbed: UPGRADED,
    disturbed: ["failed", UPGRADED, ROLLED_BACK],
    nextNight: [UPGRADED, `noop-healthy:${TO}`, `recovered:${TO}`, HELD_FAILED],
    // One probe more than before the gate counted an answer only between two converged looks.
    cases: 111
  },
  rolledBack(
    "stateless upgrade to a release that answers 404 while the old task still answers 200, rolled back",
    { health: { timeline: [{ from: 0, status: 404 }] }, oldTaskServes: "6 seconds" },
    171,
    stateless
  ),
  rolledBack("upgrade whose db service crash-loops while app answers, rolled back", {
    services: { db: "crash-loop" }
  }, 183),
  rolledBack("upgrade whose worker never gets a node, rolled back", { services: { worker: "pending" } }, 198),
  rolledBack(
    "stateless upgrade that Swarm rolls back by itself, rolled back",
    { health: { timeline: [{ from: 0, status: 404 }] }, swarmRollbackAfter: "3 seconds" },
    120,
    stateless
  ),
  // Beside a person (issue 13): a newer release is out, and nothing may be touched, whatever fails.
  beside(
    "a person's chaos deploy, held and untouched",
    {
      recipes: { keycloak: { tags: [OLD, FROM, TO] } },
      servers: ["default"],
      apps: [Scenarios.running(FROM, besideApp, { chaos: CHAOS })]
    },
    `held-chaos:${CHAOS}`,
    36
  ),
  beside(
    "an app a person undeployed, left undeployed",
    {
      recipes: { keycloak: { tags: [OLD, FROM, TO] } },
      servers: ["default"],
      // As a person's `abra app undeploy` leaves it: the env file, its pin, secrets and volumes.
      apps: [{
        spec: besideApp,
        env: true,
        pinned: FROM,
        volumes: { data: Scenarios.DATA_BEFORE },
        secrets: ["admin_password_v1"],
        secretsGenerated: true,
        lastGood: FROM
      }]
    },
    `held-undeployed:${FROM}`,
    24
  ),
  {
    ...held(
      "a paused app, at every step the enabled app would make",
      upgrade({ health: "healthy" }, paused),
      PAUSED,
      114
    ),
    app: paused,
    targetsOf: app
  }
]

/** Cases in all; the per-path counts must add up to it. */
const TOTAL_CASES = 1725

/**
 * `npm test` sweeps one fault kind per target, the kind rotating from target to target from an
 * offset drawn afresh each run and printed (three runs cover the whole sweep between them); the
 * deep run (`npm run test:deep`) sweeps every case and records the figure docs/reliability.md
 * quotes.
 */
const STRIDE = DEEP ? 1 : 3
const OFFSET = DEEP ? 0 : Math.floor(Math.random() * 3)
/** Whether the case of the target at `t` and the kind at `k` is swept this run. */
const sweeps = (t: number, k: number) => (t + k + OFFSET) % STRIDE === 0
/** How many of a path's cases (three kinds per target) are swept this run. */
const swept = (cases: number) => cases / STRIDE

type FaultKind = "fail" | "hang" | "interrupt"
const KINDS: ReadonlyArray<FaultKind> = ["fail", "hang", "interrupt"]

const subject = (path: Path): Invariants.Subject => Invariants.subjectOf(path.setup)
const appOf = (path: Path): AppSpec => path.app ?? app

interface Verdict {
  readonly cases: number
  readonly held: number
  readonly failures: ReadonlyArray<string>
  /** Steps hit, with the deploys of last-good after a failed target counted as `redeploy`. */
  readonly steps: ReadonlySet<string>
}

/**
 * One case: `fault` injected into an undisturbed night of `path` (interrupted 1 ms into the target's
 * step with `interrupt`), then an undisturbed next night. What went wrong, by the path's own
 * expectations and the shared invariants; none when the case held.
 */
const runCase = (
  path: Path,
  target: { readonly at: number },
  fault: World.Fault,
  label: string,
  interrupt: boolean
) =>
  Effect.gen(function*() {
    const app = appOf(path)
    yield* Invariants.eventLoopTurn
    const world = yield* World.make({ ...path.setup, faults: [fault] })
    const start = yield* world.state.get
    // An interruption arrives 1 ms into the step (which hangs so that it is still under way).
    const first = yield* rehearse(app, world, interrupt ? { interruptAfter: target.at + 1 } : {})
    const caseFailures = Invariants.check(subject(path), start, first.world, first.outcome, first.interrupted)
      .map((f) => `${path.name} / ${label}: ${f}`)
    if (interrupt && !first.interrupted && path.targetsOf === undefined) {
      caseFailures.push(`${path.name} / ${label}: not interrupted`)
    }
    if (!endsAs(path.disturbed, first.outcome)) {
      caseFailures.push(`${path.name} / ${label}: ended ${Outcome.format(first.outcome)}`)
    }
    yield* World.restart(world)
    const next = yield* rehearse(app, world, { startMillis: 86_400_000 })
    if (!endsAs(path.nextNight, next.outcome)) {
      caseFailures.push(`${path.name} / ${label}: the next night ended ${Outcome.format(next.outcome)}`)
    }
    caseFailures.push(
      ...Invariants.check(subject(path), first.world, next.world, next.outcome, false)
        .map((f) => `${path.name} / ${label}, then the next night: ${f}`)
    )
    const nights = Invariants.ledger(subject(path))
    nights.night({ before: start, after: first.world, outcome: first.outcome, crashed: first.world.crashed })
    nights.night({ before: first.world, after: next.world, outcome: next.outcome, crashed: false })
    caseFailures.push(...nights.close().map((f) => `${path.name} / ${label}: ${f}`))
    // After an undisturbed night the app is up on a healthy version with its data; an app a
    // person left as it is, as it was, on its documented hold.
    const a = next.world.apps.get(app.name)!
    const version = Option.getOrUndefined(Option.map(a.deployment, (d) => d.version))
    if (subject(path).aside !== undefined) {
      caseFailures.push(
        ...Invariants.asideAtEnd(subject(path), start, next.world, next.outcome).map((f) =>
          `${path.name} / ${label}: ${f}`
        )
      )
    } else if (version === undefined || !Invariants.answersHealthy(subject(path), version)) {
      caseFailures.push(`${path.name} / ${label}: after the next night ${version ?? "nothing"} runs`)
    }
    if (next.world.inFlight.size > 0) caseFailures.push(`${path.name} / ${label}: an in-flight record is left`)
    return caseFailures
  })

/** Every target × every fault kind of one path, each followed by an undisturbed next night. */
const sweep = (path: Path) =>
  Effect.gen(function*() {
    const app = appOf(path)
    const clean = yield* rehearse(app, path.setup)
    const targetRun = path.targetsOf === undefined ? clean : yield* rehearse(path.targetsOf, path.setup)
    const failures: Array<string> = []
    if (Outcome.format(clean.outcome) !== path.undisturbed) {
      failures.push(`${path.name}: an undisturbed run ended ${Outcome.format(clean.outcome)}, not ${path.undisturbed}`)
    }
    const steps = new Set<string>()
    let cases = 0
    let held = 0
    for (const [t, target] of targets(targetRun.world.trace).entries()) {
      steps.add(target.step === "deploy" && target.detail.endsWith(` ${FROM}`) ? "redeploy" : target.step)
      for (const [k, kind] of KINDS.entries()) {
        if (!sweeps(t, k)) continue
        const label = `${kind} at ${target.step}#${target.occurrence} (${target.detail})`
        const caseFailures = yield* runCase(
          path,
          target,
          { step: target.step, kind: kind === "fail" ? "fail" : "hang", after: target.occurrence, times: 1 },
          label,
          kind === "interrupt"
        )
        cases++
        if (caseFailures.length === 0) held++
        failures.push(...caseFailures)
      }
    }
    return { cases, held, failures, steps } satisfies Verdict
  })

/**
 * Each path's verdict, swept once per test file run: the per-path tests and the coverage test
 * share it, and the coverage test sweeps what no test before it did, so it holds whatever order
 * or filter the tests run in.
 */
const verdicts = new Map<string, Verdict>()
const verdictOf = (path: Path) =>
  Effect.suspend(() => {
    const done = verdicts.get(path.name)
    return done === undefined ? Effect.tap(sweep(path), (v) => verdicts.set(path.name, v)) : Effect.succeed(done)
  })

/**
 * The writes that are retried (an alert, a hold record) failing every time, every retry too, in
 * every path that makes them: the one fault the sweep above, whose faults fire once, never gives.
 * An alert that could not be written is late, never lost: its record stays for the next night.
 */
const WRITES = new Set(["alert", "hold-write"])

describe("a write that fails every time, in every path", () => {
  it.effect(
    "each alert and hold write failing on every try: the case holds, and the next night tells",
    () =>
      Effect.gen(function*() {
        let cases = 0
        const failures: Array<string> = []
        for (const path of PATHS) {
          const targetRun = yield* rehearse(path.targetsOf ?? appOf(path), path.setup)
          for (const target of targets(targetRun.world.trace).filter((t) => WRITES.has(t.step))) {
            const label = `every try of ${target.step}#${target.occurrence} fails (${target.detail})`
            cases++
            failures.push(
              ...(yield* runCase(
                path,
                target,
                { step: target.step, kind: "fail", after: target.occurrence },
                label,
                false
              ))
            )
          }
        }
        console.log(`fault sweep, writes failing every time: ${cases} cases, ${cases - failures.length} held`)
        if (failures.length) console.log(failures.slice(0, 20).join("\n"))
        expect(failures).toEqual([])
        // Every path that alerts or holds makes at least one such write.
        expect(cases).toBeGreaterThanOrEqual(12)
      }),
    120_000
  )
})

describe("a fault at every side effect of every path", () => {
  it("the per-path case counts add up to the total", () => {
    expect(PATHS.reduce((n, p) => n + p.cases, 0)).toBe(TOTAL_CASES)
  })

  for (const path of PATHS) {
    it.effect(path.name, () =>
      Effect.gen(function*() {
        const v = yield* verdictOf(path)
        console.log(`fault sweep, ${path.name}: ${v.cases} cases, ${v.held} held`)
        if (v.failures.length) console.log(v.failures.slice(0, 20).join("\n"))
        expect(v.failures).toEqual([])
        expect(v.cases).toBe(swept(path.cases))
      }), 120_000)
  }

  it.effect("covers every step the issue names, with every fault", () =>
    Effect.gen(function*() {
      const all = yield* Effect.forEach(PATHS, verdictOf)
      const cases = all.reduce((n, v) => n + v.cases, 0)
      const heldCases = all.reduce((n, v) => n + v.held, 0)
      const steps = new Set(all.flatMap((v) => [...v.steps]))
      console.log(
        `fault sweep, all paths: ${cases} cases, ${heldCases} held` +
          (DEEP
            ? ""
            : ` (one fault kind per target, from kind ${OFFSET}: \`npm run test:deep\` sweeps all ${TOTAL_CASES})`)
      )
      expect(cases).toBe(PATHS.reduce((n, p) => n + swept(p.cases), 0))
      expect(heldCases).toBe(cases)
      if (DEEP) {
        Figures.record("faults", {
          "all.cases": cases,
          "all.held": heldCases,
          // Numbered so that the page can quote them in the order it lists the paths.
          ...Object.fromEntries(PATHS.map((p, i) => [`path ${i + 1}, ${p.name}: cases`, all[i]!.cases]))
        })
      }
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
        "snapshot-precopy",
        "undeploy",
        "snapshot",
        "deploy",
        "health",
        "last-good-write",
        "alert",
        "restore",
        "redeploy"
      ]
      expect(named.filter((step) => !steps.has(step))).toEqual([])
    }), 600_000)
})
