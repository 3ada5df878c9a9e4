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
import * as Outcome from "../domain/Outcome.js"
import { PHASE_DURATION_METRIC, TIMED_PHASES, type TimedPhase } from "../domain/Phase.js"
import type { RunRecord } from "../services/State.js"
import { readFileIfExists, writeFileAtomic } from "./AtomicFile.js"
import { readHistory } from "./State.js"

export class MetricsError extends Schema.TaggedError<MetricsError>()("MetricsError", {
  path: Schema.String,
  message: Schema.String
}) {}

export const PHASES = TIMED_PHASES
export type Phase = TimedPhase

/** Outcomes that mean an upgrade was rolled back (whether or not the rollback itself worked). */
const ROLLBACKS: ReadonlySet<string> = new Set(["rolled-back", "rollback-failed"])

/** The metric label that tells whose runs a phase duration belongs to. */
const RECORDER_LABEL = "warm_reconcile_recorder"

let recorders = 0

/** What one process saw happen: phase durations (seconds, summed per run) and rollbacks, per app. */
export class Recorder {
  /** Labels the phase durations of the runs this recorder watches (see {@link recording}). */
  readonly id = `recorder-${++recorders}`
  readonly #rollbacks = new Map<string, number>()

  /** Count what an app's run ended as (a rollback adds one to its counter). */
  outcome(app: string, outcome: Outcome.Outcome): void {
    // A recovery that brought last-good back (not one that committed the target) is a rollback too.
    const rolledBack = ROLLBACKS.has(outcome._tag) || (outcome._tag === "recovered" && !outcome.committed)
    if (rolledBack) this.#rollbacks.set(app, (this.#rollbacks.get(app) ?? 0) + 1)
  }

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

  rollbacks(app: string): number {
    return this.#rollbacks.get(app) ?? 0
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
  readonly rollbacks: number
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
  {
    name: "warm_reconcile_rollbacks_total",
    type: "counter",
    help:
      "Upgrades of the app that were rolled back (rolled-back or rollback-failed) since the metrics file was first written.",
    samples: (m) => [[{}, m.rollbacks]]
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

export interface Carried {
  readonly durations: Map<string, Map<Phase, number>>
  readonly rollbacks: Map<string, number>
}

const SAMPLE = /^(warm_reconcile_phase_duration_seconds|warm_reconcile_rollbacks_total)\{([^}]*)\}[ \t]+(\S+)[ \t]*$/
const LABEL = /([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g
const unescapeLabel = (value: string) => value.replace(/\\(.)/g, (_, c: string) => c === "n" ? "\n" : c)

/** What a previous file of ours carries over: phase durations and rollback counters; anything else is ignored. */
export const parsePrevious = (text: string): Carried => {
  const carried: Carried = { durations: new Map(), rollbacks: new Map() }
  for (const line of text.split("\n")) {
    const m = SAMPLE.exec(line.trim())
    if (m === null) continue
    const labels = Object.fromEntries([...m[2]!.matchAll(LABEL)].map((l) => [l[1]!, unescapeLabel(l[2]!)]))
    const value = Number(m[3])
    const app = labels["app"]
    if (app === undefined || !Number.isFinite(value) || value < 0) continue
    if (m[1] === "warm_reconcile_rollbacks_total") {
      carried.rollbacks.set(app, value)
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
    const fs = yield* FileSystem.FileSystem
    // A missing directory is the write's to report.
    const info = yield* fs.stat(dir).pipe(Effect.option)
    if (Option.isNone(info)) return
    const owner = Option.getOrElse(info.value.uid, () => 0)
    const me = process.getuid?.() ?? 0
    const problem = owner !== 0 && owner !== me
      ? `it belongs to uid ${owner}, not root`
      : (info.value.mode & 0o022) !== 0
      ? `it is writable by ${(info.value.mode & 0o002) !== 0 ? "every account" : "its group"}`
      : undefined
    if (problem === undefined) return
    return yield* fail(
      `refusing the directory ${dir}: ${problem}, so another account could swap the file root writes there; ` +
        "use a directory owned by root with mode 0755 (e.g. /var/lib/node-exporter-textfile) and point " +
        "node_exporter's --collector.textfile.directory at it"
    )
  })

export interface WriteOptions {
  readonly stateDir: string
  /** The configured apps: each gets its series; apps no longer configured are dropped. */
  readonly apps: ReadonlyArray<string>
  readonly recorder: Recorder
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
  const apps = yield* Effect.forEach(options.apps, (app) =>
    Effect.gen(function*() {
      const history = yield* readHistory(options.stateDir, app).pipe(Effect.mapError((e) => fail(e.message)))
      const durations = new Map(carried.durations.get(app))
      for (const [phase, seconds] of options.recorder.durations(app)) durations.set(phase, seconds)
      return {
        app,
        ...fromHistory(history),
        durations,
        rollbacks: (carried.rollbacks.get(app) ?? 0) + options.recorder.rollbacks(app)
      } satisfies AppMetrics
    }))
  yield* writeFileAtomic(path, render(apps), { mode: 0o644 }).pipe(
    Effect.mapError((e) =>
      fail(
        e.code === "ENOENT"
          ? `${e.message}; create the directory (node_exporter's --collector.textfile.directory) first`
          : e.message
      )
    )
  )
})
