/**
 * Durable small files for the state and alerts directories: atomic replace (temp file, fsync,
 * rename, fsync of the directory), no-clobber create, safe names and a refusal of symlinked
 * directories.
 *
 * Everything goes through @effect/platform's `FileSystem` except `lstat`, which that interface
 * lacks (its `stat` follows symbolic links): `refuseSymlinkDir` calls node:fs/promises for it.
 */
import { FileSystem } from "@effect/platform"
import type { PlatformError } from "@effect/platform/Error"
import { Effect, Schema } from "effect"
import { randomBytes } from "node:crypto"
import * as NodeFs from "node:fs/promises"
import * as Path from "node:path"

export class FileError extends Schema.TaggedError<FileError>()("FileError", {
  path: Schema.String,
  operation: Schema.Literal("write", "read", "create-directory", "name", "symlink-check", "remove", "rename"),
  /** The errno code (`EACCES`, `ENOSPC`, ...) when there is one, else empty. */
  code: Schema.String,
  message: Schema.String
}) {}

const verbs: Record<FileError["operation"], string> = {
  write: "cannot write",
  read: "cannot read",
  "create-directory": "cannot create the directory",
  name: "refusing the name",
  "symlink-check": "cannot inspect",
  remove: "cannot remove",
  rename: "cannot move"
}

/** What a person can do about an errno code. */
const advice = (code: string): string | undefined => {
  switch (code) {
    case "EACCES":
    case "EPERM":
      return "run as root or fix the state directory's owner and mode"
    case "ENOSPC":
      return "the disk is full: free some space"
    case "EDQUOT":
      return "the disk quota is exhausted: free some space or raise the quota"
    case "EROFS":
      return "the filesystem is read-only: remount it read-write or choose another state directory"
    case "ENOTDIR":
      return "a part of the path is a file, not a directory: move it away or choose another state directory"
    case "EISDIR":
      return "a directory is in the way: move it away"
    case "ENOENT":
      return "a parent directory is missing"
    case "EEXIST":
      return "the file exists already"
    case "EIO":
      return "the disk reported an I/O error: check it (dmesg)"
    default:
      return undefined
  }
}

const codeOf = (error: PlatformError | NodeJS.ErrnoException): string => {
  const cause = "_tag" in error ? (error as { cause?: unknown }).cause : error
  const code = typeof cause === "object" && cause !== null ? (cause as { code?: unknown }).code : undefined
  return typeof code === "string" ? code : ""
}

const descriptionOf = (error: PlatformError | NodeJS.ErrnoException): string =>
  "_tag" in error && error._tag === "SystemError" ? (error.description ?? error.reason) : error.message

/** `cannot write /x/last_good: EACCES: run as root or fix the state directory's owner and mode`. */
export const fileError = (operation: FileError["operation"], path: string) => {
  const verb = verbs[operation]
  return (error: PlatformError | NodeJS.ErrnoException): FileError => {
    const code = codeOf(error)
    const hint = advice(code)
    const detail = hint === undefined ? descriptionOf(error) : `${code}: ${hint}`
    return new FileError({ path, operation, code, message: `${verb} ${path}: ${detail}` })
  }
}

/**
 * Join one file name onto a directory, refusing anything that is not a single plain component
 * (empty, `.`, `..`, a `/`, a NUL): names come from app names and alert ids, which a config
 * file or a command line controls.
 */
export const safeJoin = (root: string, name: string): Effect.Effect<string, FileError> => {
  const problem = name === ""
    ? "it is empty"
    : name.includes("\0")
    ? "it contains a NUL byte"
    : name.includes("/") || name.includes("\\")
    ? "it contains a path separator"
    : name === "." || name === ".."
    ? "it names a directory rather than a file"
    : undefined
  return problem === undefined
    ? Effect.succeed(Path.join(root, name))
    : Effect.fail(
      new FileError({
        path: root,
        operation: "name",
        code: "",
        message: `refusing the name ${JSON.stringify(name)} under ${root}: ${problem}; ` +
          "use a plain name of letters, digits, '.', '_' or '-'"
      })
    )
}

/**
 * Refuse a state or alerts directory that is a symbolic link: a link planted there would redirect
 * root's writes anywhere. A missing path is fine (it will be created); a file is refused.
 */
export const refuseSymlinkDir = Effect.fn("AtomicFile.refuseSymlinkDir")(function*(path: string) {
  const info = yield* Effect.tryPromise({
    try: () => NodeFs.lstat(path),
    catch: (e) => e as NodeJS.ErrnoException
  }).pipe(
    Effect.map((stats) => ({ exists: true as const, stats })),
    Effect.catchIf((e) => e.code === "ENOENT", () => Effect.succeed({ exists: false as const })),
    Effect.mapError(fileError("symlink-check", path))
  )
  if (!info.exists) return
  if (info.stats.isSymbolicLink()) {
    const target = yield* Effect.promise(() => NodeFs.readlink(path).catch(() => "?"))
    return yield* new FileError({
      path,
      operation: "symlink-check",
      code: "ELOOP",
      message: `refusing ${path}: it is a symbolic link (to ${target}); replace it with a real directory, ` +
        "or configure the state directory as the link's target"
    })
  }
  if (!info.stats.isDirectory()) {
    return yield* new FileError({
      path,
      operation: "symlink-check",
      code: "ENOTDIR",
      message: `refusing ${path}: it is not a directory; move it away or choose another state directory`
    })
  }
})

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

/** fsync a directory so a rename or unlink in it survives a power cut. */
export const syncDir = Effect.fn("AtomicFile.syncDir")(function*(dir: string) {
  const fs = yield* FileSystem.FileSystem
  yield* Effect.scoped(Effect.flatMap(fs.open(dir, { flag: "r" }), (file) => file.sync)).pipe(
    // Some filesystems cannot fsync a directory (EINVAL); the rename is done, nothing to undo.
    Effect.catchIf((e) => codeOf(e) === "EINVAL", () => Effect.void),
    Effect.mapError(fileError("write", dir))
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
      yield* file.writeAll(bytes)
      yield* file.sync
    }))
    // The umask may have narrowed the mode at creation; set exactly what was asked.
    yield* fs.chmod(temp, mode)
    if (options.exclusive === true) {
      yield* fs.link(temp, path)
      created = false
      // The target is complete already; a temp name left behind is only litter.
      yield* fs.remove(temp).pipe(
        Effect.catchAll((e) => Effect.logWarning(`could not remove ${temp}: ${descriptionOf(e)}`))
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

/** Read a file as text; `undefined` when it does not exist. */
export const readFileIfExists = Effect.fn("AtomicFile.readFileIfExists")(function*(path: string) {
  const fs = yield* FileSystem.FileSystem
  return yield* fs.readFileString(path).pipe(
    Effect.map((text): string | undefined => text),
    Effect.catchIf((e) => codeOf(e) === "ENOENT", () => Effect.succeed(undefined)),
    Effect.mapError(fileError("read", path))
  )
})

/** Remove a file if it exists, then make the removal durable. */
export const removeFile = Effect.fn("AtomicFile.removeFile")(function*(path: string) {
  const fs = yield* FileSystem.FileSystem
  const removed = yield* fs.remove(path).pipe(
    Effect.as(true),
    Effect.catchIf((e) => codeOf(e) === "ENOENT", () => Effect.succeed(false)),
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

/** The errno code of a FileError or PlatformError, for callers that branch on one (e.g. EEXIST). */
export const errorCode = (error: FileError | PlatformError): string =>
  error._tag === "FileError" ? error.code : codeOf(error)
