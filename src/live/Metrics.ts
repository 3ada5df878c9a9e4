/**
 * Metrics for node_exporter's textfile collector (`--metrics-file PATH`): Prometheus text format,
 * written atomically at the end of a `reconcile` run (also an interrupted one).
 *
 * A {@link Recorder} collects what only the running process knows: how long each app spent in
 * the snapshot, deploy, health and restore phases (the program times each phase itself into
 * Effect's `Metric.timer` named {@link PHASE_DURATION_METRIC}, tagged with the app and the phase;
 * {@link recording} tags the runs it watches with the recorder, which reads back its own) and how
 * many rollbacks happened. At the end {@link write} merges that with what the files know, so that
 * a run of one app keeps the others' series: the last outcome, last run and last success of every
 * configured app come from its run history in the state directory; phase durations of apps (or
 * phases) this run did not go through, and the rollback counters, are carried over from the
 * previous metrics file.
 */
import { FileSystem } from "@effect/platform"
import { Effect, Metric, MetricState, Option, Schema } from "effect"
import * as Path from "node:path"
import type { NotifyChannel } from "../domain/Notify.js"
import * as Outcome from "../domain/Outcome.js"
import { PHASE_DURATION_METRIC, TIMED_PHASES, type TimedPhase } from "../domain/Phase.js"
import type { RunRecord } from "../services/State.js"
import { list as listAlerts } from "./Alerts.js"
import { readFileIfExists, writeFileAtomic } from "./AtomicFile.js"
import { writableByOthers } from "./FileChecks.js"
import { backlog } from "./Notifier.js"
import { hold, readHistory } from "./State.js"

export class MetricsError extends Schema.TaggedError<MetricsError>()("MetricsError", {
  path: Schema.String,
  message: Schema.String
}) {}

export const PHASES = TIMED_PHASES
export type Phase = TimedPhase

/** The counters, each counting runs of the app by what they ended as. */
export const COUNTERS = ["rollbacks", "upgrades", "holds"] as const
export type Counter = typeof COUNTERS[number]
export type Counts = Readonly<Record<Counter, number>>
const ZERO: Counts = { rollbacks: 0, upgrades: 0, holds: 0 }

/**
 * Which counter a recorded run adds to: a rollback (rolled-back, rollback-failed, or a recovery
 * that brought last-good back: its detail names both versions), an upgrade (upgraded, or a
 * recovery that kept the target), a hold (any held-*).
 */
const counterOf = (run: RunRecord): Counter | undefined => {
  if (run.outcome === "rolled-back" || run.outcome === "rollback-failed") return "rollbacks"
  if (run.outcome === "recovered") return run.detail.includes("->") ? "rollbacks" : "upgrades"
  if (run.outcome === "upgraded") return "upgrades"
  if (run.outcome.startsWith("held-")) return "holds"
  return undefined
}

/** The runs of the history that ended after `after` (epoch ms; all of them without one), counted. */
export const countRuns = (runs: ReadonlyArray<RunRecord>, after: number | undefined): Counts => {
  const counts = { ...ZERO }
  for (const run of runs) {
    const ended = Date.parse(run.endedAt)
    if (after !== undefined && !(ended > after)) continue
    const counter = counterOf(run)
    if (counter !== undefined) counts[counter]++
  }
  return counts
}

/** The metric label that tells whose runs a phase duration belongs to. */
const RECORDER_LABEL = "warm_reconcile_recorder"

let recorders = 0

/**
 * What one process saw happen: phase durations (seconds, summed per run), per app. Counts of
 * outcomes come from the run history, which every run writes (with or without a metrics file).
 */
export class Recorder {
  /** Labels the phase durations of the runs this recorder watches (see {@link recording}). */
  readonly id = `recorder-${++recorders}`

  /**
   * Seconds per phase that the app's runs under this recorder went through: the sums of the
   * program's phase timers (in milliseconds) that carry this recorder's label and the app's.
   */
  durations(app: string): ReadonlyMap<Phase, number> {
    const durations = new Map<Phase, number>()
    for (const { metricKey, metricState } of Metric.unsafeSnapshot()) {
      if (metricKey.name !== PHASE_DURATION_METRIC || !MetricState.isHistogramState(metricState)) continue
      const tags = new Map(metricKey.tags.map((t) => [t.key, t.value]))
      const phase = PHASES.find((p) => p === tags.get("phase"))
      if (tags.get(RECORDER_LABEL) !== this.id || tags.get("app") !== app || phase === undefined) continue
      durations.set(phase, (durations.get(phase) ?? 0) + metricState.sum / 1000)
    }
    return durations
  }
}

/** Run `effect` with the phase durations of its runs kept for `recorder`. */
export const recording = (recorder: Recorder) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.tagMetrics(effect, RECORDER_LABEL, recorder.id)

// ---------------------------------------------------------------------------------------------
// The file
// ---------------------------------------------------------------------------------------------

export interface AppMetrics {
  readonly app: string
  readonly lastRun: Option.Option<{ readonly endedAt: number; readonly outcome: string; readonly exitCode: number }>
  /** Epoch milliseconds of the end of the last run that left the app healthy (exit code 0). */
  readonly lastSuccess: Option.Option<number>
  /** Seconds. */
  readonly durations: ReadonlyMap<Phase, number>
  readonly counts: Counts
  /** The release held for a person (hold.json), if any: an update is waiting. */
  readonly waiting: Option.Option<{ readonly from: string; readonly to: string; readonly reason: string }>
  readonly unacknowledgedAlerts: number
}

/** The exit code an outcome recorded in the history maps to (history keeps only the outcome's tag). */
const exitCodeOf = (tag: string): number => Outcome.exitCode({ _tag: tag } as Outcome.Outcome)

/** Last run and last success of an app, from its history (oldest first). */
export const fromHistory = (runs: ReadonlyArray<RunRecord>): Pick<AppMetrics, "lastRun" | "lastSuccess"> => {
  const ended = (run: RunRecord) => Date.parse(run.endedAt)
  const last = runs.at(-1)
  const success = runs.findLast((run) => !run.interrupted && exitCodeOf(run.outcome) === 0)
  return {
    lastRun: last === undefined || Number.isNaN(ended(last))
      ? Option.none()
      : Option.some({ endedAt: ended(last), outcome: last.outcome, exitCode: exitCodeOf(last.outcome) }),
    lastSuccess: Option.filter(Option.map(Option.fromNullable(success), ended), (t) => !Number.isNaN(t))
  }
}

interface Family {
  readonly name: string
  readonly type: "gauge" | "counter"
  readonly help: string
  readonly samples: (app: AppMetrics) => ReadonlyArray<readonly [labels: Record<string, string>, value: number]>
}

const FAMILIES: ReadonlyArray<Family> = [
  {
    name: "warm_reconcile_last_run_timestamp_seconds",
    type: "gauge",
    help: "When the app's last reconcile run ended, in seconds since the epoch.",
    samples: (m) => Option.match(m.lastRun, { onNone: () => [], onSome: (r) => [[{}, r.endedAt / 1000]] })
  },
  {
    name: "warm_reconcile_last_outcome",
    type: "gauge",
    help: "The outcome of the app's last reconcile run: 1 on the series labelled with it.",
    samples: (m) => Option.match(m.lastRun, { onNone: () => [], onSome: (r) => [[{ outcome: r.outcome }, 1]] })
  },
  {
    name: "warm_reconcile_last_run_exit_code",
    type: "gauge",
    help: "The exit code of the app's last reconcile run: 0 healthy, 1 unhealthy or failed.",
    samples: (m) => Option.match(m.lastRun, { onNone: () => [], onSome: (r) => [[{}, r.exitCode]] })
  },
  {
    name: "warm_reconcile_last_success_timestamp_seconds",
    type: "gauge",
    help: "When a reconcile run last left the app healthy (exit code 0), in seconds since the epoch.",
    samples: (m) => Option.match(m.lastSuccess, { onNone: () => [], onSome: (t) => [[{}, t / 1000]] })
  },
  {
    name: "warm_reconcile_phase_duration_seconds",
    type: "gauge",
    help: "Time spent in the phase (snapshot, deploy, health after a deploy, restore) by the app's " +
      "last run that went through it.",
    samples: (m) =>
      PHASES.flatMap((phase) =>
        Option.toArray(Option.fromNullable(m.durations.get(phase))).map((s) => [{ phase }, s] as const)
      )
  },
  ...COUNTERS.map((counter): Family => ({
    name: `warm_reconcile_${counter}_total`,
    type: "counter",
    help: {
      rollbacks:
        "Runs of the app that rolled an upgrade back (rolled-back, rollback-failed, or a recovery to last-good).",
      upgrades: "Runs of the app that upgraded it (upgraded, or a recovery that kept the new version).",
      holds: "Runs of the app that held a new release for a person (held-*)."
    }[counter] + " Counted from the run history; a metrics file written anew restarts from it.",
    samples: (m) => [[{}, m.counts[counter]]]
  })),
  {
    name: "warm_reconcile_update_available",
    type: "gauge",
    help: "1 while a new release of the app is held for a person (hold.json): from, to, and why (kind).",
    samples: (m) =>
      Option.match(m.waiting, {
        onNone: () => [],
        onSome: (w) => [[{ from: w.from, to: w.to, kind: w.reason }, 1]]
      })
  },
  {
    name: "warm_reconcile_unacknowledged_alerts",
    type: "gauge",
    help: "Alerts about the app waiting in the alerts directory for `warm-reconcile alerts ack`.",
    samples: (m) => [[{}, m.unacknowledgedAlerts]]
  }
]

const escapeLabel = (value: string) => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, "\\\"")

/** Up to millisecond precision, never in exponent notation for the values written here. */
const formatValue = (value: number) => String(Math.round(value * 1000) / 1000)

/** The whole file: every family's HELP and TYPE, its samples by app. */
export const render = (apps: ReadonlyArray<AppMetrics>): string => {
  const sorted = [...apps].sort((a, b) => a.app.localeCompare(b.app))
  const lines: Array<string> = []
  for (const family of FAMILIES) {
    lines.push(`# HELP ${family.name} ${family.help}`, `# TYPE ${family.name} ${family.type}`)
    for (const app of sorted) {
      for (const [labels, value] of family.samples(app)) {
        const pairs = Object.entries({ app: app.app, ...labels }).map(([k, v]) => `${k}="${escapeLabel(v)}"`)
        lines.push(`${family.name}{${pairs.join(",")}} ${formatValue(value)}`)
      }
    }
  }
  return `${lines.join("\n")}\n`
}

// ---------------------------------------------------------------------------------------------
// Notifications (issue 16): per channel, not per app
// ---------------------------------------------------------------------------------------------

export interface ChannelMetrics {
  readonly channel: string
  /** Alerts and success notices waiting in the outbox for the channel (it has not accepted them yet). */
  readonly pending: number
  /** Deliveries to the channel that failed after their retries, over all runs this file counted. */
  readonly failures: number
}

const PENDING_FAMILY = "warm_reconcile_notifications_pending"
const FAILURES_FAMILY = "warm_reconcile_notification_failures_total"

/** The notification families: a channel that keeps failing shows as a growing backlog. */
export const renderChannels = (channels: ReadonlyArray<ChannelMetrics>): string => {
  const sorted = [...channels].sort((a, b) => a.channel.localeCompare(b.channel))
  const family = (name: string, type: string, help: string, value: (c: ChannelMetrics) => number) => [
    `# HELP ${name} ${help}`,
    `# TYPE ${name} ${type}`,
    ...sorted.map((c) => `${name}{channel="${escapeLabel(c.channel)}"} ${formatValue(value(c))}`)
  ]
  return `${
    [
      ...family(
        PENDING_FAMILY,
        "gauge",
        "Alerts and success notices waiting to be delivered to the channel (it has not accepted them yet).",
        (c) => c.pending
      ),
      ...family(
        FAILURES_FAMILY,
        "counter",
        "Deliveries to the channel that failed after their retries (the next run or `notify` tries again).",
        (c) => c.failures
      )
    ].join("\n")
  }\n`
}

export interface Carried {
  readonly durations: Map<string, Map<Phase, number>>
  readonly counts: Map<string, Counts>
  /** Delivery failures per channel, as the previous file counted them. */
  readonly failures: Map<string, number>
  /** Epoch ms of the last run the previous file counted, per app. */
  readonly countedUntil: Map<string, number>
}

const CARRIED_FAMILIES = [
  "warm_reconcile_phase_duration_seconds",
  ...COUNTERS.map((c) => `warm_reconcile_${c}_total`),
  "warm_reconcile_last_run_timestamp_seconds",
  FAILURES_FAMILY
]
const SAMPLE = /^([a-z_]+)\{([^}]*)\}[ \t]+(\S+)[ \t]*$/
const LABEL = /([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g
const unescapeLabel = (value: string) => value.replace(/\\(.)/g, (_, c: string) => c === "n" ? "\n" : c)

/**
 * What a previous file of ours carries over: phase durations, counters, and up to which run it
 * counted (its last-run time); anything else is ignored.
 */
export const parsePrevious = (text: string): Carried => {
  const carried: Carried = { durations: new Map(), counts: new Map(), countedUntil: new Map(), failures: new Map() }
  for (const line of text.split("\n")) {
    const m = SAMPLE.exec(line.trim())
    if (m === null || !CARRIED_FAMILIES.includes(m[1]!)) continue
    const labels = Object.fromEntries([...m[2]!.matchAll(LABEL)].map((l) => [l[1]!, unescapeLabel(l[2]!)]))
    const value = Number(m[3])
    if (m[1] === FAILURES_FAMILY) {
      if (labels["channel"] !== undefined && Number.isFinite(value) && value >= 0) {
        carried.failures.set(labels["channel"], value)
      }
      continue
    }
    const app = labels["app"]
    if (app === undefined || !Number.isFinite(value) || value < 0) continue
    const counter = COUNTERS.find((c) => m[1] === `warm_reconcile_${c}_total`)
    if (counter !== undefined) {
      carried.counts.set(app, { ...(carried.counts.get(app) ?? ZERO), [counter]: value })
    } else if (m[1] === "warm_reconcile_last_run_timestamp_seconds") {
      carried.countedUntil.set(app, Math.round(value * 1000))
    } else if ((PHASES as ReadonlyArray<string>).includes(labels["phase"] ?? "")) {
      const phases = carried.durations.get(app) ?? new Map<Phase, number>()
      phases.set(labels["phase"] as Phase, value)
      carried.durations.set(app, phases)
    }
  }
  return carried
}

/**
 * The metrics directory must be root's (or this process's) alone: another account that can write
 * it can swap the file root writes there, or plant a FIFO or a link where root reads.
 */
const refuseSharedDirectory = (dir: string, fail: (message: string) => MetricsError) =>
  Effect.gen(function*() {
    // A missing directory is the write's to report.
    const problem = yield* writableByOthers(dir)
    if (Option.isNone(problem)) return
    return yield* fail(
      `refusing the directory ${dir}: ${problem.value}, so another account could swap the file root writes there; ` +
        "use a directory owned by root with mode 0755 (e.g. /var/lib/node-exporter-textfile) and point " +
        "node_exporter's --collector.textfile.directory at it"
    )
  })

/**
 * Check before a run that the metrics file can be written at its end: its directory exists, is a
 * directory root alone can write, and the path is not something else than a regular file. A
 * mistake here is a setup error found at the start, not a log line after the night's work.
 */
export const checkPath = Effect.fn("Metrics.checkPath")(function*(path: string) {
  const fs = yield* FileSystem.FileSystem
  const dir = Path.dirname(Path.resolve(path))
  const fail = (message: string) =>
    new MetricsError({ path, message: `cannot write the metrics file ${path}: ${message}` })
  const info = yield* fs.stat(dir).pipe(
    Effect.mapError(() =>
      fail(`its directory ${dir} does not exist; create it (node_exporter's --collector.textfile.directory) first`)
    )
  )
  if (info.type !== "Directory") return yield* fail(`${dir} is not a directory`)
  yield* refuseSharedDirectory(dir, fail)
  yield* readFileIfExists(path).pipe(Effect.mapError((e) => fail(e.message)))
})

export interface WriteOptions {
  readonly stateDir: string
  /** The configured apps: each gets its series; apps no longer configured are dropped. */
  readonly apps: ReadonlyArray<string>
  readonly recorder: Recorder
  /** The configured channels (the config's `notify`), and the deliveries of this run that failed. */
  readonly notify?: {
    readonly channels: ReadonlyArray<NotifyChannel>
    readonly failed: ReadonlyArray<{ readonly channel: string }>
  }
}

/**
 * Write the metrics file: atomically (temp file in the same directory, then rename: the collector
 * never reads half a file; its temp name does not end in `.prom`, so the collector skips it), mode
 * 0644 so that node_exporter, running as its own user, can read it.
 */
export const write = Effect.fn("Metrics.write")(function*(path: string, options: WriteOptions) {
  const fail = (message: string) =>
    new MetricsError({ path, message: `could not write the metrics file ${path}: ${message}` })
  yield* refuseSharedDirectory(Path.dirname(Path.resolve(path)), fail)
  const previous = yield* readFileIfExists(path).pipe(Effect.mapError((e) => fail(e.message)))
  const carried = parsePrevious(previous ?? "")
  const alerts = yield* listAlerts(options.stateDir).pipe(Effect.mapError((e) => fail(e.message)))
  const apps = yield* Effect.forEach(options.apps, (app) =>
    Effect.gen(function*() {
      const history = yield* readHistory(options.stateDir, app).pipe(Effect.mapError((e) => fail(e.message)))
      const durations = new Map(carried.durations.get(app))
      for (const [phase, seconds] of options.recorder.durations(app)) durations.set(phase, seconds)
      // The counters go on from the previous file's, with the runs recorded since it was written.
      const before = carried.counts.get(app) ?? ZERO
      const since = countRuns(history, carried.counts.has(app) ? carried.countedUntil.get(app) : undefined)
      const counts = { ...ZERO }
      for (const counter of COUNTERS) counts[counter] = before[counter] + since[counter]
      // A hold record that does not decode is the program's to report; here it is no update.
      const held = yield* Effect.option(hold(options.stateDir, app))
      return {
        app,
        ...fromHistory(history),
        durations,
        counts,
        // The kind is the hold's reason without `held-`: major, manual-migration, policy, ...
        waiting: Option.map(Option.flatten(held), (h) => ({ from: h.from, to: h.to, reason: h.reason.slice(5) })),
        unacknowledgedAlerts: alerts.filter((a) => a._tag === "Alert" && a.alert.app === app).length
      } satisfies AppMetrics
    }))
  // The backlog from the outbox as it is now, alerts and success notices, as `status` counts it;
  // the failures counter goes on from the previous file's. A channel no longer configured is dropped.
  const configured = options.notify?.channels ?? []
  const backlogs = yield* backlog(options.stateDir, configured)
  const channels = backlogs.map(({ channel, pending }): ChannelMetrics => ({
    channel,
    pending,
    failures: (carried.failures.get(channel) ?? 0) +
      (options.notify?.failed.filter((f) => f.channel === channel).length ?? 0)
  }))
  const text = render(apps) + (channels.length === 0 ? "" : renderChannels(channels))
  yield* writeFileAtomic(path, text, { mode: 0o644 }).pipe(
    Effect.mapError((e) =>
      fail(
        e.code === "ENOENT"
          ? `${e.message}; create the directory (node_exporter's --collector.textfile.directory) first`
          : e.message
      )
    )
  )
})
