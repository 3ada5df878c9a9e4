/**
 * The all-or-nothing part of a restore: each volume is rebuilt in `<mountpoint>.warm-restore-<random>`
 * (same parent, same filesystem), and only when all are built is each swapped in by two renames.
 * Leftovers of a crashed restore beside a mountpoint are settled by the next restore: a missing
 * mountpoint gets its `.warm-old-*` back, then every `.warm-restore-*` and `.warm-old-*` goes.
 */
import { FileSystem } from "@effect/platform"
import { Effect, Option } from "effect"
import * as NodePath from "node:path"
import type { StackVolume } from "../../services/Docker.js"
import { Failure, io, suffix } from "./Failure.js"
import { DIR_MODE, removeLeftovers, syncDir } from "./StateDir.js"
import { removeTree, syncFs } from "./Tool.js"

const STAGING_INFIX = ".warm-restore-"
const RETIRED_INFIX = ".warm-old-"

export interface Target {
  readonly name: string
  readonly mountpoint: string
  readonly parent: string
  readonly info: FileSystem.File.Info
  readonly sameFs: boolean
}

/** A volume's data dir as a real path, checked to be renameable within its parent. */
export const target = (volume: StackVolume) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    if (volume.refused !== undefined) return yield* new Failure({ message: `${volume.refused}; nothing was changed` })
    if (!NodePath.isAbsolute(volume.mountpoint)) {
      return yield* new Failure({ message: `volume ${volume.name}: mountpoint ${volume.mountpoint} is not absolute` })
    }
    const mountpoint = yield* fs.realPath(volume.mountpoint).pipe(
      io(`volume ${volume.name}: its data dir ${volume.mountpoint} cannot be resolved`)
    )
    // Docker's own volumes have no symbolic link on the way: one there (a symlinked `_data`) would
    // have root copy and restore whatever it points at.
    if (mountpoint !== NodePath.resolve(volume.mountpoint)) {
      return yield* new Failure({
        message: `volume ${volume.name}: its data dir ${volume.mountpoint} is reached through a symbolic link ` +
          `(it resolves to ${mountpoint}): refused, nothing was changed; a Docker volume has none, check who made it`
      })
    }
    const parent = NodePath.dirname(mountpoint)
    const [info, parentInfo] = yield* Effect.all([fs.stat(mountpoint), fs.stat(parent)]).pipe(
      io(`volume ${volume.name}: stat ${mountpoint}`)
    )
    if (info.type !== "Directory" || parent === mountpoint) {
      return yield* new Failure({ message: `volume ${volume.name}: ${mountpoint} is not a data directory` })
    }
    return { name: volume.name, mountpoint, parent, info, sameFs: info.dev === parentInfo.dev } satisfies Target
  })

/** Undo what a crashed restore left beside a mountpoint (see the module comment). */
export const settleSiblings = (mountpoint: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const parent = NodePath.dirname(mountpoint)
    const base = NodePath.basename(mountpoint)
    const entries = yield* fs.readDirectory(parent).pipe(io(`list ${parent}`))
    const retired = entries.filter((e) => e.startsWith(`${base}${RETIRED_INFIX}`)).sort()
    const staged = entries.filter((e) => e.startsWith(`${base}${STAGING_INFIX}`))
    let leftovers = [...retired, ...staged]
    if (!entries.includes(base) && retired.length > 0) {
      const back = retired[retired.length - 1]!
      yield* Effect.logWarning(`${mountpoint} is missing after an interrupted restore; putting ${back} back`)
      yield* fs.rename(NodePath.join(parent, back), mountpoint).pipe(io(`rename ${back} to ${mountpoint}`))
      leftovers = leftovers.filter((e) => e !== back)
    }
    yield* removeLeftovers(parent, leftovers)
  })

/**
 * Build every target's new data with `populate(target, staging)`, then swap all in. A failure
 * or interruption while building removes the staging dirs; a failed swap puts back the ones
 * already swapped. Returns the replaced data dirs, to be removed.
 */
export const buildAndSwap = <R>(
  targets: ReadonlyArray<Target>,
  populate: (t: Target, staging: string) => Effect.Effect<void, Failure, R>
) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const staged: Array<{ readonly mountpoint: string; readonly staging: string }> = []
    const buildAll = Effect.forEach(targets, (t) =>
      Effect.gen(function*() {
        const staging = `${t.mountpoint}${STAGING_INFIX}${suffix()}`
        // Create and record as one step: an interruption in between would leak the dir.
        yield* fs.makeDirectory(staging, { mode: DIR_MODE }).pipe(
          Effect.tap(() => Effect.sync(() => staged.push({ mountpoint: t.mountpoint, staging }))),
          Effect.uninterruptible,
          io(`create ${staging}`)
        )
        // The current root's owner and mode, in case the snapshot has no root entry; when it
        // has one, the copy then sets the snapshot's own (the data's state at snapshot time).
        // Never the set-group-ID bit: every directory cp creates below would inherit it, and
        // cp -a does not clear it (the copy sets the root's own mode, that bit included, last).
        yield* fs.chown(staging, Option.getOrElse(t.info.uid, () => 0), Option.getOrElse(t.info.gid, () => 0))
          .pipe(io(`chown ${staging}`))
        yield* fs.chmod(staging, t.info.mode & 0o5777).pipe(io(`chmod ${staging}`))
        yield* populate(t, staging)
      }), { discard: true })
    const removeStaged = Effect.suspend(() =>
      Effect.forEach(staged, (s) =>
        removeTree(s.staging).pipe(
          Effect.catchAll((e) => Effect.logWarning(`could not remove ${s.staging}: ${e.message}`))
        ), { discard: true })
    )
    yield* buildAll.pipe(
      // The new data is on disk before any volume is swapped to it.
      Effect.zipRight(Effect.forEach(new Set(targets.map((t) => t.parent)), syncFs, { discard: true })),
      Effect.onError(() => removeStaged),
      Effect.mapError((e) => new Failure({ message: `${e.message}; the volumes' data was not changed` }))
    )

    // All built: swap each, undoing earlier swaps if one fails. Not interruptible.
    const swapped: Array<{ readonly mountpoint: string; readonly staging: string; readonly retired: string }> = []
    const swapAll = Effect.forEach(staged, (s) =>
      Effect.gen(function*() {
        const retired = `${s.mountpoint}${RETIRED_INFIX}${suffix()}`
        yield* fs.rename(s.mountpoint, retired).pipe(io(`rename ${s.mountpoint} to ${retired}`))
        yield* fs.rename(s.staging, s.mountpoint).pipe(
          io(`rename ${s.staging} to ${s.mountpoint}`),
          Effect.tapError(() => fs.rename(retired, s.mountpoint).pipe(Effect.ignore))
        )
        swapped.push({ ...s, retired })
      }), { discard: true })
    const unswap = Effect.suspend(() =>
      Effect.forEach(swapped.slice().reverse(), (s) =>
        fs.rename(s.mountpoint, s.staging).pipe(
          Effect.zipRight(fs.rename(s.retired, s.mountpoint)),
          Effect.catchAll((e) => Effect.logError(`could not put ${s.retired} back at ${s.mountpoint}: ${e}`))
        ), { discard: true })
    )
    yield* swapAll.pipe(
      Effect.tapError(() => unswap.pipe(Effect.zipRight(removeStaged))),
      Effect.mapError((e) => new Failure({ message: `${e.message}; the swapped volumes were put back` })),
      Effect.zipRight(Effect.forEach(new Set(targets.map((t) => t.parent)), syncDir, { discard: true })),
      Effect.uninterruptible
    )
    // The replaced data, for the caller to remove (the app need not wait; the next restore removes what is left).
    return swapped.map((s) => s.retired)
  })
