/**
 * The invariants of issue 5, checked on the simulated world after a run:
 * - the volume holds its pre-upgrade content, or the data of a target that was seen healthy;
 * - last-good only ever names a version that was seen healthy;
 * - every hold and every rollback writes exactly one alert, and none is lost;
 * - the exit code matches the app's end state.
 * Shared by the fault sweep and the property tests over random worlds.
 */
import { Effect, Option } from "effect"
import type { AlertReason } from "../../src/domain/Alert.js"
import * as Outcome from "../../src/domain/Outcome.js"
import * as World from "../../src/simulation/World.js"

export interface Subject {
  readonly app: string
  readonly recipe: string
  /** The version deployed before the first run (undefined: not deployed). */
  readonly initial: string | undefined
  /** The volume's content before the first run, as JSON of path -> content (undefined: no volume). */
  readonly initialData: string | undefined
  /** The releases of the world (health and migrations). */
  readonly releases: Readonly<Record<string, World.ReleaseSpec>>
  /** The volume's name. */
  readonly volume: string
}

const ROLLBACK_ALERT: Partial<Record<Outcome.Outcome["_tag"], AlertReason>> = {
  "rolled-back": "rollback",
  "rollback-failed": "rollback-failed",
  recovered: "recovered"
}

const json = (files: World.Files | undefined): string | undefined =>
  files === undefined
    ? undefined
    : JSON.stringify(Object.fromEntries([...files].sort(([a], [b]) => a.localeCompare(b))))

/** The data `version` runs on: the pre-upgrade data, migrated by `version` if it migrates. */
export const dataOf = (subject: Subject, version: string): string | undefined => {
  if (subject.initialData === undefined) return undefined
  const migrate = subject.releases[version]?.migrate
  if (version === subject.initial || migrate === undefined) return subject.initialData
  return json(migrate(subject.volume, new Map(Object.entries(JSON.parse(subject.initialData)))))
}

/** Will `version` answer 200 once started? */
export const answersHealthy = (subject: Subject, version: string): boolean =>
  World.statusAt(subject.releases[version] ?? {}, { version, at: 0, broken: false }, Number.MAX_SAFE_INTEGER) === 200

const FAULTED = / \[(fails|hangs|crash before it)\]$/

/** Walk the trace knowing which version is deployed at each entry (faulted entries changed nothing). */
const replay = (
  subject: Subject,
  trace: ReadonlyArray<World.TraceEntry>,
  visit: (entry: World.TraceEntry, deployed: string | undefined) => void
) => {
  let deployed = subject.initial
  for (const entry of trace) {
    const faulted = FAULTED.test(entry.detail)
    if (!faulted && entry.step === "deploy") deployed = /app deploy \S+ (\S+)/.exec(entry.detail)?.[1]
    if (!faulted && entry.step === "undeploy") deployed = undefined
    visit(entry, faulted ? undefined : deployed)
  }
}

/** Versions that answered 200 while deployed, and last-good writes of versions not seen so before. */
const healthTrail = (subject: Subject, trace: ReadonlyArray<World.TraceEntry>) => {
  const seen = new Set<string>()
  const unseenLastGood: Array<string> = []
  replay(subject, trace, (entry, deployed) => {
    if (entry.step === "health" && / -> 200$/.test(entry.detail) && deployed !== undefined) seen.add(deployed)
    const written = /^last_good := (\S+)$/.exec(entry.detail)
    if (entry.step === "last-good-write" && written && !seen.has(written[1]!)) unseenLastGood.push(written[1]!)
  })
  return { seen, unseenLastGood }
}

/** What the checks found wrong after one run; `before` is the world as the run found it. */
export const check = (
  subject: Subject,
  before: World.WorldState,
  after: World.WorldState,
  outcome: Outcome.Outcome,
  interrupted: boolean
): Array<string> => {
  const failures: Array<string> = []
  const fail = (why: string) => failures.push(`${why} (outcome ${Outcome.format(outcome)})`)
  const a = after.apps.get(subject.app)!
  const deployment = Option.getOrUndefined(a.deployment)
  const data = json(a.volumes.get(subject.volume))
  const { seen, unseenLastGood } = healthTrail(subject, after.trace)

  // The volume: pre-upgrade content, or the data of a version that was seen healthy.
  if (data !== undefined && data !== subject.initialData) {
    const owners = Object.keys(subject.releases).filter((v) => dataOf(subject, v) === data)
    if (owners.length === 0) fail(`the volume holds no version's data: ${data}`)
    else if (!owners.some((v) => seen.has(v))) fail(`the volume holds the data of ${owners}, never seen healthy`)
  }
  if (deployment !== undefined && data !== undefined && data !== dataOf(subject, deployment.version)) {
    fail(`${deployment.version} runs on data that is not its own`)
  }

  // last-good: every write names a version that answered 200 before it.
  for (const bad of unseenLastGood) fail(`last-good set to ${bad} before it answered 200`)

  // Alerts: exactly one per hold (once per release held) and per rollback.
  const written = after.alerts.slice(before.alerts.length).map((x) => x.reason)
  const rollbackReason = ROLLBACK_ALERT[outcome._tag]
  const heldBefore = before.holds.get(subject.app)
  if (outcome._tag.startsWith("held-")) {
    const to = "to" in outcome ? outcome.to : ""
    const alreadyAlerted = heldBefore?.reason === outcome._tag && heldBefore.to === to
    const expected = alreadyAlerted ? [] : [outcome._tag]
    if (JSON.stringify(written) !== JSON.stringify(expected)) {
      fail(`a hold wrote alerts ${JSON.stringify(written)}, expected ${JSON.stringify(expected)}`)
    }
    if (after.holds.get(subject.app)?.reason !== outcome._tag) fail("the hold is not recorded")
  } else if (rollbackReason !== undefined) {
    if (JSON.stringify(written) !== JSON.stringify([rollbackReason])) {
      fail(`a ${outcome._tag} wrote alerts ${JSON.stringify(written)}, expected ["${rollbackReason}"]`)
    }
  } else if (outcome._tag === "unhealthy") {
    // One unhealthy alert; a held app that is also down has its hold alerted as well (once).
    const unhealthy = written.filter((r) => r.startsWith("unhealthy-"))
    const others = written.filter((r) => !r.startsWith("unhealthy-"))
    if (unhealthy.length !== 1 || others.some((r) => !r.startsWith("held-")) || others.length > 1) {
      fail(`unhealthy wrote ${JSON.stringify(written)}`)
    }
  } else if (written.length !== 0) {
    // The one exception: a hold alert was written but its record could not be (the state disk
    // failed on every try); the run fails, and the next night alerts again rather than never.
    const holdRecordFailed = after.trace.slice(before.trace.length)
      .some((t) => t.step === "hold-write" && FAULTED.test(t.detail))
    const heldAlertOnly = written.length === 1 && written[0]!.startsWith("held-")
    if (!(outcome._tag === "failed" && holdRecordFailed && heldAlertOnly)) {
      fail(`${outcome._tag} wrote alerts ${JSON.stringify(written)}`)
    }
  }

  // The exit code: 0 only when a version that answers 200 when the run ends runs on its own data.
  if (interrupted) return failures
  const end = after.trace.at(-1)?.at ?? 0
  const healthyNow = deployment !== undefined &&
    World.statusAt(subject.releases[deployment.version] ?? {}, deployment, end) === 200
  const ownData = deployment === undefined || data === undefined || data === dataOf(subject, deployment.version)
  const code = Outcome.exitCode(outcome)
  if (code === 0 && !(healthyNow && ownData)) {
    fail(`exit 0 but the app is ${deployment === undefined ? "not deployed" : `on ${deployment.version}, unhealthy`}`)
  }
  // Exit 1 must not be given to an app that passed its last probe (a gate that gave up at the very
  // moment a slow starter came up did see it unhealthy).
  const lastProbe = [...after.trace].reverse().find((t) => t.step === "health" && !FAULTED.test(t.detail))
  const passedLastProbe = lastProbe !== undefined && / -> 200$/.test(lastProbe.detail)
  const gateSaidSo = outcome._tag === "unhealthy" || outcome._tag === "failed"
  if (code === 1 && healthyNow && passedLastProbe && ownData && !gateSaidSo) {
    fail("exit 1 though the app is healthy and nothing failed")
  }
  return failures
}

/**
 * A turn of the event loop. Sweeps of thousands of rehearsals run synchronously on the virtual
 * clock; without a turn now and then vitest's worker cannot answer its parent and reports a timeout.
 */
export const eventLoopTurn: Effect.Effect<void> = Effect.promise(() => new Promise<void>((r) => setImmediate(r)))
