/**
 * Filesystem checks the live layers share: the errno name of a failure (and what a person can do
 * about it), safe file names, the refusal of symlinked directories and the fsync of a directory.
 *
 * Everything goes through @effect/platform's `FileSystem` except `lstat`, which that interface
 * lacks (its `stat` follows symbolic links): `refuseSymlinkDir` calls node:fs/promises for it.
 */
import { FileSystem } from "@effect/platform"
import type { PlatformError } from "@effect/platform/Error"
import { Effect, Option, Schema } from "effect"
import * as NodeFs from "node:fs/promises"
import * as Path from "node:path"

export class FileError extends Schema.TaggedError<FileError>()("FileError", {
  path: Schema.String,
  operation: Schema.Literal(
    "write",
    "read",
    "create-directory",
    "name",
    "symlink-check",
    "ownership-check",
    "remove",
    "rename"
  ),
  /** The errno code (`EACCES`, `ENOSPC`, ...) when there is one, else empty. */
  code: Schema.String,
  message: Schema.String
}) {}

/**
 * The innermost errno name (`ENOENT`, `ECONNREFUSED`, `DEPTH_ZERO_SELF_SIGNED_CERT`, ...) on the
 * chain of causes (a PlatformError wraps Node's error, undici wraps the socket's), with that
 * error's message; without one, the message of the deepest error reached.
 */
export const errnoOf = (error: unknown): { readonly code: string | undefined; readonly message: string } => {
  let current: unknown = error
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === "string") return { code, message: current.message }
    if (current.cause === undefined) return { code: undefined, message: current.message }
    current = current.cause
  }
  return { code: undefined, message: String(current) }
}

/** The errno name of a FileError or any other failure, else empty (for callers that branch on one, e.g. EEXIST). */
export const errorCode = (error: unknown): string => error instanceof FileError ? error.code : errnoOf(error).code ?? ""

const verbs: Record<FileError["operation"], string> = {
  write: "cannot write",
  read: "cannot read",
  "create-directory": "cannot create the directory",
  name: "refusing the name",
  "symlink-check": "cannot inspect",
  "ownership-check": "cannot inspect",
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

/** A PlatformError's own description (Node's message is less readable); anything else's message. */
export const describeFailure = (error: PlatformError | Error): string =>
  "_tag" in error && error._tag === "SystemError" ? (error.description ?? error.reason) : error.message

/** `cannot write /x/last_good: EACCES: run as root or fix the state directory's owner and mode`. */
export const fileError = (operation: FileError["operation"], path: string) => {
  const verb = verbs[operation]
  return (error: PlatformError | NodeJS.ErrnoException): FileError => {
    const code = errorCode(error)
    const hint = advice(code)
    const detail = hint === undefined ? describeFailure(error) : `${code}: ${hint}`
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
export const refuseSymlinkDir = Effect.fn("FileChecks.refuseSymlinkDir")(function*(path: string) {
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

/** fsync a directory so a rename, creation or unlink in it survives a power cut. */
export const syncDir = Effect.fn("FileChecks.syncDir")(function*(dir: string) {
  const fs = yield* FileSystem.FileSystem
  yield* Effect.scoped(Effect.flatMap(fs.open(dir, { flag: "r" }), (file) => file.sync)).pipe(
    // Some filesystems cannot fsync a directory (EINVAL); the rename is done, nothing to undo.
    Effect.catchIf((e) => errorCode(e) === "EINVAL", () => Effect.void),
    Effect.mapError(fileError("write", dir))
  )
})

/** Owner, group and mode of a file, and who this process is. */
export interface Ownership {
  readonly uid: number
  readonly gid: number
  readonly mode: number
}

/**
 * Why another account could change a file root acts on (the config, the state directory): it
 * belongs to an account other than root and this process, or is writable by every account, or
 * by a group other than root's and ours. Undefined when it is safe.
 */
export const ownershipProblem = (file: Ownership, me: Pick<Ownership, "uid" | "gid">): string | undefined =>
  file.uid !== 0 && file.uid !== me.uid
    ? `it belongs to uid ${file.uid}, not root`
    : (file.mode & 0o002) !== 0
    ? "it is writable by every account"
    : (file.mode & 0o020) !== 0 && file.gid !== 0 && file.gid !== me.gid
    ? `it is writable by group ${file.gid}`
    : undefined

/**
 * Refuse a config file or state directory another account could change (root runs what they
 * say, and restores what the state tree holds). A missing path is left to whoever reads it.
 */
export const refuseLooseOwnership = Effect.fn("FileChecks.refuseLooseOwnership")(function*(path: string) {
  const problem = yield* writableByOthers(path)
  if (Option.isNone(problem)) return
  return yield* new FileError({
    path,
    operation: "ownership-check",
    code: "",
    message: `refusing ${path}: ${problem.value}, and root acts on what it holds; ` +
      `make it root's and writable by root alone (chown root:root ${path}; chmod go-w ${path})`
  })
})

/** {@link ownershipProblem} of `path` as it is now; none when it does not exist (its creator is then us). */
export const writableByOthers = Effect.fn("FileChecks.writableByOthers")(function*(path: string) {
  const fs = yield* FileSystem.FileSystem
  const info = yield* fs.stat(path).pipe(Effect.option)
  if (Option.isNone(info)) return Option.none<string>()
  return Option.fromNullable(ownershipProblem(
    {
      uid: Option.getOrElse(info.value.uid, () => 0),
      gid: Option.getOrElse(info.value.gid, () => 0),
      mode: info.value.mode
    },
    { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 }
  ))
})
