/**
 * What operators read: log lines on stderr (`--log-format logfmt|json|pretty`), each carrying the
 * app and the phase it belongs to, its secret values scrubbed (by `live/Redaction.ts`).
 *
 * The phase of a line is, in this order: the stage the program marks (`recover`, `metrics`: the
 * `phase` annotation); else the phase of the app's in-flight upgrade record (undeploy, snapshot,
 * deploy, health, rollback, ...), observed as the program writes it through the State service;
 * else the innermost step the program marks (the `step` annotation: deploy, health, ...); else
 * `reconcile`.
 */
import type { Layer } from "effect"
import { Effect, HashMap, Inspectable, Logger, Option, Predicate } from "effect"
import { DEFAULT_LOG_PHASE } from "../domain/Phase.js"
import { Redactor } from "../domain/Redaction.js"
import { redactLogger, type Scrubber } from "../live/Redaction.js"
import { State } from "../services/State.js"

export const LOG_FORMATS = ["logfmt", "json", "pretty"] as const
export type LogFormat = typeof LOG_FORMATS[number]

/** Lines logged outside any known phase of an app's run. */
export const DEFAULT_PHASE = DEFAULT_LOG_PHASE

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
  /** Under the live layers `Redactor.none`: they scrub every line before a logger sees it. */
  readonly redactor: Scrubber
}

/** Before any format renders a line: scrub it, then add `phase`. */
const prepare =
  ({ phases, redactor }: LogContext) =>
  <Output>(logger: Logger.Logger<unknown, Output>): Logger.Logger<unknown, Output> =>
    redactLogger(redactor)(Logger.mapInputOptions(logger, (options) => {
      const app = annotation(options.annotations, "app")
      const phase = annotation(options.annotations, "phase") ??
        (app === undefined ? undefined : phases.get(app)) ??
        annotation(options.annotations, "step") ??
        DEFAULT_PHASE
      return { ...options, annotations: HashMap.set(HashMap.remove(options.annotations, "step"), "phase", phase) }
    }))

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
  // The final scrub of the rendered line: the `KEY=value` rule over the whole line (under the live
  // layers the known values were already scrubbed from every part, so `redactor` is `Redactor.none`).
  Logger.map(
    prepare(context)(format === "json" ? jsonLine : Logger.logfmtLogger),
    (line) => context.redactor.text(line)
  )

/** The logger writing to stderr: stdout stays for results. */
export const logger = (format: LogFormat, context: LogContext): Logger.Logger<unknown, void> =>
  format === "pretty"
    ? prepare(context)(Logger.prettyLogger({ stderr: true, colors: false }))
    : Logger.withConsoleError(formatter(format, context))

/**
 * The log lines of a command on the live layers, in `format`: the layers scrub each line before
 * this logger sees it (provide this outside them, so that they wrap it).
 */
export const layer = (format: LogFormat, phases: PhaseBook = new PhaseBook()): Layer.Layer<never> =>
  Logger.replace(Logger.defaultLogger, logger(format, { phases, redactor: Redactor.none }))

/** State as the program sees it under the CLI: it tells the phase book when the in-flight record changes. */
export const observe = ({ phases }: Pick<LogContext, "phases">) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(
    Effect.updateService(State, (state) =>
      State.of({
        ...state,
        setInFlight: (app, record) =>
          Effect.sync(() => phases.enter(app, Option.getOrUndefined(Option.map(record, (r) => r.phase)))).pipe(
            Effect.zipRight(state.setInFlight(app, record))
          )
      }))
  )
