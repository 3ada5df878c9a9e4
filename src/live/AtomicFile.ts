/**
 * Durable small files for the state and alerts directories: atomic replace (temp file, fsync,
 * rename, fsync of the directory), no-clobber create and a torn-line-safe append, all through
 * @effect/platform's `FileSystem`. The checks around them (names, symlinks, errno) are in FileChecks.
 */
import { FileSystem } from "@effect/platform"
import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import * as NodeFsCallback from "node:fs"
import { constants as NodeConstants } from "node:fs"
import * as NodeFs from "node:fs/promises"
import * as Path from "node:path"
import { describeFailure, errorCode, FileError, fileError, syncDir } from "./FileChecks.js"

/**
 * Create a directory (and missing parents) with mode 0700. An existing directory keeps its mode:
 * the Python original made its directories 0755 and an operator may have opened one to a relay
 * on purpose; the files inside are 0600 either way, so a wider directory shows only file names.
 */
export const ensureDir = Effect.fn("AtomicFile.ensureDir")(function*(path: string) {
  const fs = yield* FileSystem.FileSystem
  yield* fs.makeDirectory(path, { recursive: true, mode: 0o700 }).pipe(
    Effect.mapError(fileError("create-directory", path))
  )
})

export interface WriteOptions {
  /** Mode of the new file; 0600 unless given. */
  readonly mode?: number
  /**
   * Fail with code `EEXIST` instead of replacing an existing target (link instead of rename):
   * the target appears complete or not at all, and never clobbers another writer's file.
   */
  readonly exclusive?: boolean
}

const encoder = new TextEncoder()

/**
 * Write `data` to `path` so that a reader or a crash sees the old content or the new one, never
 * a mix: a uniquely named temp file in the same directory, fsync, rename over the target, fsync
 * of the directory. Any failure removes the temp file.
 */
export const writeFileAtomic = Effect.fn("AtomicFile.writeFileAtomic")(function*(
  path: string,
  data: string | Uint8Array,
  options: WriteOptions = {}
) {
  const fs = yield* FileSystem.FileSystem
  const mode = options.mode ?? 0o600
  const dir = Path.dirname(path)
  const temp = Path.join(dir, `.${Path.basename(path)}.tmp-${randomBytes(6).toString("hex")}`)
  const bytes = typeof data === "string" ? encoder.encode(data) : data
  let created = false
  const work = Effect.gen(function*() {
    yield* Effect.scoped(Effect.gen(function*() {
      // `wx`: never write through a file (or link) someone else put at the temp name.
      const file = yield* fs.open(temp, { flag: "wx", mode })
      created = true
      // The umask may have narrowed the mode at creation: set exactly what was asked, on the
      // descriptor. By path, after the close, whoever can write the directory could swap the temp
      // file for a link to any file of root's and have its mode changed.
      yield* fchmod(file.fd, mode)
      yield* file.writeAll(bytes)
      yield* file.sync
    }))
    if (options.exclusive === true) {
      yield* fs.link(temp, path)
      created = false
      // The target is complete already; a temp name left behind is only litter.
      yield* fs.remove(temp).pipe(
        Effect.catchAll((e) => Effect.logWarning(`could not remove ${temp}: ${describeFailure(e)}`))
      )
    } else {
      yield* fs.rename(temp, path)
    }
    created = false
  }).pipe(Effect.mapError(fileError("write", path)))
  yield* work.pipe(
    Effect.onExit(() => created ? fs.remove(temp).pipe(Effect.ignore) : Effect.void)
  )
  yield* syncDir(dir)
})

/**
 * Read a file as text; `undefined` when it does not exist. Only a regular file is read, and never
 * through a symbolic link: a FIFO would block the run and a link would make root read (and carry
 * into its own files) whatever it points at. Node's own `open` with `O_NOFOLLOW | O_NONBLOCK`: the
 * platform FileSystem has no flags for either.
 */
export const readFileIfExists = Effect.fn("AtomicFile.readFileIfExists")(function*(path: string) {
  return yield* Effect.tryPromise({
    try: async () => {
      const handle = await NodeFs.open(
        path,
        NodeConstants.O_RDONLY | NodeConstants.O_NOFOLLOW | NodeConstants.O_NONBLOCK
      )
      try {
        if (!(await handle.stat()).isFile()) return notRegular
        return await handle.readFile("utf8")
      } finally {
        await handle.close()
      }
    },
    catch: (e) => e as NodeJS.ErrnoException
  }).pipe(
    Effect.catchIf((e) => e.code === "ENOENT", () => Effect.succeed(undefined)),
    Effect.mapError((e) =>
      e.code === "ELOOP"
        ? new FileError({
          path,
          operation: "read",
          code: "ELOOP",
          message: `refusing to read ${path}: it is a symbolic link; replace it with the file itself or remove it`
        })
        : fileError("read", path)(e)
    ),
    Effect.flatMap((text) =>
      text === notRegular
        ? new FileError({
          path,
          operation: "read",
          code: "",
          message: `refusing to read ${path}: it is not a regular file (a FIFO, a device or a directory); move it away`
        })
        : Effect.succeed(text)
    )
  )
})

const notRegular = Symbol("not a regular file")

/** `fchmod(2)`: the platform File has no chmod of its descriptor. */
const fchmod = (fd: number, mode: number) =>
  Effect.async<void, NodeJS.ErrnoException>((resume) => {
    NodeFsCallback.fchmod(fd, mode, (error) => resume(error === null ? Effect.void : Effect.fail(error)))
  })

/** Remove a file if it exists, then make the removal durable. */
export const removeFile = Effect.fn("AtomicFile.removeFile")(function*(path: string) {
  const fs = yield* FileSystem.FileSystem
  const removed = yield* fs.remove(path).pipe(
    Effect.as(true),
    Effect.catchIf((e) => errorCode(e) === "ENOENT", () => Effect.succeed(false)),
    Effect.mapError(fileError("remove", path))
  )
  if (removed) yield* syncDir(Path.dirname(path))
})

/** Append one line with O_APPEND and fsync; a torn last line (no final newline) is ended first. */
export const appendLine = Effect.fn("AtomicFile.appendLine")(function*(path: string, line: string, mode = 0o600) {
  const fs = yield* FileSystem.FileSystem
  yield* Effect.scoped(Effect.gen(function*() {
    const file = yield* fs.open(path, { flag: "a+", mode })
    const size = (yield* file.stat).size
    let prefix = ""
    if (size > 0n) {
      yield* file.seek(size - 1n, "start")
      const last = yield* file.readAlloc(1)
      // A crash mid-append leaves a line without its newline: start ours on a fresh line.
      if (last._tag === "Some" && last.value[0] !== 0x0a) prefix = "\n"
    }
    yield* file.writeAll(encoder.encode(`${prefix}${line}\n`))
    yield* file.sync
  })).pipe(Effect.mapError(fileError("write", path)))
})
