/** The shared process-error helpers: last stderr line, streamed tail, and the errors a failure becomes. */
import { SystemError } from "@effect/platform/Error"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Stream } from "effect"
import {
  commandFailed,
  lastLine,
  processFailure,
  startFailure,
  stderrTail,
  streamTail
} from "../../src/live/ProcessErrors.js"
import { CommandTimedOut, ProgramNotFound } from "../../src/services/ProcessRunner.js"

const spawnError = (reason: "NotFound" | "PermissionDenied") =>
  new SystemError({ reason, module: "Command", method: "spawn", pathOrDescriptor: "abra", description: "injected" })

describe("lastLine", () => {
  it("is the last line that is not blank, trimmed", () => {
    expect(lastLine("INFO one\nFATA  two  \n\n  \n")).toBe("FATA  two")
    expect(lastLine("only")).toBe("only")
  })

  it("is undefined for blank text", () => {
    expect(lastLine("")).toBeUndefined()
    expect(lastLine(" \n\t\n")).toBeUndefined()
  })
})

describe("streamTail", () => {
  it.effect("is stderrTail of the whole text, for text split across chunks", () =>
    Effect.gen(function*() {
      const text = Array.from({ length: 400 }, (_, i) => `line ${i} ${"x".repeat(i % 7)}`).join("\n") + "\n"
      const bytes = new TextEncoder().encode(text)
      const chunks = Array.from({ length: Math.ceil(bytes.length / 97) }, (_, i) => bytes.slice(i * 97, (i + 1) * 97))
      expect(yield* streamTail(Stream.fromIterable(chunks))).toBe(stderrTail(text))
    }))

  it.effect("keeps a multi-byte character split between two chunks whole", () =>
    Effect.gen(function*() {
      const bytes = new TextEncoder().encode("tar: Größe\n")
      const split = bytes.indexOf(0xc3) + 1
      expect(yield* streamTail(Stream.make(bytes.slice(0, split), bytes.slice(split)))).toBe("tar: Größe")
    }))
})

describe("commandFailed", () => {
  it("names the command, the exit code and stderr's last line, and keeps the tail", () => {
    const error = commandFailed("git", ["-C", "/r x", "tag"], 128, "hint: a\nfatal: not a git repository\n")
    expect(error._tag).toBe("CommandFailed")
    expect(error.exitCode).toBe(128)
    expect(error.stderrTail).toBe("hint: a\nfatal: not a git repository")
    expect(error.message).toBe(`git -C "/r x" tag exited with code 128: fatal: not a git repository`)
  })

  it("says so when stderr is empty", () => {
    expect(commandFailed("abra", ["app", "ls"], 1, "\n").message).toBe(
      "abra app ls exited with code 1 and wrote nothing to stderr"
    )
  })
})

describe("processFailure", () => {
  it("a failed command: what failed, its exit code and last stderr line, with the stderr tail", () => {
    const failed = commandFailed("abra", ["app", "deploy"], 1, "INFO deploying\nFATA converge timeout\n")
    expect(processFailure("abra app deploy for a.example.org", failed)).toEqual({
      message: "abra app deploy for a.example.org failed (exit 1): FATA converge timeout",
      stderr: "INFO deploying\nFATA converge timeout"
    })
  })

  it("any other process error: its own message and no stderr", () => {
    const missing = new ProgramNotFound({ program: "abra", message: "abra was not found on PATH" })
    expect(processFailure("abra app deploy", missing)).toEqual({ message: "abra was not found on PATH" })
    const hung = new CommandTimedOut({ program: "abra", args: [], timeoutMillis: 1, message: "abra hung" })
    expect(processFailure("abra app deploy", hung)).toEqual({ message: "abra hung" })
  })
})

describe("startFailure", () => {
  it.effect("a missing or non-executable program is a ProgramNotFound naming it", () =>
    Effect.gen(function*() {
      const missing = yield* Effect.flip(startFailure("abra", undefined)(spawnError("NotFound")))
      expect(missing).toBeInstanceOf(ProgramNotFound)
      expect(missing.message).toBe("abra was not found on PATH: install it or fix PATH")
      const denied = yield* Effect.flip(startFailure("abra", undefined)(spawnError("PermissionDenied")))
      expect(denied.message).toBe("abra is not executable: fix its permissions or PATH")
    }))

  it.effect("a missing working directory is a defect naming it", () =>
    Effect.gen(function*() {
      const error = new SystemError({
        reason: "NotFound",
        module: "FileSystem",
        method: "access",
        pathOrDescriptor: "/nope"
      })
      const exit = yield* Effect.exit(startFailure("git", "/nope")(error))
      expect(Exit.isFailure(exit) && exit.cause._tag).toBe("Die")
      expect(String(Exit.isFailure(exit) && exit.cause._tag === "Die" && exit.cause.defect)).toContain(
        "cannot run git in /nope"
      )
    }))
})
