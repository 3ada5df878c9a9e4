/**
 * An in-memory ProcessRunner: the programs of a simulated machine, each an effect of its arguments
 * that answers its exit code and output (and may take time, or never end). Timeouts run on the
 * Clock, so a rehearsal on virtual time waits out none of them.
 */
import { Duration, Effect, Layer, Option } from "effect"
import type { RunOptions, RunResult } from "../services/ProcessRunner.js"
import {
  CommandFailed,
  CommandTimedOut,
  DEFAULT_MAX_STDOUT,
  ProcessRunner,
  ProgramNotFound,
  STDERR_TAIL_BYTES
} from "../services/ProcessRunner.js"

/** What a program does with its arguments and options (stdin, env, cwd). */
export type SimulatedProgram = (args: ReadonlyArray<string>, options: RunOptions) => Effect.Effect<RunResult>

/** As the live runner: the last 20 lines of stderr, at most 2 KiB. */
const lastLinesOf = (stderr: string): string => {
  const kept = stderr.trimEnd().split(/\r?\n/).slice(-20).join("\n")
  return kept.slice(-2048)
}

/** As the live runner: the first `max` bytes of stdout, the last {@link STDERR_TAIL_BYTES} of stderr. */
const capOutput = (result: RunResult, max: number): RunResult => {
  const stdout = Buffer.from(result.stdout)
  const stderr = Buffer.from(result.stderr)
  return {
    ...result,
    stdout: stdout.length > max ? stdout.subarray(0, max).toString("utf8") : result.stdout,
    stderr: stderr.length > STDERR_TAIL_BYTES ? stderr.subarray(-STDERR_TAIL_BYTES).toString("utf8") : result.stderr
  }
}

const commandLine = (program: string, args: ReadonlyArray<string>) => [program, ...args].join(" ")

/** The programs on the simulated PATH, by name. */
export const layerTest = (programs: Readonly<Record<string, SimulatedProgram>>): Layer.Layer<ProcessRunner> =>
  Layer.succeed(
    ProcessRunner,
    (() => {
      const exec = (program: string, args: ReadonlyArray<string>, options: RunOptions = {}) =>
        Effect.gen(function*() {
          const found = Object.hasOwn(programs, program) ? programs[program] : undefined
          if (found === undefined) {
            return yield* new ProgramNotFound({
              program,
              message: `${program} was not found on PATH: install it or fix PATH`
            })
          }
          const timeout = Duration.decode(options.timeout ?? Duration.minutes(2))
          const ended = yield* Effect.timeoutOption(found(args, options), timeout)
          if (Option.isSome(ended)) return capOutput(ended.value, options.maxStdout ?? DEFAULT_MAX_STDOUT)
          return yield* new CommandTimedOut({
            program,
            args,
            timeoutMillis: Duration.toMillis(timeout),
            message: `${commandLine(program, args)} did not finish within ${
              Duration.format(timeout)
            } and was stopped: find out why it hangs or raise its timeout`
          })
        })
      const run = (program: string, args: ReadonlyArray<string>, options?: RunOptions) =>
        Effect.flatMap(exec(program, args, options), (result) => {
          if (result.exitCode === 0) return Effect.succeed(result)
          const stderrTail = lastLinesOf(result.stderr)
          const why = stderrTail.split("\n").map((l) => l.trim()).filter((l) => l !== "").at(-1)
          return new CommandFailed({
            program,
            args,
            exitCode: result.exitCode,
            stderrTail,
            message: `${commandLine(program, args)} exited with code ${result.exitCode}${
              why === undefined ? " and wrote nothing to stderr" : `: ${why}`
            }`
          })
        })
      return ProcessRunner.of({ run, exec })
    })()
  )
