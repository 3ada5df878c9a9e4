/**
 * The external tools the snapshot store runs (rsync, cp, tar, rm, sync), each to the end, with
 * the tail of its stderr in the error message.
 */
import type { CommandExecutor } from "@effect/platform"
import { Command } from "@effect/platform"
import { Effect, Stream } from "effect"
import { streamTail } from "../ProcessErrors.js"
import { Failure, io } from "./Failure.js"

export type ToolName = "rsync" | "cp" | "tar" | "rm" | "sync"

const INSTALL_HINT: Partial<Record<ToolName, string>> = {
  rsync: " (is rsync installed? apt-get install rsync)",
  tar: " (is GNU tar installed?)"
}

/**
 * Run `name args` and fail unless it exits with 0 or one of `okCodes` (rsync's 24, "files
 * vanished", is fine for a pre-copy taken while the app runs).
 */
export const run = (
  name: ToolName,
  args: ReadonlyArray<string>,
  what: string,
  okCodes: ReadonlyArray<number> = [],
  /** `inherit`: the tool writes to this process's stdout (an export to stdout). */
  stdout: "pipe" | "inherit" = "pipe",
  /** Told each chunk of the tool's stdout, as it comes (rsync's progress). */
  onStdout?: (text: string) => void
): Effect.Effect<void, Failure, CommandExecutor.CommandExecutor> =>
  Effect.scoped(Effect.gen(function*() {
    const command = Command.make(name, ...args).pipe(Command.env({ LC_ALL: "C" }), Command.stdout(stdout))
    const process = yield* Command.start(command).pipe(
      io(`${what}: could not start ${name}${INSTALL_HINT[name] ?? ""}`)
    )
    const [stderr, , exitCode] = yield* Effect.all([
      streamTail(process.stderr).pipe(Effect.orElseSucceed(() => "")),
      stdout === "inherit"
        ? Effect.void
        : onStdout === undefined
        ? Stream.runDrain(process.stdout).pipe(Effect.ignore)
        : process.stdout.pipe(
          Stream.decodeText(),
          Stream.runForEach((text) => Effect.sync(() => onStdout(text))),
          Effect.ignore
        ),
      process.exitCode.pipe(io(`${what}: ${name}`))
    ], { concurrency: "unbounded" })
    if (exitCode !== 0 && !okCodes.includes(exitCode)) {
      return yield* new Failure({
        message: `${what}: ${name} exited with ${exitCode}${stderr === "" ? "" : `: ${stderr}`}`
      })
    }
  }))

/**
 * Remove a whole tree with rm: Node's recursive remove holds every entry of the tree in memory
 * at once (220 MiB resident for 90,000 files), rm walks it in constant memory.
 */
export const removeTree = (path: string) => run("rm", ["-rf", "--one-file-system", "--", path], `remove ${path}`)

/** Flush the filesystem holding `path` (syncfs): one call instead of an fsync per copied file. */
export const syncFs = (path: string) => run("sync", ["--file-system", "--", path], `flush the filesystem of ${path}`)
