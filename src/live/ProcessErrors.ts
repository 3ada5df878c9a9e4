/**
 * How a child process's failure reads: the command as typed, the tail of its stderr (where abra,
 * git and tar say why), and the typed errors a failed start or a non-zero exit becomes. Shared by
 * the ProcessRunner, the layers that run abra and git through it, and the Snapshots' tar.
 */
import type { PlatformError } from "@effect/platform/Error"
import { Effect, Stream } from "effect"
import { CommandFailed, type ProcessError, ProgramNotFound } from "../services/ProcessRunner.js"

const tailLines = 20
const tailChars = 2048

/** The last lines of stderr (at most 20 lines and 2 KiB): where abra and git say why. */
export const stderrTail = (stderr: string): string => {
  const lines = stderr.replace(/\s+$/, "").split(/\r?\n/)
  const tail = lines.slice(-tailLines).join("\n")
  return tail.length > tailChars ? tail.slice(-tailChars) : tail
}

/** {@link stderrTail} of a stream, read in constant memory, so that a chatty tool cannot grow it. */
export const streamTail = <E>(stream: Stream.Stream<Uint8Array, E>): Effect.Effect<string, E> =>
  stream.pipe(
    Stream.decodeText(),
    Stream.runFold("", (acc, s) => (acc + s).slice(-tailChars)),
    Effect.map(stderrTail)
  )

/** The last line that is not blank, trimmed; `undefined` when there is none. */
export const lastLine = (text: string): string | undefined =>
  text.split("\n").map((line) => line.trim()).filter((line) => line !== "").pop()

/** The command as a reader would type it, shortened for messages. */
export const display = (program: string, args: ReadonlyArray<string>): string => {
  const quote = (word: string) => /^[\w@%+=:,./-]+$/.test(word) ? word : JSON.stringify(word)
  const text = [program, ...args].map(quote).join(" ")
  return text.length > 200 ? `${text.slice(0, 199)}…` : text
}

/** A finished run with a non-zero exit code, its message naming the command and stderr's last line. */
export const commandFailed = (
  program: string,
  args: ReadonlyArray<string>,
  exitCode: number,
  stderr: string
): CommandFailed => {
  const tail = stderrTail(stderr)
  const last = lastLine(tail)
  return new CommandFailed({
    program,
    args,
    exitCode,
    stderrTail: tail,
    message: `${display(program, args)} exited with code ${exitCode}${
      last === undefined ? " and wrote nothing to stderr" : `: ${last}`
    }`
  })
}

/**
 * A process that could not be started: a missing or non-executable program is a
 * {@link ProgramNotFound}; a missing working directory is the caller's bug (a defect).
 */
export const startFailure = (program: string, cwd: string | undefined) => (error: PlatformError) => {
  if (error._tag === "SystemError" && error.module === "Command" && error.method === "spawn") {
    if (error.reason === "NotFound") {
      return Effect.fail(
        new ProgramNotFound({ program, message: `${program} was not found on PATH: install it or fix PATH` })
      )
    }
    if (error.reason === "PermissionDenied") {
      return Effect.fail(
        new ProgramNotFound({ program, message: `${program} is not executable: fix its permissions or PATH` })
      )
    }
  }
  if (error._tag === "SystemError" && error.module === "FileSystem" && cwd !== undefined) {
    // The executor checks the working directory first; a missing one is the caller's bug, not the program's.
    return Effect.die(new Error(`cannot run ${program} in ${cwd}: ${error.message}`, { cause: error }))
  }
  return Effect.die(error)
}

/**
 * The `message` and `stderr` of a service error for a process error: `<what> failed (exit N): <last
 * stderr line>` with the stderr tail when the command ran and failed, else the error's own message.
 */
export const processFailure = (
  what: string,
  error: ProcessError
): { readonly message: string; readonly stderr?: string } =>
  error._tag === "CommandFailed"
    ? {
      message: `${what} failed (exit ${error.exitCode}): ${lastLine(error.stderrTail) ?? ""}`,
      stderr: error.stderrTail
    }
    : { message: error.message }
