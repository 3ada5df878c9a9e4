/**
 * The process's exit code, from what a command ended with: an outcome, an error, or an interrupt
 * (README "Exit codes"). One exhaustive match: a new outcome or error tag without a code here
 * fails the typecheck.
 */
import type { ValidationError } from "@effect/cli"
import { Data, Match } from "effect"
import type { ConfigError } from "../domain/Config.js"
import type { EnvFileError } from "../domain/EnvFile.js"
import * as Outcome from "../domain/Outcome.js"
import type { ConfigMismatch, ReconcileError, RunKilled } from "../reconcile/Errors.js"
import type { HealthProbeError } from "../services/Health.js"
import type { LockBusy, LockError } from "../services/Lock.js"
import type { CommandFailed, CommandTimedOut, ProgramNotFound } from "../services/ProcessRunner.js"
import type { UsageError } from "./ConfigFile.js"
import type { UnknownScenario } from "./Simulate.js"

export type ExitCode = 0 | 1 | 2 | 75 | 130 | 143

/**
 * Stopped by a signal (none seen: interrupted from inside, reported as SIGTERM), with what the
 * apps had ended as by then: one left down makes it a failure (exit 1).
 */
export class Interrupted extends Data.TaggedClass("Interrupted")<{
  readonly signal: "SIGINT" | "SIGTERM" | undefined
  readonly outcomes?: ReadonlyArray<Outcome.Outcome>
}> {}

/** Every error a command can fail with: the command line's, the config's, the program's and its services'. */
export type CommandError =
  | ValidationError.ValidationError
  | ConfigError
  | UsageError
  | UnknownScenario
  | EnvFileError
  | ReconcileError
  | ConfigMismatch
  | RunKilled
  | HealthProbeError
  | LockBusy
  | LockError
  | CommandFailed
  | CommandTimedOut
  | ProgramNotFound

/** What a command (or one app's run under it) ended with. */
export type Ending = Outcome.Outcome | CommandError | Interrupted

export const exitCode: (ending: Ending) => ExitCode = Match.type<Ending>().pipe(
  Match.withReturnType<ExitCode>(),
  // Every outcome: the domain's table (0 healthy, 1 down or failed), listed here so that the match stays exhaustive.
  Match.tag(
    "deployed-fresh",
    "noop-healthy",
    "redeployed-healthy",
    "held-major",
    "held-manual-migration",
    "held-policy",
    "held-unknown-version",
    "held-failed-release",
    "held-no-space",
    "held-chaos",
    "held-undeployed",
    "held-window",
    "paused",
    "upgraded",
    "rolled-back",
    "recovered",
    "unhealthy",
    "rollback-failed",
    "failed",
    Outcome.exitCode
  ),
  // An operation failed.
  Match.tag(
    "EnvFileError",
    "StepTimedOut",
    "RunKilled",
    "HealthGateFailed",
    "AlertError",
    "AbraError",
    "DockerApiError",
    "DockerUnavailable",
    "HealthProbeError",
    "LockError",
    "CommandFailed",
    "CommandTimedOut",
    "ProgramNotFound",
    "RecipeError",
    "SnapshotError",
    "StateError",
    "StateUnreadable",
    () => 1
  ),
  // Bad usage or config: nothing was written.
  Match.tag(
    "CommandMismatch",
    "CorrectedFlag",
    "HelpRequested",
    "InvalidArgument",
    "InvalidValue",
    "MissingValue",
    "MissingFlag",
    "MultipleValuesDetected",
    "MissingSubcommand",
    "NoBuiltInMatch",
    "UnclusteredFlag",
    "ConfigError",
    "UsageError",
    "UnknownScenario",
    "ConfigMismatch",
    () => 2
  ),
  // EX_TEMPFAIL: another run held the app's lock past --lock-wait; try again later.
  Match.tag("LockBusy", () => 75),
  Match.tag("Interrupted", (i) => Outcome.interruptedExitCode(i.signal, i.outcomes ?? [])),
  Match.exhaustive
)

/** The worst code of several apps' runs wins: 75 (try again) over 1 (failed) over 0. */
export const worst = (codes: ReadonlyArray<ExitCode>): ExitCode => codes.reduce((a, b) => a > b ? a : b, 0 as ExitCode)
