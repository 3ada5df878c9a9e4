/** Small helpers for tests of the file-backed live layers. */
import { FileSystem } from "@effect/platform"
import { Effect, Exit } from "effect"

/** A temp dir removed with the test's scope. */
export const tempDir = (prefix: string) =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix }))

export const modeOf = (path: string) =>
  Effect.map(Effect.flatMap(FileSystem.FileSystem, (fs) => fs.stat(path)), (info) => info.mode & 0o777)

export const listDir = (path: string) =>
  Effect.map(Effect.flatMap(FileSystem.FileSystem, (fs) => fs.readDirectory(path)), (names) => names.sort())

/** The typed error of a failed Exit; throws when it succeeded or died. */
export const failure = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  if (exit.cause._tag !== "Fail") throw new Error(`expected a typed failure, got ${String(exit.cause)}`)
  return exit.cause.error
}
