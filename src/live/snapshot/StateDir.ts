/**
 * The snapshot's place in the state dir and its crash rule. `<stateDir>/<app>/snapshot` holds
 * `meta.json` (written last: its presence marks the snapshot complete) and, per volume, either
 * a tree `volumes/<volume>/` with its manifest `manifests/<volume>.jsonl` (this tool) or an
 * archive `volumes/<volume>.tar` (earlier versions of this tool, and the Python original).
 *
 * A take builds the new snapshot in `snapshot.new-<random>` and swaps it in by two renames.
 * Crash rule (applied before every take and restore, and read-only by show): `snapshot` wins
 * when it exists; when it is missing (a crash between the two renames), the complete
 * `snapshot.old-*` is the snapshot, since it is the last one a take finished and returned.
 * A `snapshot.new-*` is never promoted: the take that wrote it never reported success.
 * `snapshot.pre` (the pre-copy) is never a snapshot either: it holds, per volume, a tree, its
 * manifest and `records/<volume>.jsonl` (the volume's entries before the copy, written last: a
 * volume without one was not pre-copied whole), and a take's final pass turns the tree into the
 * snapshot's, copying what changed since the record (./FinalPass.ts); without a record it hard-links
 * from the tree the
 * files that are identical to the volume's.
 *
 * With `snapshot.keep: N`, the snapshot a take replaces becomes `snapshot.kept-<ms>-<random>`
 * (sharing unchanged files with the new one), and the oldest beyond N are removed. A crash between
 * the swap and that rename loses the replaced one: the next take removes it as a leftover.
 */
import { FileSystem } from "@effect/platform"
import { Array as Arr, Clock, Effect, Option, Schema } from "effect"
import * as NodePath from "node:path"
import { SnapshotMeta } from "../../services/Snapshots.js"
import * as FileChecks from "../FileChecks.js"
import { Failure, io, suffix } from "./Failure.js"
import { removeTree } from "./Tool.js"

export const SNAPSHOT = "snapshot"
export const PRECOPY = "snapshot.pre"
export const NEW_PREFIX = "snapshot.new-"
export const OLD_PREFIX = "snapshot.old-"
export const KEPT_PREFIX = "snapshot.kept-"
/** What a take replaced and does not keep: removed after the take returns, or by the next operation. */
export const TRASH_PREFIX = "snapshot.trash-"
export const DIR_MODE = 0o700
export const FILE_MODE = 0o600
/** Docker's own rule for volume names; they become file names here. */
const VOLUME_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/

export const treeOf = (snapshotDir: string, volume: string) => NodePath.join(snapshotDir, "volumes", volume)
export const archiveOf = (snapshotDir: string, volume: string) => NodePath.join(snapshotDir, "volumes", `${volume}.tar`)
export const manifestOf = (snapshotDir: string, volume: string) =>
  NodePath.join(snapshotDir, "manifests", `${volume}.jsonl`)
/** The pre-copy's record of a volume's entries before it was copied (./FinalPass.ts); written last. */
export const recordOf = (preDir: string, volume: string) => NodePath.join(preDir, "records", `${volume}.jsonl`)

const decodeMeta = Schema.decodeUnknown(Schema.parseJson(SnapshotMeta))
const encodeMeta = Schema.encode(SnapshotMeta)

export const checkVolumeName = (name: string) =>
  VOLUME_NAME.test(name)
    ? Effect.void
    : new Failure({
      message: `${JSON.stringify(name)} is not a Docker volume name; refusing to use it as a file name`
    })

export const syncDir = (dir: string) =>
  FileChecks.syncDir(dir).pipe(Effect.mapError((e) => new Failure({ message: e.message })))

/** Write `text` to a new file with mode 0600 and fsync it. */
export const writeDurably = (file: string, text: string) =>
  Effect.scoped(Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const handle = yield* fs.open(file, { flag: "wx", mode: FILE_MODE }).pipe(io(`create ${file}`))
    yield* handle.writeAll(new TextEncoder().encode(text)).pipe(io(`write ${file}`))
    yield* handle.sync.pipe(io(`fsync ${file}`))
  }))

export const writeMeta = (dir: string, meta: SnapshotMeta) =>
  Effect.gen(function*() {
    const json = JSON.stringify(yield* encodeMeta(meta).pipe(io("encode meta.json")), null, 2) + "\n"
    yield* writeDurably(NodePath.join(dir, "meta.json"), json)
    yield* syncDir(dir)
  })

/** The meta of a snapshot dir: none when it has no meta.json (never finished). */
export const readMeta = (dir: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = NodePath.join(dir, "meta.json")
    if (!(yield* fs.exists(path).pipe(io(`look for ${path}`)))) return Option.none<SnapshotMeta>()
    const text = yield* fs.readFileString(path).pipe(io(`read ${path}`))
    const meta = yield* decodeMeta(text).pipe(
      io(`${path} is not a snapshot meta file; move the snapshot away and take a new one`)
    )
    yield* Effect.forEach(meta.volumes, checkVolumeName, { discard: true })
    return Option.some(meta)
  })

/**
 * Where the snapshot is, by the crash rule in the module comment: `snapshot`, else the
 * newest complete `snapshot.old-*`. A `snapshot` that cannot be read is reported as a
 * failure, which blocks show and restore but not a take (that replaces it).
 */
export const locate = (appDir: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const none = Option.none<{ readonly name: string; readonly meta: SnapshotMeta }>()
    if (!(yield* fs.exists(appDir).pipe(io(`look for ${appDir}`)))) {
      return { entries: [] as Array<string>, current: none, broken: Option.none<Failure>() }
    }
    const entries = yield* fs.readDirectory(appDir).pipe(io(`list ${appDir}`))
    if (entries.includes(SNAPSHOT)) {
      const dir = NodePath.join(appDir, SNAPSHOT)
      const meta = yield* readMeta(dir).pipe(
        Effect.filterOrFail(
          Option.isSome,
          () => new Failure({ message: `${dir} has no meta.json: it is incomplete; take a new snapshot` })
        ),
        Effect.either
      )
      return meta._tag === "Right"
        ? { entries, current: Option.some({ name: SNAPSHOT, meta: meta.right.value }), broken: Option.none() }
        : { entries, current: none, broken: Option.some(meta.left) }
    }
    const complete = yield* Effect.forEach(
      entries.filter((e) => e.startsWith(OLD_PREFIX)),
      (name) =>
        readMeta(NodePath.join(appDir, name)).pipe(
          Effect.map(Option.map((meta) => ({ name, meta }))),
          Effect.orElseSucceed(() => Option.none())
        )
    )
    const newest = Arr.getSomes(complete).sort((a, b) => String(b.meta.ts).localeCompare(String(a.meta.ts)))[0]
    return { entries, current: Option.fromNullable(newest), broken: Option.none<Failure>() }
  })

/** Remove what an interrupted take or restore left in `dir`. */
export const removeLeftovers = (dir: string, names: ReadonlyArray<string>) =>
  Effect.forEach(
    names,
    (e) => removeTree(NodePath.join(dir, e)).pipe(io(`remove the leftover ${e} in ${dir}`)),
    { discard: true }
  )

/** Settle an interrupted take: promote per the crash rule, then drop every leftover. */
export const recover = (appDir: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const { broken, current, entries } = yield* locate(appDir)
    if (Option.isSome(current) && current.value.name !== SNAPSHOT) {
      yield* Effect.logWarning(`${appDir}: ${SNAPSHOT} is missing; keeping ${current.value.name} (crash mid-swap)`)
      yield* fs.rename(NodePath.join(appDir, current.value.name), NodePath.join(appDir, SNAPSHOT)).pipe(
        io(`rename ${current.value.name} to ${SNAPSHOT} in ${appDir}`)
      )
      yield* syncDir(appDir)
    }
    const leftovers = entries.filter((e) =>
      e.startsWith(NEW_PREFIX) || e.startsWith(TRASH_PREFIX) ||
      (e.startsWith(OLD_PREFIX) && Option.getOrUndefined(current)?.name !== e)
    )
    yield* removeLeftovers(appDir, leftovers)
    return { meta: Option.map(current, (c) => c.meta), broken }
  })

/** The kept older snapshots' dir names, oldest first (their names sort by when they were kept). */
export const keptOf = (appDir: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    return (yield* fs.readDirectory(appDir).pipe(io(`list ${appDir}`))).filter((e) => e.startsWith(KEPT_PREFIX)).sort()
  })

/** Rename `path` (in `appDir`) to a trash name: its removal can wait (see TRASH_PREFIX). */
export const toTrash = (appDir: string, path: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const trash = NodePath.join(appDir, `${TRASH_PREFIX}${suffix()}`)
    yield* fs.rename(path, trash).pipe(io(`rename ${path} to ${trash}`))
    return trash
  })

/**
 * Keep `retired` (when there is one) as the newest older snapshot, or put it in the trash; then
 * put the oldest beyond `keep` in the trash too. Returns the trash to remove.
 */
const retire = (appDir: string, retired: string | undefined, keep: number) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const trash: Array<string> = []
    if (retired !== undefined && keep > 0) {
      const kept = `${KEPT_PREFIX}${String(yield* Clock.currentTimeMillis).padStart(15, "0")}-${suffix()}`
      yield* fs.rename(retired, NodePath.join(appDir, kept)).pipe(io(`rename ${retired} to ${kept}`))
    } else if (retired !== undefined) {
      trash.push(yield* toTrash(appDir, retired))
    }
    // Also when nothing was replaced: a lowered `keep` applies at the next take.
    const all = yield* keptOf(appDir)
    for (const old of all.slice(0, Math.max(0, all.length - keep))) {
      trash.push(yield* toTrash(appDir, NodePath.join(appDir, old)))
    }
    yield* syncDir(appDir)
    return trash
  })

/**
 * Replace `snapshot` by `fresh` with two renames; the old one is kept (see the module comment) or
 * put in the trash. Returns the trash, for the caller to remove (the app need not wait for it).
 */
export const swapIn = (appDir: string, fresh: string, keep = 0) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const current = NodePath.join(appDir, SNAPSHOT)
    const retired = NodePath.join(appDir, `${OLD_PREFIX}${suffix()}`)
    const hadOne = yield* fs.exists(current).pipe(io(`look for ${current}`))
    if (hadOne) yield* fs.rename(current, retired).pipe(io(`rename ${current} to ${retired}`))
    yield* fs.rename(fresh, current).pipe(
      io(`rename ${fresh} to ${current}`),
      Effect.tapError(() => hadOne ? fs.rename(retired, current).pipe(Effect.ignore) : Effect.void)
    )
    yield* syncDir(appDir)
    return yield* retire(appDir, hadOne ? retired : undefined, keep).pipe(
      Effect.catchAll((e) =>
        Effect.as(
          Effect.logWarning(
            `could not retire the replaced snapshot ${retired} (removed on the next take): ${e.message}`
          ),
          [] as ReadonlyArray<string>
        )
      )
    )
  }).pipe(Effect.uninterruptible)
