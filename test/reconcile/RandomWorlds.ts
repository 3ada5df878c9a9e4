/**
 * Random worlds for the property tests: tag sets (junk, pre-releases and majors included), release
 * notes with and without manual-migration warnings, health timelines per release, migrations, an
 * app in any state, injected faults (fail, hang, crash) and SIGTERM at a random moment. Each case
 * runs the real program, boots again after a crash, and runs an undisturbed next night; the
 * invariants of test/support/invariants.ts are checked after every run.
 */
import { expect, it } from "@effect/vitest"
import { Duration, Effect, Option } from "effect"
import fc from "fast-check"
import { HealthConfig } from "../../src/domain/Config.js"
import type { UpgradePolicy } from "../../src/domain/Policy.js"
import { rehearse } from "../../src/simulation/Rehearsal.js"
import { demoApp } from "../../src/simulation/Scenarios.js"
import * as World from "../../src/simulation/World.js"
import * as Invariants from "../support/invariants.js"

const TAGS = [
  "1.0.0+1.0",
  "1.1.0+1.1",
  "1.1.1+1.1.1",
  "1.2.0+1.2",
  "1.3.0+2.0", // the app's major goes up
  "2.0.0+2.0",
  "1.4.0-rc1+1.4", // a pre-release: never latest
  "1.2", // junk for a recipe tag: not a version
  "latest"
] as const
const DEPLOYABLE = TAGS.slice(0, 6)
const RARE: ReadonlySet<string> = new Set(["1.3.0+2.0", "2.0.0+2.0", "1.4.0-rc1+1.4", "1.2", "latest"])

/** A migration by `version`: it stamps the data with its schema, and leaves stamped data alone. */
const migrateBy = (version: string) => (_volume: string, files: World.Files): World.Files =>
  files.get("schema") === version ? files : new Map([
    ...[...files].map(([path, content]) => [path, `${content} +${version}`] as const),
    ["schema", version]
  ])

const health: fc.Arbitrary<NonNullable<World.ReleaseSpec["health"]>> = fc.oneof(
  { weight: 4, arbitrary: fc.constant("healthy" as const) },
  { weight: 2, arbitrary: fc.constant("never" as const) },
  { weight: 2, arbitrary: fc.constant("crash-loop" as const) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 15 }).map((s) => ({ healthyAfter: Duration.seconds(s) })) }
)

const notes = fc.oneof(
  { weight: 4, arbitrary: fc.constant("Bug fixes.") },
  { weight: 1, arbitrary: fc.constant("ACTION REQUIRED: migrate the database by hand before starting.") },
  { weight: 1, arbitrary: fc.constant("") }
)

const STEPS: ReadonlyArray<World.Step> = [
  "server",
  "fetch",
  "tags",
  "notes",
  "checkout",
  "env-read",
  "app-new",
  "secrets-list",
  "secrets-generate",
  "deployed-check",
  "deployed-version",
  "volumes",
  "tasks",
  "undeploy",
  "snapshot",
  "snapshot-show",
  "deploy",
  "health",
  "last-good-read",
  "last-good-write",
  "hold-read",
  "hold-write",
  "history",
  "in-flight-read",
  "in-flight-write",
  "alert",
  "restore"
]

const fault: fc.Arbitrary<World.Fault> = fc.record({
  step: fc.constantFrom<World.Step | "any">(...STEPS, "any"),
  kind: fc.constantFrom<World.Fault["kind"]>("fail", "hang", "crash"),
  after: fc.integer({ min: 0, max: 12 }),
  times: fc.option(fc.constant(1), { nil: undefined, freq: 3 })
}).map(({ after, kind, step, times }) => ({ step, kind, after, ...(times === undefined ? {} : { times }) }))

export interface Case {
  readonly tags: ReadonlyArray<string>
  readonly releases: Readonly<Record<string, World.ReleaseSpec>>
  readonly notes: Readonly<Record<string, string>>
  readonly deployed: string | undefined
  readonly env: boolean
  readonly stateful: boolean
  readonly policy: UpgradePolicy
  readonly brokenUntilRedeploy: boolean
  readonly faults: ReadonlyArray<World.Fault>
  readonly interruptAfter: number | undefined
}

export const arbitraryCase: fc.Arbitrary<Case> = fc
  .record({
    // Majors, junk and pre-releases in a quarter of the worlds each, so that most worlds upgrade.
    tags: fc.tuple(...TAGS.map((tag) => fc.integer({ min: 0, max: 7 }).map((n) => n < (RARE.has(tag) ? 2 : 5))))
      .map((on) => TAGS.filter((_, i) => on[i]))
      .filter((tags) => tags.length > 0),
    releaseHealth: fc.array(health, { minLength: TAGS.length, maxLength: TAGS.length }),
    migrates: fc.array(fc.boolean(), { minLength: TAGS.length, maxLength: TAGS.length }),
    releaseNotes: fc.array(notes, { minLength: TAGS.length, maxLength: TAGS.length }),
    deployed: fc.option(fc.constantFrom(...DEPLOYABLE), { nil: undefined, freq: 6 }),
    env: fc.boolean(),
    stateful: fc.boolean(),
    policy: fc.constantFrom<UpgradePolicy>("minor", "minor", "patch", "none"),
    brokenUntilRedeploy: fc.constantFrom(false, false, false, true),
    faults: fc.array(fault, { maxLength: 2 }),
    interruptAfter: fc.option(fc.integer({ min: 0, max: 60_000 }), { nil: undefined, freq: 4 })
  })
  .map((g) => {
    const releases: Record<string, World.ReleaseSpec> = {}
    const notesByTag: Record<string, string> = {}
    TAGS.forEach((tag, i) => {
      releases[tag] = {
        health: g.releaseHealth[i]!,
        ...(g.migrates[i] && tag !== g.deployed ? { migrate: migrateBy(tag) } : {})
      }
      notesByTag[tag] = g.releaseNotes[i]!
    })
    // The running version is healthy unless the case says its deployment is stuck.
    if (g.deployed !== undefined) releases[g.deployed] = { health: "healthy" }
    return {
      // The running version's tag is published (a recipe that deleted it cannot be rolled back to).
      tags: g.deployed === undefined || g.tags.includes(g.deployed) ? g.tags : [g.deployed, ...g.tags],
      releases,
      notes: notesByTag,
      deployed: g.deployed,
      env: g.deployed !== undefined || g.env,
      stateful: g.stateful,
      policy: g.policy,
      brokenUntilRedeploy: g.deployed !== undefined && g.brokenUntilRedeploy,
      faults: g.faults,
      interruptAfter: g.interruptAfter
    }
  })

const INITIAL_DATA = { "db/main": "rows", "db/index": "idx" }

/** One case: the run (with its faults), a boot after a crash, and an undisturbed next night. */
export const runCase = (c: Case) =>
  Effect.gen(function*() {
    const app = {
      ...demoApp({ stateful: c.stateful, upgrade: c.policy }),
      health: new HealthConfig({
        path: "/",
        timeout: Duration.seconds(8),
        // Scaled down with the timeout (the defaults are 15 minutes and 10 s).
        attemptTimeout: Duration.seconds(1),
        interval: Duration.seconds(1),
        settle: Duration.seconds(4)
      })
    }
    const subject: Invariants.Subject = {
      app: app.name,
      recipe: app.recipe,
      initial: c.deployed,
      initialData: c.stateful && c.deployed !== undefined ? JSON.stringify(sortedData(INITIAL_DATA)) : undefined,
      releases: c.releases,
      volume: "data"
    }
    const world = yield* World.make({
      recipes: { keycloak: { tags: c.tags, notes: c.notes, releases: c.releases } },
      servers: ["default"],
      apps: [{
        spec: app,
        env: c.env,
        ...(c.deployed === undefined ? {} : { deployed: c.deployed, pinned: c.deployed, lastGood: c.deployed }),
        // A deployed stateful app has data; a fresh one gets its volume from its first deploy.
        ...(c.stateful && c.deployed !== undefined ? { volumes: { data: INITIAL_DATA } } : {}),
        secrets: ["admin_password_v1"],
        secretsGenerated: c.deployed !== undefined,
        brokenUntilRedeploy: c.brokenUntilRedeploy
      }],
      faults: c.faults
    })
    const failures: Array<string> = []
    const runs: Array<string> = []
    let night = 0
    const once = (options: { readonly interruptAfter?: number }) =>
      Effect.gen(function*() {
        const before = yield* world.state.get
        const startMillis = night++ * 86_400_000
        const r = yield* rehearse(app, world, {
          startMillis,
          ...(options.interruptAfter === undefined ? {} : { interruptAfter: options.interruptAfter })
        })
        runs.push(`${r.interrupted ? "interrupted, " : ""}${r.world.crashed ? "crashed, " : ""}${r.outcome._tag}`)
        // A crashed run's outcome is never seen by anyone (the process is dead): only the world counts.
        if (!r.world.crashed) {
          failures.push(...Invariants.check(subject, before, r.world, r.outcome, r.interrupted))
        }
        return r
      })
    const first = yield* once(c.interruptAfter === undefined ? {} : { interruptAfter: c.interruptAfter })
    if (first.world.crashed) {
      yield* World.restart(world, [])
      yield* once({})
    } else {
      yield* World.restart(world, [])
    }
    const last = yield* once({})
    // After an undisturbed night: nothing left in flight, and the app, if deployed, is on a version
    // that answers healthy, unless the run says a person must act.
    if (last.world.inFlight.size > 0 && last.outcome._tag !== "rollback-failed") {
      failures.push("an in-flight record is left after an undisturbed night")
    }
    const a = last.world.apps.get(app.name)!
    const running = Option.getOrUndefined(Option.map(a.deployment, (d) => d.version))
    if (running !== undefined && !Invariants.answersHealthy(subject, running) && last.outcome._tag !== "unhealthy") {
      failures.push(`after an undisturbed night ${running} runs unhealthy (${last.outcome._tag})`)
    }
    return { failures, runs }
  })

const sortedData = (record: Readonly<Record<string, string>>) =>
  Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b)))

/** Runs per property file: two files of 5,000 (10,000 in all), run side by side by vitest. */
export const RUNS = Number(process.env["WARM_PROPERTY_RUNS"] ?? 5000)

/** A vitest case: `runs` random worlds from `seed`; prints how many ran and held, and the outcomes. */
export const propertySuite = (seed: number, runs = RUNS) =>
  it.effect(`${runs} random worlds from seed ${seed}: every run keeps the invariants`, () =>
    Effect.gen(function*() {
      let ran = 0
      let held = 0
      let first: string | undefined
      const outcomes = new Map<string, number>()
      const result = yield* Effect.promise(() =>
        fc.check(
          fc.asyncProperty(arbitraryCase, async (c) => {
            const r = await Effect.runPromise(Effect.zipRight(Invariants.eventLoopTurn, runCase(c)))
            ran++
            if (r.failures.length === 0) held++
            outcomes.set(r.runs[0]!, (outcomes.get(r.runs[0]!) ?? 0) + 1)
            if (r.failures.length > 0) {
              first ??= `${r.failures.join("; ")} [runs: ${r.runs.join(" | ")}] in ${describeCase(c)}`
              throw new Error(first)
            }
          }),
          { numRuns: runs, seed, endOnFailure: true }
        )
      )
      console.log(`property runs (random worlds, seed ${seed}): ${ran} runs, ${held} held`)
      console.log(
        `first runs ended: ${[...outcomes].sort(([, a], [, b]) => b - a).map(([k, n]) => `${k} ${n}`).join(", ")}`
      )
      if (result.failed) console.log(`first failure: ${first}`)
      expect(result.failed).toBe(false)
      expect(ran).toBe(runs)
    }), 900_000)

/** A case as one line (the migrations as the versions that migrate). */
export const describeCase = (c: Case): string =>
  JSON.stringify({
    ...c,
    releases: Object.fromEntries(
      c.tags.map((t) => [t, `${JSON.stringify(c.releases[t]?.health)}${c.releases[t]?.migrate ? " migrates" : ""}`])
    ),
    notes: Object.fromEntries(c.tags.map((t) => [t, c.notes[t]]))
  })
