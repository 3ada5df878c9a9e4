/**
 * `plan` and `reconcile` agree (issue 13, item 8). On the simulated world: what stops a run before
 * it changes anything (a server abra does not know, no env file, another recipe's env file, a dirty
 * recipe clone) stops the plan with the same message, and the plan changes nothing. Through the CLI:
 * a run that holds the app's lock is reported as running, not as an unfinished upgrade to recover.
 */
import { NodeFileSystem } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Duration, Effect, Exit, Option, Ref } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { lookBriefly, PLAN_HEALTH_LOOK } from "../../src/cli/Plan.js"
import { AppConfig, type AppName, type AppSpec, appSpec, HealthConfig } from "../../src/domain/Config.js"
import * as Outcome from "../../src/domain/Outcome.js"
import * as LiveLock from "../../src/live/Lock.js"
import { observe } from "../../src/reconcile/Observe.js"
import { Lock } from "../../src/services/Lock.js"
import { rehearse } from "../../src/simulation/Rehearsal.js"
import * as Scenarios from "../../src/simulation/Scenarios.js"
import { layerFor } from "../../src/simulation/Simulation.js"
import { runOnVirtualClock } from "../../src/simulation/VirtualClock.js"
import type { AppSetup, RecipeSpec, Step } from "../../src/simulation/World.js"
import * as World from "../../src/simulation/World.js"
import { cli } from "../support/cli.js"
import { scopedAbraWorld, writeConfig } from "../support/fakeAbra.js"

const TAGS: RecipeSpec = { tags: ["1.1.0+1.1", "1.2.0+1.2"] }
const CHANGES = new Set<Step>(["checkout", "app-new", "secrets-generate", "undeploy", "snapshot", "deploy", "restore"])

const spec = (more: Partial<ConstructorParameters<typeof AppConfig>[0]> = {}): AppSpec =>
  appSpec("kc" as AppName, new AppConfig({ recipe: "keycloak", domain: "id.example.org", ...more }))

/** The plan (a read-only observe) and a run, each in its own copy of the same world. */
const planAndRun = (app: AppSpec, apps: ReadonlyArray<AppSetup>, recipe: RecipeSpec = TAGS) =>
  Effect.gen(function*() {
    const setup = { recipes: { keycloak: recipe }, apps, servers: ["default"], faults: [] }
    const world = yield* World.make(setup)
    const planned = yield* runOnVirtualClock(observe(app, { readOnly: true }).pipe(Effect.provide(layerFor(world))))
    const planTrace = (yield* Ref.get(world.state)).trace.map((t) => t.step)
    const run = yield* rehearse(app, setup)
    const stopped = Exit.isFailure(planned) ? Option.getOrUndefined(Cause.failureOption(planned.cause)) : undefined
    return { planned, stopped, planTrace, run }
  })

/** The run's message: a config that does not fit (exit 2) or the reason of `failed` (exit 1). */
const runMessage = (run: { readonly outcome: Outcome.Outcome; readonly mismatch?: { readonly message: string } }) =>
  run.mismatch?.message ?? (run.outcome as Extract<Outcome.Outcome, { _tag: "failed" }>).reason

describe("plan stops where reconcile stops, with the same message, changing nothing", () => {
  it.effect("a server abra does not know; no env file; another recipe's env file; a dirty clone", () =>
    Effect.gen(function*() {
      const onFar = spec({ server: "far" })
      const cases = [
        {
          what: "server",
          r: yield* planAndRun(onFar, [{ spec: onFar, env: false }]),
          says: "does not know the server far"
        },
        { what: "env", r: yield* planAndRun(spec(), [{ spec: spec(), env: false }]), says: "no env file at" },
        {
          what: "recipe",
          r: yield* planAndRun(spec(), [Scenarios.running("1.1.0+1.1", spec(), { envRecipe: "nextcloud" })]),
          says: "is for the recipe nextcloud"
        },
        {
          what: "clone",
          r: yield* planAndRun(spec(), [Scenarios.running("1.1.0+1.1", spec())], {
            ...TAGS,
            localChanges: " M compose.yml"
          }),
          says: "M compose.yml"
        }
      ]
      for (const { r, says, what } of cases) {
        expect(r.stopped?.message, what).toContain(says)
        expect(r.stopped?.message, what).toBe(runMessage(r.run))
        // The same exit code: 2 for a config that does not fit abra's files, else 1.
        expect(r.stopped?._tag === "ConfigMismatch", what).toBe(r.run.mismatch !== undefined)
        expect(r.planTrace.filter((s) => CHANGES.has(s)), what).toEqual([])
      }
      // Nothing in the way: the plan is the run's upgrade.
      const clean = yield* planAndRun(spec(), [Scenarios.running("1.1.0+1.1", spec())])
      expect(Exit.isSuccess(clean.planned) && clean.planned.value.plan._tag).toBe("Upgrade")
      expect(Outcome.format(clean.run.outcome)).toBe("upgraded:1.1.0+1.1->1.2.0+1.2")
    }))
})

describe("plan while another run holds the app's lock", () => {
  it.scopedLive(
    "running now, not an upgrade to recover; a lock file left behind is no live run",
    () =>
      Effect.gen(function*() {
        const world = yield* scopedAbraWorld()
        // Only abra's directory: with a live run upgrading, the plan looks at nothing else.
        Fs.mkdirSync(Path.join(world.abraDir, "servers", "default"), { recursive: true })
        const stateDir = Path.join(world.root, "state")
        Fs.mkdirSync(Path.join(stateDir, "kc"), { recursive: true, mode: 0o700 })
        const record = {
          from: "1.1.0+1.1",
          to: "1.2.0+1.2",
          fromHealthy: true,
          snapshot: null,
          phase: "deploy",
          pid: 4242,
          startedAt: "2026-01-01T02:00:00Z"
        }
        Fs.writeFileSync(Path.join(stateDir, "kc", "in-flight.json"), JSON.stringify(record))
        const config = writeConfig(world, { kc: { recipe: "keycloak", domain: "id.example.org" } })
        const env = { ...world.env, DOCKER_HOST: "unix:///nonexistent/docker.sock" }
        const lock = Effect.flatMap(Lock, (lock) => lock.acquire("kc", "1 second")).pipe(
          Effect.provide(LiveLock.layer({ stateDir }))
        )

        // No lock file, then one a finished run left behind: no live run (the record is a killed run's).
        expect(Option.isNone(yield* LiveLock.liveHolder(stateDir, "kc"))).toBe(true)
        yield* Effect.scoped(lock)
        expect(Fs.existsSync(Path.join(stateDir, "kc", "lock"))).toBe(true)
        expect(Option.isNone(yield* LiveLock.liveHolder(stateDir, "kc"))).toBe(true)

        // This process holds it, as a live run does.
        yield* lock
        expect(Option.map(yield* LiveLock.liveHolder(stateDir, "kc"), (h) => h.pid)).toEqual(Option.some(process.pid))
        const since = JSON.parse(Fs.readFileSync(Path.join(stateDir, "kc", "lock"), "utf8")).since
        const plan = yield* cli(["plan", "kc", "--config", config, "--skip-fetch"], env)
        expect(plan.code, plan.stderr).toBe(0)
        expect(plan.stdout).toBe(
          `PLAN kc: running now: a warm-reconcile run (pid ${process.pid}, since ${since}) is upgrading ` +
            "1.1.0+1.1 -> 1.2.0+1.2 (phase deploy); plan again once it has ended\n"
        )
      }).pipe(Effect.provide(NodeFileSystem.layer)),
    { timeout: 120_000 }
  )
})

describe("plan looks at the running version's health briefly", () => {
  it("a settle time and a health timeout longer than the look are cut to it; shorter ones are kept", () => {
    const slow = spec({ health: new HealthConfig({ settle: Duration.seconds(60), timeout: Duration.minutes(15) }) })
    const looked = lookBriefly(slow)
    expect(Duration.toMillis(looked.health.settle)).toBe(Duration.toMillis(PLAN_HEALTH_LOOK))
    expect(Duration.toMillis(looked.health.timeout)).toBe(Duration.toMillis(PLAN_HEALTH_LOOK))
    const quick = lookBriefly(
      spec({ health: new HealthConfig({ settle: Duration.seconds(2), timeout: Duration.seconds(3) }) })
    )
    expect(Duration.toMillis(quick.health.settle)).toBe(2_000)
    expect(Duration.toMillis(quick.health.timeout)).toBe(3_000)
    // Nothing else of the app changes.
    expect({ ...looked, health: undefined }).toEqual({ ...slow, health: undefined })
  })
})
