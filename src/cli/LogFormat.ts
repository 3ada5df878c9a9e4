/**
 * What operators read: log lines on stderr (`--log-format logfmt|json|pretty`), each carrying the
 * app and the phase it belongs to, and a redaction that keeps secret values out of log lines,
 * alerts, the run history and the result lines.
 *
 * The phase of a line is, in this order: the `phase` log annotation the program marks its phases
 * with (the innermost: deploy, health, restore, recover, ...); else the phase of the app's
 * in-flight upgrade record (undeploy, snapshot, deploy, health, rollback, ...), observed as the
 * program writes it through the State service; else `reconcile`.
 */
import { FileSystem } from "@effect/platform"
import type { Layer } from "effect"
import { Cause, Effect, Either, HashMap, Inspectable, Logger, Option, Predicate } from "effect"
import { Alert } from "../domain/Alert.js"
import type { AppSpec } from "../domain/Config.js"
import * as EnvFile from "../domain/EnvFile.js"
import { DEFAULT_LOG_PHASE } from "../domain/Phase.js"
import { envPath } from "../live/Apps.js"
import { Alerts } from "../services/Alerts.js"
import { RunRecord, State } from "../services/State.js"

export const LOG_FORMATS = ["logfmt", "json", "pretty"] as const
export type LogFormat = typeof LOG_FORMATS[number]

/** Lines logged outside any known phase of an app's run. */
export const DEFAULT_PHASE = DEFAULT_LOG_PHASE

// ---------------------------------------------------------------------------------------------
// Redaction
// ---------------------------------------------------------------------------------------------

export const REDACTED = "[redacted]"

/** Words that make an env key hold a secret: `ADMIN_PASSWORD`, `SMTP_PASS`, `API_KEY`, `SECRET_KEY_BASE`. */
const SECRET_WORDS = new Set([
  "PASSWORD",
  "PASSWD",
  "PASS",
  "PWD",
  "SECRET",
  "TOKEN",
  "KEY",
  "APIKEY",
  "CREDENTIAL",
  "CREDENTIALS",
  "SALT"
])

/**
 * Does this key name a secret value? `SECRET_<NAME>_VERSION` names only the version of a Docker
 * secret (`v1`), which is not secret and is what the program reports about missing secrets.
 */
export const isSecretKey = (key: string): boolean => {
  const upper = key.toUpperCase()
  return !upper.endsWith("_VERSION") && upper.split(/[_\-.]/).some((word) => SECRET_WORDS.has(word))
}

/**
 * `KEY=value`, `key: value`, `"key": "value"`. The value is only looked ahead at, so that in
 * `said: DB_PASSWORD=x` the match on `said` does not swallow the assignment after it.
 */
const ASSIGNMENT = /\b([A-Za-z][A-Za-z0-9_.-]*)["']?[ \t]*[=:][ \t]*(?=("[^"\n]*"|'[^'\n]*'|[^\s"',;&]+))/g

/** Replace the value of every assignment whose key names a secret. */
const redactAssignments = (text: string): string => {
  let out = ""
  let done = 0
  for (const m of text.matchAll(ASSIGNMENT)) {
    // Inside a value already replaced, or not a secret.
    if (m.index < done || !isSecretKey(m[1]!)) continue
    const valueStart = m.index + m[0].length
    out += text.slice(done, valueStart) + REDACTED
    done = valueStart + m[2]!.length
  }
  return out + text.slice(done)
}

/** Values shorter than this are not scrubbed by value: "v1" or "true" would garble every line. */
export const MIN_SECRET_LENGTH = 4

/**
 * Scrubs secret values out of text: the values of the secret keys in the apps' env files wherever
 * they appear (also JSON-escaped), and any `KEY=value` whose key names a secret.
 */
export class Redactor {
  readonly #needles: ReadonlyArray<string>

  constructor(values: Iterable<string>) {
    const needles = new Set<string>()
    for (const value of values) {
      if (value.length < MIN_SECRET_LENGTH) continue
      needles.add(value)
      // The same value as a JSON or logfmt string shows it (quotes, backslashes, newlines escaped).
      needles.add(JSON.stringify(value).slice(1, -1))
    }
    // Longest first, so that a value containing another is replaced whole.
    this.#needles = [...needles].sort((a, b) => b.length - a.length)
  }

  text(input: string): string {
    let out = input
    for (const needle of this.#needles) {
      if (out.includes(needle)) out = out.split(needle).join(REDACTED)
    }
    return redactAssignments(out)
  }

  /** Strings anywhere in plain data scrubbed; anything else (an Error, a class) becomes scrubbed text. */
  deep(input: unknown): unknown {
    if (typeof input === "string") return this.text(input)
    if (input === null || typeof input !== "object") return input
    if (Array.isArray(input)) return input.map((x) => this.deep(x))
    const proto = Object.getPrototypeOf(input)
    if (proto === Object.prototype || proto === null) {
      return Object.fromEntries(
        Object.entries(input).map(([k, v]) => [k, isSecretKey(k) && typeof v === "string" ? REDACTED : this.deep(v)])
      )
    }
    return this.text(Inspectable.toStringUnknown(input, 0))
  }

  static readonly none = new Redactor([])
}

/** The values of the secret keys in the env files of these apps (files that are missing are skipped). */
export const secretValues = (abraDir: string, apps: ReadonlyArray<AppSpec>) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const values: Array<string> = []
    for (const app of apps) {
      const text = yield* fs.readFileString(envPath(abraDir, app)).pipe(Effect.option)
      if (Option.isNone(text)) continue
      const parsed = EnvFile.parse(text.value)
      // An env file that does not parse is reported by the program itself; scrub what can be read.
      if (Either.isLeft(parsed)) {
        values.push(
          ...text.value.split("\n").flatMap((line) => {
            const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line)
            return m !== null && isSecretKey(m[1]!) ? [m[2]!.trim().replace(/^(["'])(.*)\1$/, "$2")] : []
          })
        )
        continue
      }
      for (const key of EnvFile.keys(parsed.right)) {
        if (isSecretKey(key)) values.push(...Option.toArray(EnvFile.get(parsed.right, key)))
      }
    }
    return values
  })

// ---------------------------------------------------------------------------------------------
// Phases
// ---------------------------------------------------------------------------------------------

/** The phase each app's upgrade is in, as the program last wrote it to the app's in-flight record. */
export class PhaseBook {
  readonly #phases = new Map<string, string>()

  enter(app: string, phase: string | undefined): void {
    if (phase === undefined) this.#phases.delete(app)
    else this.#phases.set(app, phase)
  }

  get(app: string): string | undefined {
    return this.#phases.get(app)
  }
}

const annotation = (annotations: HashMap.HashMap<string, unknown>, key: string): string | undefined =>
  Option.getOrUndefined(Option.filter(HashMap.get(annotations, key), Predicate.isString))

// ---------------------------------------------------------------------------------------------
// Loggers
// ---------------------------------------------------------------------------------------------

export interface LogContext {
  readonly phases: PhaseBook
  readonly redactor: Redactor
}

/**
 * Before any format renders a line: add `phase`, scrub the message, the annotations and the cause
 * (rendered into a `cause` annotation, so that every format scrubs the same text).
 */
const prepare =
  ({ phases, redactor }: LogContext) =>
  <Output>(logger: Logger.Logger<unknown, Output>): Logger.Logger<unknown, Output> =>
    Logger.mapInputOptions(logger, (options) => {
      const app = annotation(options.annotations, "app")
      const phase = annotation(options.annotations, "phase") ??
        (app === undefined ? undefined : phases.get(app)) ??
        DEFAULT_PHASE
      let annotations = HashMap.map(options.annotations, (value) => redactor.deep(value))
      annotations = HashMap.set(annotations, "phase", phase)
      if (!Cause.isEmpty(options.cause)) {
        annotations = HashMap.set(
          annotations,
          "cause",
          redactor.text(Cause.pretty(options.cause, { renderErrorCause: true }))
        )
      }
      const message = Array.isArray(options.message)
        ? options.message.map((m) => redactor.deep(m))
        : redactor.deep(options.message)
      return { ...options, message, annotations, cause: Cause.empty }
    })

/** One JSON object per line: timestamp, level, app, phase, message, then the other annotations. */
const jsonLine = Logger.map(Logger.structuredLogger, (log) => {
  const { app, phase, ...rest } = log.annotations
  return Inspectable.stringifyCircular({
    timestamp: log.timestamp,
    level: log.logLevel,
    ...(app === undefined ? {} : { app }),
    phase,
    message: log.message,
    ...rest
  })
})

/** Renders one event as one line of text (logfmt or JSON), already scrubbed. */
export const formatter = (format: "logfmt" | "json", context: LogContext): Logger.Logger<unknown, string> =>
  // The final scrub catches a known value that reached the line in a form the parts did not show.
  Logger.map(
    prepare(context)(format === "json" ? jsonLine : Logger.logfmtLogger),
    (line) => context.redactor.text(line)
  )

/** The logger writing to stderr: stdout stays for results. */
export const logger = (format: LogFormat, context: LogContext): Logger.Logger<unknown, void> =>
  format === "pretty"
    ? prepare(context)(Logger.prettyLogger({ stderr: true }))
    : Logger.withConsoleError(formatter(format, context))

export const layer = (format: LogFormat, context: LogContext): Layer.Layer<never> =>
  Logger.replace(Logger.defaultLogger, logger(format, context))

/**
 * The services as the program sees them under the CLI: State tells the phase book when the
 * in-flight record changes, and scrubs the detail of a recorded run; Alerts scrubs an alert's
 * fields before it is written.
 */
export const observe = ({ phases, redactor }: LogContext) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(
    Effect.updateService(State, (state) =>
      State.of({
        ...state,
        setInFlight: (app, record) =>
          Effect.sync(() => phases.enter(app, Option.getOrUndefined(Option.map(record, (r) => r.phase)))).pipe(
            Effect.zipRight(state.setInFlight(app, record))
          ),
        recordRun: (run) => state.recordRun(new RunRecord({ ...run, detail: redactor.text(run.detail) }))
      })),
    Effect.updateService(Alerts, (alerts) =>
      Alerts.of({
        write: (alert) =>
          alerts.write(new Alert({ ...alert, fields: redactor.deep(alert.fields) as Record<string, unknown> }))
      }))
  )

/** Everything a live command needs for its output: the format, the redaction and the phase book. */
export interface Output extends LogContext {
  readonly format: LogFormat
}

/** The output of a live command over these apps: their env files' secret values are scrubbed. */
export const make = (
  options: { readonly format: LogFormat; readonly abraDir: string; readonly apps: ReadonlyArray<AppSpec> }
) =>
  Effect.map(secretValues(options.abraDir, options.apps), (values): Output => ({
    format: options.format,
    redactor: new Redactor(values),
    phases: new PhaseBook()
  }))
