/**
 * The invariants of issue 5 and the oracles of issue 14, checked on the simulated world after a run.
 * Everything expected is computed from the world's setup (tags, notes, policy, health timelines), never
 * from what the program said:
 * - data: the volume holds its pre-upgrade content, or the data of a target that was seen healthy;
 * - the safety gate: no deploy of a target that is a major bump (recipe or app), past a version whose
 *   notes carry a manual-migration marker, or beyond the app's policy;
 * - the health gate: last-good and a healthy outcome only after `successes` healthy answers in a row
 *   from the version concerned; a crash loop is given up on once Docker shows it, long before the
 *   deadline;
 * - alerts: per run, the right reasons; across the nights of a case ({@link ledger}), every hold,
 *   rollback, failed rollback and recovery leads to exactly one alert of its reason, never zero;
 * - the exit code matches the app's end state;
 * - the stack (issue 15): last-good and a healthy outcome only while Swarm has converged on the
 *   version in every service (no old task, every replica running, every container healthy, no
 *   rollback by Swarm itself); an old task's answer never counts;
 * - an app a person left as it is (issue 13: paused, a chaos deploy, undeployed by hand): nothing
 *   undeployed, snapshotted, deployed or checked out, whatever fails; the documented hold and alert;
 * - deliveries (issue 16, {@link deliveryFailures}): every alert reaches every channel whose filters
 *   match it, once, after an undisturbed night.
 * The exceptions the design documents are stated as such ({@link Exception}), each reached on purpose
 * by a test in test/reconcile/Oracles.test.ts. Shared by the fault sweep and the property tests.
 */
import { Duration, Effect, Option } from "effect"
import type { Alert, AlertReason } from "../../src/domain/Alert.js"
import type { HealthConfig } from "../../src/domain/Config.js"
import { channelName, matches, type NotifyChannel } from "../../src/domain/Notify.js"
import * as Outcome from "../../src/domain/Outcome.js"
import type { UpgradePolicy } from "../../src/domain/Policy.js"
import { findMarker } from "../../src/domain/ReleaseNotes.js"
import * as Version from "../../src/domain/Version.js"
import * as World from "../../src/simulation/World.js"

export interface Subject {
  readonly app: string
  readonly recipe: string
  /** The version deployed before the first run (undefined: not deployed). */
  readonly initial: string | undefined
  /** The version the env file pins before the first run (undefined: no pin, or no env file). */
  readonly pinned: string | undefined
  /** The volume's content before the first run, as JSON of path -> content (undefined: no volume). */
  readonly initialData: string | undefined
  /** The releases of the world (health and migrations). */
  readonly releases: Readonly<Record<string, World.ReleaseSpec>>
  /** The recipe's tags and release notes. */
  readonly tags: ReadonlyArray<string>
  readonly notes: Readonly<Record<string, string>>
  readonly policy: UpgradePolicy
  readonly health: HealthConfig
  /** The volume's name. */
  readonly volume: string
  /** Left as a person left it (undefined: the app is warm-reconcile's to manage). */
  readonly aside: Aside | undefined
}

/**
 * An app a person left as it is (issue 13): paused in the config (`"enabled": false`), running a
 * chaos deploy (`abra app deploy -C`), or undeployed by hand without `keepDeployed`.
 */
export type Aside =
  | { readonly _tag: "paused" }
  | { readonly _tag: "chaos"; readonly version: string }
  | { readonly _tag: "undeployed"; readonly version: string }

const asideOf = (a: World.AppSetup): Aside | undefined => {
  const envFile = a.env ?? (a.deployed !== undefined || a.pinned !== undefined)
  if (!a.spec.enabled) return { _tag: "paused" }
  if (a.deployed !== undefined && a.chaos !== undefined) return { _tag: "chaos", version: a.chaos }
  if (a.deployed === undefined && envFile && !a.spec.keepDeployed) {
    return { _tag: "undeployed", version: a.pinned ?? "unknown" }
  }
  return undefined
}

const json = (files: World.Files | Readonly<Record<string, string>> | undefined): string | undefined =>
  files === undefined
    ? undefined
    : JSON.stringify(
      Object.fromEntries([...(files instanceof Map ? files : Object.entries(files))].sort(([a], [b]) => a < b ? -1 : 1))
    )

/** The subject of a world's first app, everything read from the world's setup. */
export const subjectOf = (setup: World.WorldSetup, volume = "data"): Subject => {
  const a = setup.apps[0]!
  const recipe = setup.recipes[a.spec.recipe]
  return {
    app: a.spec.name,
    recipe: a.spec.recipe,
    initial: a.deployed,
    pinned: a.pinned ?? a.deployed,
    initialData: json(a.volumes?.[volume]),
    releases: recipe?.releases ?? {},
    tags: recipe?.tags ?? [],
    notes: recipe?.notes ?? {},
    policy: a.spec.upgrade,
    health: a.spec.health,
    volume,
    aside: asideOf(a)
  }
}

/** The data `version` runs on: the pre-upgrade data, migrated by `version` if it migrates. */
export const dataOf = (subject: Subject, version: string): string | undefined => {
  if (subject.initialData === undefined) return undefined
  const migrate = subject.releases[version]?.migrate
  if (version === subject.initial || migrate === undefined) return subject.initialData
  return json(migrate(subject.volume, new Map(Object.entries(JSON.parse(subject.initialData)))))
}

/** Will `version` answer 200 at `age` after its start (by default: once it has settled for good)? */
export const answersHealthy = (subject: Subject, version: string, age = Number.MAX_SAFE_INTEGER): boolean =>
  World.statusAt(subject.releases[version] ?? {}, { version, at: 0, broken: false }, age) === 200

// ---------------------------------------------------------------------------------------------
// The safety gate, restated from the README (not calling the planner): what may be deployed.

type Expected =
  | { readonly _tag: "fresh"; readonly version: string }
  | { readonly _tag: "on-latest" }
  /** No release at all, or a running version that is not one: nothing new may be deployed. */
  | { readonly _tag: "stay" }
  | {
    readonly _tag: "held"
    readonly reason: "major" | "manual-migration" | "policy" | "chaos"
    readonly to: string
  }
  | { readonly _tag: "upgrade"; readonly to: string }

const first = (numbers: ReadonlyArray<number>) => numbers[0] ?? 0
const second = (numbers: ReadonlyArray<number>) => numbers[1] ?? 0

/** Major when the recipe's or the app's major goes up; minor when either's minor does (same major). */
const stepSize = (from: Version.Version, to: Version.Version): "major" | "minor" | "patch" => {
  if (first(to.recipe) > first(from.recipe) || first(to.app) > first(from.app)) return "major"
  const recipeMinor = first(to.recipe) === first(from.recipe) && second(to.recipe) > second(from.recipe)
  const appMinor = first(to.app) === first(from.app) && second(to.app) > second(from.app)
  return recipeMinor || appMinor ? "minor" : "patch"
}

const POLICY_ALLOWS: Record<UpgradePolicy, ReadonlyArray<string>> = {
  minor: ["minor", "patch"],
  patch: ["patch"],
  none: []
}

/** What the world's setup says the first run must do about versions. */
export const expectedPlan = (subject: Subject): Expected => {
  // A chaos deploy is held (alerted once per chaos version); a paused or undeployed app stays.
  if (subject.aside !== undefined) {
    return subject.aside._tag === "chaos"
      ? { _tag: "held", reason: "chaos", to: subject.aside.version }
      : { _tag: "stay" }
  }
  const versions = Version.sortTags(subject.tags)
  const releases = versions.filter((v) => !v.prerelease)
  const latest = releases.at(-1)
  if (latest === undefined) return { _tag: "stay" }
  if (subject.initial === undefined) {
    return { _tag: "fresh", version: subject.pinned ?? latest.tag }
  }
  const parsed = Version.parse(subject.initial)
  if (Option.isNone(parsed)) return { _tag: "stay" }
  const from = parsed.value
  const after = (v: Version.Version) => Version.order(v, from) > 0
  if (!after(latest)) return { _tag: "on-latest" }
  const passed = versions.filter((v) => after(v) && Version.order(v, latest) <= 0)
  const size = stepSize(from, latest)
  if (size === "major") return { _tag: "held", reason: "major", to: latest.tag }
  if (passed.some((v) => findMarker(subject.notes[v.tag] ?? "") !== undefined)) {
    return { _tag: "held", reason: "manual-migration", to: latest.tag }
  }
  if (!POLICY_ALLOWS[subject.policy].includes(size)) return { _tag: "held", reason: "policy", to: latest.tag }
  return { _tag: "upgrade", to: latest.tag }
}

/** The versions the program may ever deploy in this world. */
const deployable = (subject: Subject): ReadonlySet<string> => {
  if (subject.aside !== undefined) return new Set()
  const expected = expectedPlan(subject)
  const allowed = new Set([subject.initial, subject.pinned].filter((v) => v !== undefined))
  if (expected._tag === "fresh" || expected._tag === "upgrade") {
    allowed.add(expected._tag === "fresh" ? expected.version : expected.to)
  }
  return allowed
}

// ---------------------------------------------------------------------------------------------
// The trace, replayed.

const FAULTED = / \[(fails|hangs|crash before it)\]$/
/** Did an injected fault strike the step (it failed, hung, or the process died before it)? */
export const isFaulted = (entry: World.TraceEntry) => FAULTED.test(entry.detail)
const isOk = (entry: World.TraceEntry) => entry.step === "health" && !isFaulted(entry) && / -> 200$/.test(entry.detail)

interface Replayed {
  readonly entry: World.TraceEntry
  /** What runs when the entry happens (a faulted entry changed nothing; undefined: nothing runs). */
  readonly deployed: string | undefined
  /** When what runs was deployed. */
  readonly since: number
  /** What that deploy updated in place (Swarm's previous spec: its old task may still answer). */
  readonly replaced: { readonly version: string; readonly at: number } | undefined
}

/** The trace, knowing which version is deployed at each entry (faulted entries changed nothing). */
const replay = (subject: Subject, trace: ReadonlyArray<World.TraceEntry>): Array<Replayed> => {
  let deployed = subject.initial
  let since = Number.NEGATIVE_INFINITY
  let replaced: Replayed["replaced"]
  return trace.map((entry) => {
    const faulted = isFaulted(entry)
    if (!faulted && entry.step === "deploy") {
      replaced = deployed === undefined ? undefined : { version: deployed, at: since }
      deployed = /app deploy \S+ (\S+)/.exec(entry.detail)?.[1]
      since = entry.at
    }
    if (!faulted && entry.step === "undeploy") deployed = undefined
    return { entry, deployed, since, replaced }
  })
}

/** Versions that answered 200 while deployed. */
const seenHealthy = (replayed: ReadonlyArray<Replayed>) =>
  new Set(replayed.flatMap((r) => isOk(r.entry) && r.deployed !== undefined ? [r.deployed] : []))

/** Did the `successes` probes before index `i` (since `start`) all answer 200 from `version`, in a row? */
const healthyInARow = (
  subject: Subject,
  replayed: ReadonlyArray<Replayed>,
  start: number,
  i: number,
  version: string
): boolean => {
  const probes = replayed.slice(start, i).filter((r) => r.entry.step === "health")
  const last = probes.slice(-subject.health.successes)
  return last.length === subject.health.successes && last.every((r) => isOk(r.entry) && r.deployed === version)
}

/**
 * Had Swarm converged on what runs at `r`, by the world's setup: every service up (none
 * crash-looping, none without a node), the container's healthcheck healthy, no old task still
 * serving its grace period, no rollback by Swarm itself? Only then may an answer count (issue 15).
 */
const convergedAt = (subject: Subject, r: Replayed): boolean => {
  if (r.deployed === undefined) return false
  const release = subject.releases[r.deployed] ?? {}
  const deployment: World.Deployment = {
    version: r.deployed,
    at: r.since,
    broken: false,
    ...(r.replaced === undefined ? {} : { replaced: r.replaced })
  }
  const startup = Duration.toMillis(release.startup ?? World.DEFAULT_STARTUP)
  return release.health !== "crash-loop" &&
    Object.values(release.services ?? {}).every((s) => s === "healthy") &&
    (release.healthcheck === undefined || (release.healthcheck === "healthy" && r.entry.at - r.since >= startup)) &&
    !World.oldTaskServing(release, deployment, r.entry.at) && !World.swarmRolledBack(release, deployment, r.entry.at)
}

/**
 * Were the `successes` probes before index `i` all made while the stack had converged? Unless
 * Docker could not be asked in the run: then, by design, the last look stands or the probes decide.
 */
const convergedInARow = (subject: Subject, replayed: ReadonlyArray<Replayed>, start: number, i: number): boolean => {
  const run = replayed.slice(start, i)
  if (run.some((r) => r.entry.step === "tasks" && isFaulted(r.entry))) return true
  return run.filter((r) => r.entry.step === "health").slice(-subject.health.successes).every((r) =>
    convergedAt(subject, r)
  )
}

/** How many services of the release (`app` and the others) crash-loop. */
const crashLooping = (release: World.ReleaseSpec): number =>
  (release.health === "crash-loop" ? 1 : 0) +
  Object.values(release.services ?? {}).filter((b) => b === "crash-loop").length

/**
 * When Docker lists the `failedTasks`-th failed task of a stack deployed at `at`: each crash-looping
 * service fails once every `restartEvery`, all in step.
 */
const crashLoopShownAt = (release: World.ReleaseSpec, at: number, failedTasks: number): number | undefined => {
  const looping = crashLooping(release)
  if (looping === 0 || !Number.isFinite(at)) return undefined
  return at + Math.ceil(failedTasks / looping) * Duration.toMillis(release.restartEvery ?? World.DEFAULT_RESTART_EVERY)
}

/** The health gate's oracle over one run's entries `[start, end)`. */
const healthGateFailures = (subject: Subject, replayed: ReadonlyArray<Replayed>, start: number): Array<string> => {
  const failures: Array<string> = []
  const n = subject.health.successes
  replayed.forEach((r, i) => {
    if (i < start || isFaulted(r.entry)) return
    const written = /^last_good := (\S+)$/.exec(r.entry.detail)
    if (r.entry.step !== "last-good-write" || !written) return
    if (!healthyInARow(subject, replayed, start, i, written[1]!)) {
      failures.push(`last-good set to ${written[1]} before ${n} healthy answers in a row from it`)
    } else if (!convergedInARow(subject, replayed, start, i)) {
      failures.push(`last-good set to ${written[1]} while a service of its stack had not converged or was unhealthy`)
    }
  })
  // Crash loops, in any service: once Docker lists `failedTasks` failed tasks since the deploy, probing stops.
  const deploys = replayed.flatMap((r, i) =>
    i >= start && r.entry.step === "deploy" && r.deployed !== undefined &&
      crashLooping(subject.releases[r.deployed] ?? {}) > 0
      ? [r]
      : []
  )
  for (const d of deploys) {
    const shown = crashLoopShownAt(subject.releases[d.deployed!]!, d.since, subject.health.failedTasks)
    if (shown === undefined) continue
    const same = replayed.filter((r) => r.since === d.since && r.deployed === d.deployed && r.entry.at >= shown)
    const told = same.findIndex((r) => r.entry.step === "tasks" && !isFaulted(r.entry))
    const probedAfter = same.slice(told + 1).find((r) => r.entry.step === "health")
    if (told >= 0 && probedAfter !== undefined) {
      failures.push(`${d.deployed} crash-loops (${subject.health.failedTasks} failed tasks) yet is still probed`)
    }
    // And the gate looks: a probe well past the moment the loop shows means the loop went unseen
    // (unless Docker could not be asked: then only the deadline can end the wait).
    const late = same.find((r) => r.entry.step === "health" && r.entry.at > shown + slackMillis(subject.health))
    const couldNotAsk = same.some((r) => r.entry.step === "tasks" && isFaulted(r.entry))
    if (late !== undefined && !couldNotAsk) {
      failures.push(
        `${d.deployed} crash-loops from +${(shown - d.since) / 1000} s yet is probed at +${
          (late.entry.at - d.since) / 1000
        } s: the crash loop went unseen`
      )
    }
  }
  return failures
}

/** One probe interval and one probe's time limit: the most a crash loop may go unnoticed. */
const slackMillis = (health: HealthConfig) =>
  Duration.toMillis(health.interval) + Duration.toMillis(health.attemptTimeout)

// ---------------------------------------------------------------------------------------------
// One run.

/**
 * The exceptions the design documents, where a plain invariant would call correct behaviour wrong:
 * - `hold-then-alert-lost`: a held app wrote its hold alert, then found the version it stays on
 *   unhealthy and could not write `unhealthy-after-deploy` (every try failed): the run fails, exit 1
 *   (the unit's failure tells), the hold alert stands, and the next night looks at the health again.
 * - `probes-hang`: the health probes hung until the deadline, so the program could not see the app
 *   healthy: a rollback that ends `rollback-failed` (exit 1) on an app that is in fact healthy is
 *   what it must say; it cannot tell.
 * - `restore-keeps-failing`: every try of a rollback's restore (or of the look and the undeploy
 *   before it) failed: the volume may keep the target's data, provided no other version runs on it,
 *   the snapshot is kept and the in-flight record stays, so that the next run restores (the run
 *   ends `rollback-failed`).
 */
export type Exception = "hold-then-alert-lost" | "probes-hang" | "restore-keeps-failing"

/** The steps of a rollback before its restore. */
/** The steps of undoing an upgrade's data: reading the snapshot, stopping the app, restoring. */
const UNDO_STEPS: ReadonlyArray<World.Step> = ["deployed-check", "undeploy", "snapshot-show", "restore"]

/** An alert the run gave up on was tried three times (retries are what keep a hiccup from losing it). */
const alertsGivenUp = (run: ReadonlyArray<Replayed>): Array<string> => {
  const tries = new Map<string, Array<boolean>>()
  for (const r of run) {
    const reason = r.entry.step === "alert" ? /^alert (\S+)/.exec(r.entry.detail)?.[1] : undefined
    if (reason !== undefined) tries.set(reason, [...(tries.get(reason) ?? []), isFaulted(r.entry)])
  }
  return [...tries].flatMap(([reason, faulted]) =>
    faulted.at(-1) === true && faulted.length < 3
      ? [`the ${reason} alert was given up after ${faulted.length} tries`]
      : []
  )
}

/** What a run may never do to an app a person left as it is, attempted or done (issue 13). */
const HANDS_OFF: ReadonlyArray<World.Step> = [
  "checkout",
  "app-new",
  "secrets-generate",
  "undeploy",
  "snapshot-precopy",
  "snapshot",
  "deploy",
  "restore"
]

/** The documented hold of an app a person left as it is, as printed. */
export const asideOutcome = (aside: Aside): string =>
  aside._tag === "paused"
    ? "paused:enabled=false"
    : aside._tag === "chaos"
    ? `held-chaos:${aside.version}`
    : `held-undeployed:${aside.version}`

/** The app as a person left it: the same deployment (chaos label included), recipe checkout and volumes. */
const leftAsItWas = (subject: Subject, before: World.WorldState, after: World.WorldState): Array<string> => {
  const was = before.apps.get(subject.app)!
  const is = after.apps.get(subject.app)!
  const same = (f: (a: World.SimApp) => unknown) => JSON.stringify(f(was)) === JSON.stringify(f(is))
  return [
    ...(same((a) => a.deployment) ? [] : ["its deployment changed"]),
    ...(same((a) => a.checkout) ? [] : ["its recipe checkout changed"]),
    ...(same((a) => [...a.volumes].map(([v, files]) => [v, [...files]])) ? [] : ["its volumes changed"])
  ]
}

/**
 * An app a person left as it is (paused, a chaos deploy, undeployed by hand): nothing undeployed,
 * snapshotted, deployed, checked out or created, whatever failed; the run ends as the documented
 * hold or a failed step (a paused app makes no step at all); one `held-chaos` alert per chaos
 * version, none for the others.
 */
const asideFailures = (
  subject: Subject,
  aside: Aside,
  before: World.WorldState,
  after: World.WorldState,
  outcome: Outcome.Outcome,
  run: ReadonlyArray<Replayed>,
  interrupted: boolean
): Array<string> => {
  const label = `an app ${aside._tag === "chaos" ? `running the chaos deploy ${aside.version}` : aside._tag}`
  const failures = run.flatMap((r) => HANDS_OFF.includes(r.entry.step) ? [`${r.entry.detail} on ${label}`] : [])
  failures.push(...leftAsItWas(subject, before, after).map((why) => `${why} on ${label}`))
  const expected = asideOutcome(aside)
  if (aside._tag === "paused" && run.length > 0) failures.push(`${run.length} steps made for ${label}`)
  // A failed step fails the run; a paused run fails only when a SIGTERM came before it could say paused.
  if (
    Outcome.format(outcome) !== expected && !(outcome._tag === "failed" && (aside._tag !== "paused" || interrupted))
  ) {
    failures.push(`${label} ended ${Outcome.format(outcome)}, not ${expected}`)
  }
  const written = after.alerts.slice(before.alerts.length).map((x) => x.reason)
  const heldBefore = before.holds.get(subject.app)
  const chaos = aside._tag === "chaos" ? aside.version : undefined
  const alerted = heldBefore?.reason === "held-chaos" && heldBefore.to === chaos
  // A failed run may have written the hold alert and then failed to record it (the next night repeats it).
  const allowed = chaos === undefined || alerted ? [[]] : outcome._tag === "failed" ? [[], ["held-chaos"]] : [[
    "held-chaos"
  ]]
  if (!allowed.some((a) => JSON.stringify(a) === JSON.stringify(written))) {
    failures.push(`${label} wrote alerts ${JSON.stringify(written)}, expected ${JSON.stringify(allowed.at(-1))}`)
  }
  if (outcome._tag === "held-chaos" && after.holds.get(subject.app)?.to !== chaos) {
    failures.push(`the hold of the chaos deploy ${chaos} is not recorded`)
  }
  return failures
}

/** After an undisturbed night, an app a person left as it is: the documented hold, and the app as it was. */
export const asideAtEnd = (
  subject: Subject,
  initial: World.WorldState,
  last: World.WorldState,
  outcome: Outcome.Outcome
): Array<string> => {
  if (subject.aside === undefined) return []
  const expected = asideOutcome(subject.aside)
  return [
    ...(Outcome.format(outcome) === expected
      ? []
      : [`an undisturbed night ended ${Outcome.format(outcome)}, not ${expected}`]),
    ...leftAsItWas(subject, initial, last).map((why) => `${why} since the first night (${subject.aside!._tag})`)
  ]
}

export interface Verdict {
  readonly failures: ReadonlyArray<string>
  readonly exceptions: ReadonlyArray<Exception>
}

const ROLLBACK_ALERT: Partial<Record<Outcome.Outcome["_tag"], AlertReason>> = {
  "rolled-back": "rollback",
  "rollback-failed": "rollback-failed",
  recovered: "recovered"
}

const HEALTHY_OUTCOMES: ReadonlyArray<Outcome.Outcome["_tag"]> = [
  "upgraded",
  "deployed-fresh",
  "redeployed-healthy",
  "noop-healthy"
]

/** The version a healthy outcome says runs. */
const healthyVersion = (outcome: Outcome.Outcome): string | undefined =>
  outcome._tag === "upgraded"
    ? outcome.to
    : "version" in outcome && HEALTHY_OUTCOMES.includes(outcome._tag)
    ? outcome.version
    : outcome._tag === "recovered" && outcome.committed
    ? outcome.attempted
    : undefined

/** What the checks found wrong after one run, and the documented exceptions it took. */
export const checkRun = (
  subject: Subject,
  before: World.WorldState,
  after: World.WorldState,
  outcome: Outcome.Outcome,
  interrupted: boolean
): Verdict => {
  const failures: Array<string> = []
  const exceptions = new Set<Exception>()
  const fail = (why: string) => failures.push(`${why} (outcome ${Outcome.format(outcome)})`)
  const a = after.apps.get(subject.app)!
  const deployment = Option.getOrUndefined(a.deployment)
  const data = json(a.volumes.get(subject.volume))
  const start = before.trace.length
  const replayed = replay(subject, after.trace)
  const run = replayed.slice(start)
  const seen = seenHealthy(replayed)
  const failedAlerts = run.filter((r) => r.entry.step === "alert" && isFaulted(r.entry)).map((r) => r.entry.detail)

  if (subject.aside !== undefined) {
    asideFailures(subject, subject.aside, before, after, outcome, run, interrupted).forEach(fail)
    if (!interrupted && !after.crashed) alertsGivenUp(run).forEach(fail)
    return { failures, exceptions: [] }
  }

  // The volume: pre-upgrade content, or the data of a version that was seen healthy.
  if (data !== undefined && data !== subject.initialData) {
    const owners = Object.keys(subject.releases).filter((v) => dataOf(subject, v) === data)
    // A rollback that failed, or a recovery (a run that found the in-flight record) that failed
    // before its restore could run: the record and the snapshot stay for the next run.
    const undoFailed = outcome._tag === "rollback-failed" ||
      (outcome._tag === "failed" && before.inFlight.has(subject.app))
    const restoreKeptFailing = undoFailed &&
      run.some((r) => UNDO_STEPS.includes(r.entry.step) && isFaulted(r.entry)) &&
      !run.some((r) => r.entry.step === "restore" && !isFaulted(r.entry)) &&
      (deployment === undefined || data === dataOf(subject, deployment.version)) &&
      after.snapshots.has(subject.app) && after.inFlight.has(subject.app)
    if (owners.length === 0) fail(`the volume holds no version's data: ${data}`)
    else if (!owners.some((v) => seen.has(v))) {
      if (restoreKeptFailing) exceptions.add("restore-keeps-failing")
      else fail(`the volume holds the data of ${owners}, never seen healthy`)
    }
  }
  if (deployment !== undefined && data !== undefined && data !== dataOf(subject, deployment.version)) {
    fail(`${deployment.version} runs on data that is not its own`)
  }

  // The safety gate: nothing is deployed that the world's gate holds.
  const allowed = deployable(subject)
  const expected = expectedPlan(subject)
  for (const r of run) {
    const version = r.entry.step === "deploy" && !isFaulted(r.entry) ? r.deployed : undefined
    if (version !== undefined && !allowed.has(version)) {
      const why = expected._tag === "held" ? `${expected.reason}, from ${subject.initial}` : "not a target here"
      fail(`deployed ${version}, which the safety gate holds (${why})`)
    }
  }

  // The health gate: last-good after N healthy answers in a row; a crash loop seen in time.
  failures.push(...healthGateFailures(subject, replayed, start).map((f) => `${f} (outcome ${Outcome.format(outcome)})`))
  const claimed = healthyVersion(outcome)
  if (claimed !== undefined && !healthyInARow(subject, replayed, start, replayed.length, claimed)) {
    fail(`${claimed} said healthy without ${subject.health.successes} healthy answers in a row at the end`)
  } else if (claimed !== undefined && !convergedInARow(subject, replayed, start, replayed.length)) {
    fail(`${claimed} said healthy while a service of its stack had not converged or was unhealthy`)
  }

  // Alerts: exactly one per hold (once per release held) and per rollback, of the right reason.
  const written = after.alerts.slice(before.alerts.length).map((x) => x.reason)
  const rollbackReason = ROLLBACK_ALERT[outcome._tag]
  const heldBefore = before.holds.get(subject.app)
  if (outcome._tag.startsWith("held-")) {
    const to = "to" in outcome ? outcome.to : ""
    const alreadyAlerted = heldBefore?.reason === outcome._tag && heldBefore.to === to
    const expectedAlerts = alreadyAlerted ? [] : [outcome._tag]
    if (JSON.stringify(written) !== JSON.stringify(expectedAlerts)) {
      fail(`a hold wrote alerts ${JSON.stringify(written)}, expected ${JSON.stringify(expectedAlerts)}`)
    }
    if (after.holds.get(subject.app)?.reason !== outcome._tag) fail("the hold is not recorded")
  } else if (rollbackReason !== undefined) {
    // An alert that could not be written is late, not lost, while the record that makes the next
    // run write it stays (the ledger checks that it does).
    const leftForNextRun = written.length === 0 && failedAlerts.length > 0 && after.inFlight.has(subject.app)
    if (!leftForNextRun && JSON.stringify(written) !== JSON.stringify([rollbackReason])) {
      fail(`a ${outcome._tag} wrote alerts ${JSON.stringify(written)}, expected ["${rollbackReason}"]`)
    }
  } else if (outcome._tag === "unhealthy") {
    // One unhealthy alert; a held app that is also down has its hold alerted as well (once).
    const unhealthy = written.filter((r) => r.startsWith("unhealthy-"))
    const others = written.filter((r) => !r.startsWith("unhealthy-"))
    if (unhealthy.length !== 1 || others.some((r) => !r.startsWith("held-")) || others.length > 1) {
      fail(`unhealthy wrote ${JSON.stringify(written)}`)
    }
  } else if (outcome._tag === "redeployed-healthy") {
    // Every redeploy of an app on latest is told (at most once; a lost write only logs).
    if (written.some((r) => r !== "redeployed") || written.length > 1) {
      fail(`redeployed wrote ${JSON.stringify(written)}`)
    }
  } else if (written.length !== 0) {
    // A hold alert was written but its record could not be (the state disk failed on every try):
    // the run fails, and the next night alerts again rather than never.
    const holdRecordFailed = run.some((r) => r.entry.step === "hold-write" && isFaulted(r.entry))
    const heldAlertOnly = written.length === 1 && written[0]!.startsWith("held-")
    // Or the hold alert was written, and then the unhealthy alert of the version held on could not be.
    const unhealthyAlertLost = failedAlerts.some((d) => d.startsWith("alert unhealthy-")) &&
      !written.some((r) => r.startsWith("unhealthy-"))
    if (outcome._tag === "failed" && heldAlertOnly && unhealthyAlertLost) exceptions.add("hold-then-alert-lost")
    else if (!(outcome._tag === "failed" && holdRecordFailed && heldAlertOnly)) {
      fail(`${outcome._tag} wrote alerts ${JSON.stringify(written)}`)
    }
  }

  if (!interrupted && !after.crashed) alertsGivenUp(run).forEach(fail)

  // The exit code: 0 only when a version that answered 200 when last probed runs on its own data.
  if (interrupted) return { failures, exceptions: [...exceptions] }
  const end = after.trace.at(-1)?.at ?? 0
  const healthyNow = deployment !== undefined &&
    World.statusAt(subject.releases[deployment.version] ?? {}, deployment, end) === 200
  const ownData = deployment === undefined || data === undefined || data === dataOf(subject, deployment.version)
  const code = Outcome.exitCode(outcome)
  // Healthy when the run last looked: a release that goes down after its last probe (a timeline
  // that flaps) is the next night's settle check to find; no run can know it.
  const lastLook =
    run.findLast((r) =>
      r.entry.step === "health" && !isFaulted(r.entry) && r.deployed === deployment?.version &&
      r.since === deployment?.at
    )?.entry.at ?? end
  const healthyWhenSeen = deployment !== undefined &&
    World.statusAt(subject.releases[deployment.version] ?? {}, deployment, lastLook) === 200
  if (code === 0 && !(healthyWhenSeen && ownData)) {
    fail(`exit 0 but the app is ${deployment === undefined ? "not deployed" : `on ${deployment.version}, unhealthy`}`)
  }
  // Exit 1 must not be given to an app that passed its last probe when nothing failed (a gate that
  // gave up at the very moment a slow starter came up did see it unhealthy); a last probe that hung
  // saw nothing, and a step that failed is an operation that failed (exit 1 by the README).
  const lastProbe = run.findLast((r) => r.entry.step === "health")
  const gateSaidSo = outcome._tag === "unhealthy" || outcome._tag === "failed"
  const stepFailed = run.some((r) => isFaulted(r.entry))
  if (code === 1 && healthyNow && ownData && !gateSaidSo && lastProbe !== undefined) {
    if (isFaulted(lastProbe.entry)) exceptions.add("probes-hang")
    else if (isOk(lastProbe.entry) && !stepFailed) fail("exit 1 though the app is healthy and nothing failed")
  }
  return { failures, exceptions: [...exceptions] }
}

/** What the checks found wrong after one run; `before` is the world as the run found it. */
export const check = (
  subject: Subject,
  before: World.WorldState,
  after: World.WorldState,
  outcome: Outcome.Outcome,
  interrupted: boolean
): Array<string> => [...checkRun(subject, before, after, outcome, interrupted).failures]

// ---------------------------------------------------------------------------------------------
// Across the nights of a case.

/** A run as the ledger sees it; a crashed run's outcome was seen by nobody. */
export interface Night {
  readonly before: World.WorldState
  readonly after: World.WorldState
  readonly outcome: Outcome.Outcome
  readonly crashed: boolean
}

const FAMILY: ReadonlyArray<AlertReason> = ["rollback", "rollback-failed", "recovered"]

/**
 * Did the run undo a change (whatever it said)? The version that ran before it (or before the
 * upgrade, for a run that found it undeployed) is deployed again after an undeploy or a deploy of
 * another version, or a snapshot is restored.
 */
const undid = (subject: Subject, night: Night, run: ReadonlyArray<Replayed>): boolean => {
  const home = Option.getOrUndefined(Option.map(night.before.apps.get(subject.app)!.deployment, (d) => d.version)) ??
    subject.initial
  let changed = false
  for (const r of run) {
    const faulted = isFaulted(r.entry)
    if (r.entry.step === "restore" && !faulted) return true
    if (r.entry.step === "undeploy" && !faulted) changed = true
    if (r.entry.step === "deploy") {
      const version = /app deploy \S+ (\S+)/.exec(r.entry.detail)?.[1]
      if (version !== home) changed = true
      else if (changed && !faulted) return true
    }
  }
  return false
}

/**
 * The alert ledger over a case's nights: every hold, rollback, failed rollback and recovery leads to
 * exactly one alert of its reason within the nights, never zero, whatever failed. `night` after each
 * run (crashed ones too), `close` after the last, which must have been undisturbed.
 */
export const ledger = (subject: Subject) => {
  const failures: Array<string> = []
  const expected = expectedPlan(subject)
  let owed: string | undefined
  let held = 0
  let heldAgain = 0
  let index = 0
  return {
    night: (night: Night) => {
      index++
      const run = replay(subject, night.after.trace).slice(night.before.trace.length)
      const written = night.after.alerts.slice(night.before.alerts.length).map((x) => x.reason)
      const family = written.filter((r) => FAMILY.includes(r))
      const told = !night.crashed && ROLLBACK_ALERT[night.outcome._tag] !== undefined
      const left = night.after.inFlight.has(subject.app)
      const event = told || undid(subject, night, run) || (left && family.length === 0)
      if (family.length > 1) failures.push(`night ${index} wrote ${JSON.stringify(family)}: more than one`)
      if (family.length > 0 && !event && owed === undefined) {
        failures.push(`night ${index} wrote ${JSON.stringify(family)} with nothing to tell`)
      }
      if (event && family.length === 0) {
        owed ??= `night ${index} (${night.crashed ? "crashed" : Outcome.format(night.outcome)})`
        // Not written, not left for the next run to write: lost.
        const tried = run.some((r) => r.entry.step === "alert" && isFaulted(r.entry))
        if (!night.crashed && !left && !tried) {
          failures.push(`night ${index} undid a change and wrote no alert, and left nothing to write it later`)
        }
      }
      if (family.length > 0) owed = undefined
      // Holds: the world's gate says which; a repeat only where the record of the first could not be kept.
      const holds = written.filter((r) => r.startsWith("held-") && r !== "held-failed-release")
      const right = expected._tag === "held" ? `held-${expected.reason}` : undefined
      for (const r of holds) {
        if (r !== right) failures.push(`night ${index} wrote ${r}; the world's gate says ${right ?? expected._tag}`)
      }
      held += holds.length
      const recorded = run.some((r) =>
        r.entry.step === "hold-write" && !isFaulted(r.entry) && r.entry.detail.startsWith(`hold ${right} `)
      )
      if (holds.length > 0 && !recorded) heldAgain++
    },
    close: (): Array<string> => {
      const all = [...failures]
      if (owed !== undefined) all.push(`the rollback or recovery of ${owed} was never alerted in ${index} nights`)
      if (expected._tag === "held") {
        if (held === 0) all.push(`held-${expected.reason} was never alerted in ${index} nights`)
        if (held > 1 + heldAgain) all.push(`held-${expected.reason} alerted ${held} times in ${index} nights`)
      }
      return all
    }
  }
}

/**
 * A turn of the event loop. Sweeps of thousands of rehearsals run synchronously on the virtual
 * clock; without a turn now and then vitest's worker cannot answer its parent and reports a timeout.
 */
export const eventLoopTurn: Effect.Effect<void> = Effect.promise(() => new Promise<void>((r) => setImmediate(r)))

// ---------------------------------------------------------------------------------------------
// Deliveries (issue 16).

/**
 * After an undisturbed night and its delivery: every alert in the outbox reached every channel
 * whose filters match it, exactly once, and no channel got anything else; a channel without
 * filters got every alert. `sent` is what the channels accepted, as `<alert id> <channel>`.
 */
export const deliveryFailures = (
  outbox: ReadonlyArray<{ readonly id: string; readonly alert: Alert }>,
  channels: ReadonlyArray<NotifyChannel>,
  sent: ReadonlyArray<string>,
  alerts: number
): Array<string> => {
  const failures: Array<string> = []
  if (outbox.length !== alerts) failures.push(`the outbox holds ${outbox.length} of the ${alerts} alerts written`)
  const expected = outbox.flatMap(({ alert, id }) =>
    channels.filter((c) => matches(c, alert)).map((c) => `${id} ${channelName(c)}`)
  ).sort()
  const got = [...sent].sort()
  if (JSON.stringify(got) !== JSON.stringify(expected)) {
    const missing = expected.filter((x) => !got.includes(x))
    const extra = got.filter((x, i) => !expected.includes(x) || got.indexOf(x) !== i)
    failures.push(`deliveries: undelivered ${JSON.stringify(missing)}, unexpected or repeated ${JSON.stringify(extra)}`)
  }
  for (const c of channels) {
    const open = c.apps === undefined && c.reasons === undefined && c.minSeverity === "info"
    const name = channelName(c)
    if (open && got.filter((x) => x.endsWith(` ${name}`)).length !== outbox.length) {
      failures.push(`the channel ${name} without filters did not get every alert once`)
    }
  }
  return failures
}
