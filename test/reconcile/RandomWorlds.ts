/**
 * Random worlds for the property tests: tag sets (junk, short tags, pre-releases and majors
 * included), release notes with and without manual-migration warnings, health timelines per release
 * (slow starts, crash loops, timelines that flap), migrations, an app in any state, a short or a long
 * health deadline, injected faults (fail, hang, crash; once, a few times or every time, on alert and
 * record writes more often) and SIGTERM at a random moment. Most worlds are shaped so that the
 * upgrade transaction starts. Some worlds are stacks (issue 15: another service that crash-loops
 * or never gets a node, a Docker healthcheck, Swarm rolling back by itself); some are apps a person
 * left as they are (issue 13: paused, a chaos deploy, undeployed by hand); some deliver their alerts
 * to channels with filters, which may fail (issue 16). Each case runs the real program for two or
 * three nights; the invariants, the alert ledger and the deliveries of test/support/invariants.ts
 * are checked. The suites that run them, and their seeds, are in PropertySuite.ts.
 */
import { Duration, Effect, Option, Ref, Schedule } from "effect"
import fc from "fast-check"
import { HealthConfig } from "../../src/domain/Config.js"
import { NotifyChannel } from "../../src/domain/Notify.js"
import type { UpgradePolicy } from "../../src/domain/Policy.js"
import { deliverOutbox } from "../../src/reconcile/Deliver.js"
import { Notifier } from "../../src/services/Notifier.js"
import * as SimulatedNotifier from "../../src/simulation/Notifier.js"
import { rehearse } from "../../src/simulation/Rehearsal.js"
import { demoApp } from "../../src/simulation/Scenarios.js"
import { runOnVirtualClock } from "../../src/simulation/VirtualClock.js"
import * as World from "../../src/simulation/World.js"
import * as Invariants from "../support/invariants.js"

const TAGS = [
  "1.0.0+1.0",
  "1.1.0+1.1",
  "1.1.1+1.1.1",
  "1.2", // a short tag: recipe 1.2 and no app part, a real version (after 1.1.1, before 1.2.0)
  "1.2.0+1.2",
  "1.2.1+1.2.1",
  "1.3.0+2.0", // the app's major goes up
  "2.0.0+2.0", // the recipe's major goes up
  "1.4.0-rc1+1.4", // a pre-release: never latest
  "v1.5.0+1.5", // junk: a leading `v` is not a version, however new it looks
  "latest" // junk
] as const
type Tag = (typeof TAGS)[number]
/** How often each tag is published, in percent. */
const PUBLISHED: Record<Tag, number> = {
  "1.0.0+1.0": 60,
  "1.1.0+1.1": 80,
  "1.1.1+1.1.1": 50,
  "1.2": 25,
  "1.2.0+1.2": 85,
  "1.2.1+1.2.1": 40,
  "1.3.0+2.0": 15,
  "2.0.0+2.0": 15,
  "1.4.0-rc1+1.4": 30,
  "v1.5.0+1.5": 30,
  "latest": 30
}
const MAJORS: ReadonlyArray<string> = ["1.3.0+2.0", "2.0.0+2.0"]
/** Versions an app may run before the first night (below the usual latest, so that most upgrade). */
const RUNNING = ["1.0.0+1.0", "1.1.0+1.1", "1.1.1+1.1.1", "1.2"] as const

/** A migration by `version`: it stamps the data with its schema, and leaves stamped data alone. */
const migrateBy = (version: string) => (_volume: string, files: World.Files): World.Files =>
  files.get("schema") === version ? files : new Map([
    ...[...files].map(([path, content]) => [path, `${content} +${version}`] as const),
    ["schema", version]
  ])

/**
 * A health timeline that flaps: one to four stretches of 1-6 s, each healthy, 500, 503 or silent, the
 * last one for good. A 200 stretch shorter than `successes` probes must not pass the gate.
 */
const timeline: fc.Arbitrary<World.Timeline> = fc.tuple(
  fc.integer({ min: 0, max: 3 }),
  fc.array(
    fc.record({ seconds: fc.integer({ min: 1, max: 6 }), status: fc.constantFrom(200, 200, 500, 503, null) }),
    { minLength: 1, maxLength: 4 }
  )
).map(([start, stretches]) => {
  let from = start * 1000
  return stretches.map(({ seconds, status }) => {
    const entry = { from, status }
    from += seconds * 1000
    return entry
  })
})

const health: fc.Arbitrary<NonNullable<World.ReleaseSpec["health"]>> = fc.oneof(
  { weight: 5, arbitrary: fc.constant("healthy" as const) },
  { weight: 1, arbitrary: fc.constant("never" as const) },
  { weight: 1, arbitrary: fc.constant("crash-loop" as const) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 15 }).map((s) => ({ healthyAfter: s * 1000 })) },
  { weight: 2, arbitrary: timeline.map((t) => ({ timeline: t })) }
)

/**
 * The rest of a release's stack (issue 15), in a stack world: another service that runs, crash-loops
 * or never gets a node; a Docker healthcheck that turns healthy or never does; or Swarm rolling the
 * update back by itself (`failure_action: rollback`, only ever on a release that does not answer 200).
 */
const stack: fc.Arbitrary<Partial<World.ReleaseSpec>> = fc.oneof(
  { weight: 2, arbitrary: fc.constant({}) },
  {
    weight: 2,
    arbitrary: fc.constantFrom({ db: "healthy" as const }, { worker: "healthy" as const }).map((services) => ({
      services
    }))
  },
  { weight: 2, arbitrary: fc.constant({ services: { db: "crash-loop" as const } }) },
  { weight: 1, arbitrary: fc.constant({ services: { worker: "pending" as const } }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom("healthy" as const, "unhealthy" as const).map((healthcheck) => ({ healthcheck }))
  },
  {
    weight: 2,
    arbitrary: fc.tuple(
      fc.integer({ min: 2, max: 6 }),
      fc.constantFrom<NonNullable<World.ReleaseSpec["health"]>>("never", {
        timeline: [{ from: 0, status: 404 }]
      })
    ).map(([s, health]) => ({ swarmRollbackAfter: s * 1000, health }))
  }
)

/** The channels a delivery world may have (issue 16): every alert, or a filter by app, reason or severity. */
const CHANNELS: ReadonlyArray<NotifyChannel> = [
  new NotifyChannel({ name: "all", url: "ntfy://ntfy.sh/all" }),
  new NotifyChannel({ name: "pager", url: "ntfy://ntfy.sh/pager", minSeverity: "critical" }),
  new NotifyChannel({ name: "warn", url: "gotify://gotify.example.org", minSeverity: "warning" }),
  new NotifyChannel({ name: "kc-mail", url: "smtp://m.example.org/?from=a@x.org&to=b@x.org", apps: ["keycloak"] }),
  new NotifyChannel({ name: "nc-only", url: "ntfy://ntfy.sh/nc", apps: ["nextcloud"] }),
  new NotifyChannel({ name: "rollbacks", url: "ntfy://ntfy.sh/rb", reasons: ["rollback", "rollback-failed"] })
]

/** A delivery fault: a channel's send fails, hangs past its time limit, or the process dies before it. */
const deliveryFault: fc.Arbitrary<World.Fault> = fc.record({
  kind: fc.constantFrom<World.Fault["kind"]>("fail", "fail", "hang", "crash"),
  after: fc.integer({ min: 0, max: 3 }),
  times: fc.constantFrom<number | undefined>(1, 2, 3, undefined)
}).map(({ after, kind, times }) => ({ step: "notify", kind, after, ...(times === undefined ? {} : { times }) }))

const MARKED = "ACTION REQUIRED: migrate the database by hand before starting."
const notes = fc.oneof(
  { weight: 8, arbitrary: fc.constant("Bug fixes.") },
  { weight: 1, arbitrary: fc.constant(MARKED) },
  { weight: 1, arbitrary: fc.constant("") }
)

/** Steps a fault may hit, alert and record writes more often: their failures are the rare ones. */
const STEPS: ReadonlyArray<readonly [World.Step | "any", number]> = [
  ["server", 1],
  ["fetch", 1],
  ["tags", 1],
  ["notes", 1],
  ["checkout", 1],
  ["env-read", 1],
  ["app-new", 1],
  ["secrets-list", 1],
  ["secrets-generate", 1],
  ["deployed-check", 1],
  ["deployed-version", 1],
  ["volumes", 1],
  ["tasks", 2],
  ["undeploy", 2],
  ["snapshot", 2],
  ["snapshot-show", 1],
  ["deploy", 3],
  ["health", 3],
  ["last-good-read", 1],
  ["last-good-write", 3],
  ["hold-read", 1],
  ["hold-write", 3],
  ["history", 2],
  ["in-flight-read", 1],
  ["in-flight-write", 3],
  ["alert", 5],
  ["restore", 3],
  ["any", 3]
]

/** A fault: once, a few times in a row, or every time (then every retry fails too). */
const fault: fc.Arbitrary<World.Fault> = fc.record({
  step: fc.oneof(...STEPS.map(([step, weight]) => ({ weight, arbitrary: fc.constant(step) }))),
  kind: fc.constantFrom<World.Fault["kind"]>("fail", "fail", "fail", "hang", "hang", "crash"),
  after: fc.integer({ min: 0, max: 6 }),
  anyAfter: fc.integer({ min: 0, max: 80 }),
  times: fc.constantFrom<number | undefined>(1, 1, 1, 2, 2, 3, undefined, undefined)
}).map(({ after, anyAfter, kind, step, times }) => ({
  step,
  kind,
  after: step === "any" ? anyAfter : after,
  ...(times === undefined ? {} : { times })
}))

export interface Case {
  readonly tags: ReadonlyArray<string>
  readonly releases: Readonly<Record<string, World.ReleaseSpec>>
  readonly notes: Readonly<Record<string, string>>
  readonly deployed: string | undefined
  /** The env file's pin of an app that is not deployed (undefined: none, or the deployed version). */
  readonly pinned: string | undefined
  /** Left as a person left it: paused, a chaos deploy of `chaos`, or undeployed by hand. */
  readonly aside: "paused" | "chaos" | "undeployed" | undefined
  readonly chaos: string | undefined
  /** The channels the alerts are delivered to after every night (none: no delivery). */
  readonly channels: ReadonlyArray<NotifyChannel>
  readonly env: boolean
  readonly stateful: boolean
  readonly policy: UpgradePolicy
  /** The health gate: a short deadline, or a long one that only crash-loop detection beats. */
  readonly timeoutSeconds: number
  readonly successes: number
  readonly brokenUntilRedeploy: boolean
  readonly faults: ReadonlyArray<World.Fault>
  /** The faults strike the second night too (the third is undisturbed). */
  readonly faultsTwice: boolean
  readonly interruptAfter: number | undefined
}

export const arbitraryCase: fc.Arbitrary<Case> = fc
  .record({
    // Seven worlds in ten are shaped for an upgrade: a newer release the gate lets through.
    shaped: fc.integer({ min: 0, max: 9 }).map((n) => n < 7),
    tags: fc.tuple(...TAGS.map((tag) => fc.integer({ min: 0, max: 99 }).map((n) => n < PUBLISHED[tag])))
      .map((on) => TAGS.filter((_, i) => on[i])),
    releaseHealth: fc.array(health, { minLength: TAGS.length, maxLength: TAGS.length }),
    migrates: fc.array(fc.boolean(), { minLength: TAGS.length, maxLength: TAGS.length }),
    // Deployed over a running stack (stateless), the old task serves its grace period in one in four.
    oldTaskServes: fc.array(
      fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 8 }) }),
      { minLength: TAGS.length, maxLength: TAGS.length }
    ),
    releaseNotes: fc.array(notes, { minLength: TAGS.length, maxLength: TAGS.length }),
    // (Weights, not integer ranges: fast-check draws the ends of a range more often.)
    // One world in ten is a stack of several services, with a healthcheck or Swarm's own rollback.
    stacked: fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    stacks: fc.array(stack, { minLength: TAGS.length, maxLength: TAGS.length }),
    // Three worlds in forty are an app a person left as it is: paused, a chaos deploy, undeployed.
    aside: fc.oneof(
      { weight: 37, arbitrary: fc.constant(undefined) },
      { weight: 3, arbitrary: fc.constantFrom("paused" as const, "chaos" as const, "undeployed" as const) }
    ),
    chaos: fc.constantFrom("3f2a9c1+U", "77be0d2", "deadbee+U"),
    // One world in ten delivers its alerts, to one or two channels, and a send may fail.
    channels: fc.oneof(
      { weight: 9, arbitrary: fc.constant<ReadonlyArray<NotifyChannel>>([]) },
      { weight: 1, arbitrary: fc.subarray([...CHANNELS], { minLength: 1, maxLength: 2 }) }
    ),
    deliveryFaults: fc.array(deliveryFault, { maxLength: 1 }),
    deployed: fc.oneof(
      { weight: 1, arbitrary: fc.constant(undefined) },
      { weight: 9, arbitrary: fc.constantFrom<string>(...RUNNING, "1.1.0+1.1", "1.1.0+1.1", "1.2.0+1.2") }
    ),
    env: fc.boolean(),
    stateful: fc.boolean(),
    policy: fc.constantFrom<UpgradePolicy>("minor", "minor", "minor", "minor", "patch", "none"),
    timeoutSeconds: fc.constantFrom(8, 40),
    successes: fc.constantFrom(2, 2, 2, 3),
    brokenUntilRedeploy: fc.integer({ min: 0, max: 7 }).map((n) => n === 0),
    faults: fc.array(fault, { maxLength: 2 }),
    faultsTwice: fc.integer({ min: 0, max: 3 }).map((n) => n === 0),
    // A SIGTERM in one case of five.
    interruptAfter: fc.oneof(
      { weight: 4, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 90_000 }) }
    )
  })
  .map((g) => {
    // An upgrade-shaped world: no majors, no warnings, policy minor, running below 1.2.0+1.2.
    const upgradeShaped = g.shaped && (g.deployed === undefined || g.deployed === "1.2.0+1.2" || g.deployed === "1.2")
      ? "1.1.0+1.1"
      : g.deployed
    // A chaos deploy runs over some version; an app undeployed by hand keeps its env file's pin.
    const deployed = g.aside === "undeployed"
      ? undefined
      : g.aside === "chaos"
      ? upgradeShaped ?? "1.1.0+1.1"
      : upgradeShaped
    const pinned = g.aside === "undeployed" ? g.deployed ?? "1.1.0+1.1" : undefined
    const tags = g.shaped
      ? [...new Set([...g.tags.filter((t) => !MAJORS.includes(t)), "1.2.0+1.2"])]
      : g.tags.length > 0
      ? g.tags
      : ["1.2.0+1.2"]
    const releases: Record<string, World.ReleaseSpec> = {}
    const notesByTag: Record<string, string> = {}
    TAGS.forEach((tag, i) => {
      releases[tag] = {
        health: g.releaseHealth[i]!,
        ...(g.migrates[i] && tag !== deployed ? { migrate: migrateBy(tag) } : {}),
        ...(g.oldTaskServes[i]! > 0 ? { oldTaskServes: g.oldTaskServes[i]! * 1000 } : {}),
        ...(g.stacked ? g.stacks[i] : {})
      }
      notesByTag[tag] = g.shaped && g.releaseNotes[i] === MARKED ? "Bug fixes." : g.releaseNotes[i]!
    })
    // The running version is healthy unless the case says its deployment is stuck.
    if (deployed !== undefined) releases[deployed] = { health: "healthy" }
    const faults = g.channels.length > 0 ? [...g.faults, ...g.deliveryFaults] : g.faults
    return {
      // The running version's tag is published (a recipe that deleted it cannot be rolled back to).
      tags: deployed === undefined || tags.includes(deployed) ? tags : [deployed, ...tags],
      releases,
      notes: notesByTag,
      deployed,
      pinned,
      aside: g.aside,
      chaos: g.aside === "chaos" ? g.chaos : undefined,
      channels: g.channels,
      env: deployed !== undefined || pinned !== undefined || g.env,
      stateful: g.stateful,
      policy: g.shaped ? "minor" : g.policy,
      timeoutSeconds: g.timeoutSeconds,
      successes: g.successes,
      brokenUntilRedeploy: deployed !== undefined && g.brokenUntilRedeploy,
      faults,
      faultsTwice: faults.length > 0 && g.faultsTwice,
      interruptAfter: g.interruptAfter
    }
  })

const INITIAL_DATA = { "db/main": "rows", "db/index": "idx" }

/** The world of a case. */
export const setupOf = (c: Case): World.WorldSetup => {
  const app = {
    ...demoApp({ stateful: c.stateful, upgrade: c.policy, keepDeployed: c.aside !== "undeployed" }),
    enabled: c.aside !== "paused",
    health: new HealthConfig({
      path: "/",
      timeout: Duration.seconds(c.timeoutSeconds),
      // Scaled down with the timeout (the defaults are 15 minutes and 10 s).
      attemptTimeout: Duration.seconds(1),
      interval: Duration.seconds(1),
      settle: Duration.seconds(4),
      successes: c.successes
    })
  }
  return {
    recipes: { keycloak: { tags: c.tags, notes: c.notes, releases: c.releases } },
    servers: ["default"],
    apps: [{
      spec: app,
      env: c.env,
      ...(c.deployed === undefined ? {} : { deployed: c.deployed, pinned: c.deployed, lastGood: c.deployed }),
      // Undeployed by hand: the env file, last-good and the volumes stay.
      ...(c.pinned === undefined ? {} : { pinned: c.pinned, lastGood: c.pinned }),
      ...(c.chaos === undefined ? {} : { chaos: c.chaos }),
      // A deployed stateful app has data; a fresh one gets its volume from its first deploy.
      ...(c.stateful && (c.deployed !== undefined || c.pinned !== undefined)
        ? { volumes: { data: INITIAL_DATA } }
        : {}),
      secrets: ["admin_password_v1"],
      secretsGenerated: c.deployed !== undefined,
      brokenUntilRedeploy: c.brokenUntilRedeploy
    }],
    faults: c.faults
  }
}

export interface CaseResult {
  readonly failures: ReadonlyArray<string>
  /** What each night ended as. */
  readonly runs: ReadonlyArray<string>
  /** Did the first night start an upgrade transaction (write its in-flight record, or try to)? */
  readonly upgradeStarted: boolean
  readonly exceptions: ReadonlyArray<Invariants.Exception>
}

/** The delivery after a night (as `reconcile` does it), an hour after the run began, on virtual time. */
const deliver = (notifier: Notifier["Type"], startMillis: number) =>
  deliverOutbox({ host: "h", stateDir: "/s", retry: Schedule.recurs(1), attemptTimeout: "30 seconds" }).pipe(
    Effect.provideService(Notifier, notifier),
    (delivery) => runOnVirtualClock(delivery, { startMillis: startMillis + 3_600_000 }),
    Effect.flatten
  )

/** Did a delivery fault strike (a channel's send failed, hung or was not reached)? */
const deliveryFaulted = (state: World.WorldState) =>
  state.trace.some((t) => t.step === "notify" && Invariants.isFaulted(t))

/**
 * One case: the first night (with its faults and any SIGTERM), a boot after a crash, a second night
 * with the same faults when the case says so, and an undisturbed last night; after each night the
 * delivery of the alerts when the case has channels. The invariants after every run, the alert
 * ledger over all of them, the deliveries after the last.
 */
export const runCase = (c: Case): Effect.Effect<CaseResult> =>
  Effect.gen(function*() {
    const setup = setupOf(c)
    const app = setup.apps[0]!.spec
    const subject = Invariants.subjectOf(setup)
    const world = yield* World.make(setup)
    const initial = yield* world.state.get
    const notifier = c.channels.length === 0
      ? undefined
      : yield* SimulatedNotifier.make(c.channels).pipe(Effect.provideService(World.SimulatedWorld, world))
    const nights = Invariants.ledger(subject)
    const failures: Array<string> = []
    const exceptions: Array<Invariants.Exception> = []
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
          const verdict = Invariants.checkRun(subject, before, r.world, r.outcome, r.interrupted)
          failures.push(...verdict.failures.map((f) => `night ${night}: ${f}`))
          exceptions.push(...verdict.exceptions)
        }
        nights.night({ before, after: r.world, outcome: r.outcome, crashed: r.world.crashed })
        if (notifier !== undefined) yield* deliver(notifier.notifier, startMillis)
        return r
      })
    const first = yield* once(c.interruptAfter === undefined ? {} : { interruptAfter: c.interruptAfter })
    if (first.world.crashed || c.faultsTwice) {
      yield* World.restart(world, c.faultsTwice ? c.faults : [])
      yield* once({})
    }
    yield* World.restart(world, [])
    const last = yield* once({})
    failures.push(...nights.close())
    // After an undisturbed night: nothing left in flight, and the app, if deployed, is on a version
    // that answers healthy as the night ends, unless the run says a person must act; an app a
    // person left as it is, as it was, on its documented hold.
    if (last.world.inFlight.size > 0 && last.outcome._tag !== "rollback-failed") {
      failures.push("an in-flight record is left after an undisturbed night")
    }
    const deployment = Option.getOrUndefined(last.world.apps.get(app.name)!.deployment)
    const end = last.world.trace.at(-1)?.at ?? 0
    if (subject.aside !== undefined) failures.push(...Invariants.asideAtEnd(subject, initial, last.world, last.outcome))
    else if (
      deployment !== undefined && last.outcome._tag !== "unhealthy" &&
      World.statusAt(c.releases[deployment.version] ?? {}, deployment, end) !== 200
    ) {
      failures.push(`after an undisturbed night ${deployment.version} runs unhealthy (${last.outcome._tag})`)
    }
    // After the undisturbed night's delivery, every alert is with every channel that wants it.
    if (notifier !== undefined) {
      const outbox = yield* Effect.orDie(notifier.notifier.outbox)
      const sent = (yield* Ref.get(notifier.sent)).map((x) => `${x.message.id} ${x.channel}`)
      const written = (yield* world.state.get).alerts.length
      failures.push(...Invariants.deliveryFailures(outbox, c.channels, sent, written))
    }
    // A delivery fault never changes an outcome: the same world without it ends every night alike.
    const withoutDeliveryFaults = c.faults.filter((f) => f.step !== "notify")
    if (notifier !== undefined && withoutDeliveryFaults.length < c.faults.length && deliveryFaulted(last.world)) {
      const twin = yield* runCase({ ...c, faults: withoutDeliveryFaults })
      if (twin.runs.join(" | ") !== runs.join(" | ")) {
        failures.push(`a delivery fault changed the nights from ${twin.runs.join(" | ")} to ${runs.join(" | ")}`)
      }
    }
    const upgradeStarted = first.world.trace.some((t) => t.step === "in-flight-write")
    return { failures, runs, upgradeStarted, exceptions } satisfies CaseResult
  })

/** The new kinds of world a case is (issues 13, 15, 16), for the distribution the suite prints. */
export const kindsOf = (c: Case): Array<string> => [
  ...(c.aside === undefined ? [] : [c.aside]),
  ...(Object.values(c.releases).some((r) =>
      r.services !== undefined || r.healthcheck !== undefined || r.swarmRollbackAfter !== undefined
    )
    ? ["stack"]
    : []),
  ...(c.channels.length > 0
    ? [c.faults.some((f) => f.step === "notify") ? "delivering, a send faulted" : "delivering"]
    : [])
]

/** The rest of a release's stack, as a case prints it. */
const stackOf = (release: World.ReleaseSpec | undefined): string =>
  [
    release?.services === undefined ? "" : ` services ${JSON.stringify(release.services)}`,
    release?.healthcheck === undefined ? "" : ` healthcheck ${release.healthcheck}`,
    release?.swarmRollbackAfter === undefined ? "" : ` Swarm rolls back after ${String(release.swarmRollbackAfter)} ms`
  ].join("")

/** A case as one line (the migrations as the versions that migrate). */
export const describeCase = (c: Case): string =>
  JSON.stringify({
    ...c,
    releases: Object.fromEntries(
      c.tags.map((
        t
      ) => [
        t,
        `${JSON.stringify(c.releases[t]?.health)}${c.releases[t]?.migrate ? " migrates" : ""}${
          c.releases[t]?.oldTaskServes === undefined
            ? ""
            : ` old task serves ${String(c.releases[t]?.oldTaskServes)} ms`
        }${stackOf(c.releases[t])}`
      ])
    ),
    notes: Object.fromEntries(c.tags.map((t) => [t, c.notes[t]]))
  })
