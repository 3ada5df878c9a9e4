/**
 * ProcessRunner: run a program with an argument array (never a shell string) and collect its
 * stdout, stderr and exit code together, within a time limit.
 */
import type { Duration, Effect } from "effect"
import { Context, Schema } from "effect"

/** The program ran and exited with a non-zero code. */
export class CommandFailed extends Schema.TaggedError<CommandFailed>()("CommandFailed", {
  program: Schema.String,
  args: Schema.Array(Schema.String),
  exitCode: Schema.Number,
  /** The last lines of stderr: where abra and git say why. */
  stderrTail: Schema.String,
  message: Schema.String
}) {}

/** The program is not on PATH (or not executable). */
export class ProgramNotFound extends Schema.TaggedError<ProgramNotFound>()("ProgramNotFound", {
  program: Schema.String,
  message: Schema.String
}) {}

/** The program ran past its time limit and was killed (SIGTERM, then SIGKILL after a grace period). */
export class CommandTimedOut extends Schema.TaggedError<CommandTimedOut>()("CommandTimedOut", {
  program: Schema.String,
  args: Schema.Array(Schema.String),
  timeoutMillis: Schema.Number,
  message: Schema.String
}) {}

export type ProcessError = CommandFailed | ProgramNotFound | CommandTimedOut

export interface RunOptions {
  readonly cwd?: string
  /** Added to (and overriding) the inherited environment. */
  readonly env?: Readonly<Record<string, string>>
  /** Default: 2 minutes. */
  readonly timeout?: Duration.DurationInput
  /** Time between SIGTERM and SIGKILL once the timeout has passed. Default: 5 seconds. */
  readonly killGrace?: Duration.DurationInput
  readonly stdin?: string
  /**
   * Bytes of stdout kept (the first ones); the rest is read and dropped, so a child that writes
   * without end cannot fill our memory. Default: {@link DEFAULT_MAX_STDOUT}. stderr keeps its last
   * {@link STDERR_TAIL_BYTES} bytes, where programs say why they failed.
   */
  readonly maxStdout?: number
}

export const DEFAULT_MAX_STDOUT = 16 * 1024 * 1024
export const STDERR_TAIL_BYTES = 64 * 1024

export interface RunResult {
  readonly exitCode: number
  readonly stdout: string
  readonly stderr: string
}

export class ProcessRunner extends Context.Tag("warm-reconcile/ProcessRunner")<ProcessRunner, {
  /** Run to the end; a non-zero exit code is a {@link CommandFailed}. */
  readonly run: (
    program: string,
    args: ReadonlyArray<string>,
    options?: RunOptions
  ) => Effect.Effect<RunResult, ProcessError>
  /** Run to the end and answer any exit code (for commands whose exit code is the answer). */
  readonly exec: (
    program: string,
    args: ReadonlyArray<string>,
    options?: RunOptions
  ) => Effect.Effect<RunResult, ProgramNotFound | CommandTimedOut>
}>() {}
