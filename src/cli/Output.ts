/**
 * What the commands share for their output: the live layers with their log lines, a result line
 * per app (text or JSON, scrubbed), and the exit code.
 */
import { Console, Effect } from "effect"
import type { AppSpec } from "../domain/Config.js"
import * as Outcome from "../domain/Outcome.js"
import * as Live from "../live/Live.js"
import * as LiveRedaction from "../live/Redaction.js"
import * as ConfigFile from "./ConfigFile.js"
import { type ExitCode, exitCode } from "./ExitCode.js"
import * as LogFormat from "./LogFormat.js"
import { debugCalls } from "./Logging.js"
import * as SafeConsole from "./SafeConsole.js"

/** Set the process's exit code without ending it, so that finalizers and output flush first. */
export const setExitCode = (code: ExitCode) =>
  Effect.sync(() => {
    process.exitCode = code
  })

/** What every app of this process ended as so far, for the exit code of an interrupted run (bin.ts). */
const endedOutcomes: Array<Outcome.Outcome> = []
export const noteEnded = (outcome: Outcome.Outcome) => Effect.sync(() => void endedOutcomes.push(outcome))
export const ended = (): ReadonlyArray<Outcome.Outcome> => endedOutcomes

/**
 * Run a command's work on the live layers, its log lines on stderr in `format` (with
 * `--log-level debug`, a line for every call to a service). The layers scrub
 * the secret values of every configured app's env file out of log lines, alerts and the history.
 */
export const withLive = <A, E, R>(
  loaded: ConfigFile.LoadedConfig,
  effect: Effect.Effect<A, E, R>,
  format: LogFormat.LogFormat = "logfmt"
) => {
  const phases = new LogFormat.PhaseBook()
  return effect.pipe(
    LogFormat.observe({ phases }),
    debugCalls,
    Effect.provide(
      Live.layer({ stateDir: loaded.config.stateDir, abraDir: loaded.abraDir, apps: ConfigFile.allApps(loaded) })
    ),
    Effect.provide(LogFormat.layer(format, phases))
  )
}

/**
 * Run a command printing every line scrubbed of the secret values of the configured apps' env
 * files (`plan`, `status`, `snapshot`: release notes, errors and labels can carry them), as alerts,
 * the history and log lines are. The env files are read once, before anything is printed.
 */
export const printingRedacted = (loaded: ConfigFile.LoadedConfig) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(
    LiveRedaction.Redaction,
    (book) => Console.consoleWith((base) => Effect.withConsole(effect, SafeConsole.redacted(base, book)))
  ).pipe(
    Effect.provide(LiveRedaction.layer({ abraDir: loaded.abraDir, apps: ConfigFile.allApps(loaded) }))
  )

/** An outcome as `--json` prints it (also under `simulate`). */
export const outcomeJson = (outcome: Outcome.Outcome) => ({
  outcome: outcome._tag,
  detail: Outcome.detail(outcome),
  result: Outcome.format(outcome),
  exitCode: exitCode(outcome)
})

/** One app's result on stdout: the original's result line (with --all, one per app) or one JSON object. */
export const printOutcome = (
  app: AppSpec,
  outcome: Outcome.Outcome,
  options: {
    readonly json: boolean
    readonly interrupted: boolean
    readonly fleet: boolean
    readonly redaction: LiveRedaction.Scrubber
  }
) =>
  Console.log(options.redaction.text(
    options.json
      ? JSON.stringify({ app: app.name, ...outcomeJson(outcome), interrupted: options.interrupted })
      : (options.fleet ? `RECONCILE RESULT ${app.name}: ${Outcome.format(outcome)}` : Outcome.resultLine(outcome)) +
        (options.interrupted ? " (interrupted)" : "")
  ))
