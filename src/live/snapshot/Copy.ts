/**
 * How a tree is copied: rsync (`-aHAXS --numeric-ids --delete`, unchanged files hard-linked from
 * `--link-dest` dirs), or, where source and destination share a filesystem that supports it, a
 * reflink copy (`cp -a --reflink=always`) that costs only metadata. Detected at run time by
 * cloning a probe file.
 */
import type { CommandExecutor } from "@effect/platform"
import { Effect } from "effect"
import * as NodeFs from "node:fs/promises"
import * as NodePath from "node:path"
import { parseRsync, type Sample } from "../../domain/Progress.js"
import type { SnapshotMethod } from "../../services/Snapshots.js"
import { describe, Failure, suffix } from "./Failure.js"
import { run } from "./Tool.js"

// Numeric owners, hard links, ACLs, xattrs, devices and specials, sparse files: a restore gives
// back exactly what the app left (container uids rarely exist on the host). A negative modify
// window compares mtimes to the nanosecond: rsync's default compares whole seconds, so a file a
// release rewrote at the same size within the same second as the snapshot was taken counted as
// unchanged and was hard-linked back from the live volume (found by the Snapshots contract).
const RSYNC = ["-aHAXS", "--numeric-ids", "--delete", "--modify-window=-1"]

/**
 * Copy the tree `source` into the dir `dest` (created by rsync when missing) with rsync,
 * hard-linking from each of `linkDests` (absolute) the files that are identical there.
 */
export const rsyncTree = (
  source: string,
  dest: string,
  linkDests: ReadonlyArray<string>,
  what: string,
  okCodes: ReadonlyArray<number> = [],
  exclude: ReadonlyArray<string> = [],
  /** Told rsync's progress as it copies. */
  progress?: (sample: Sample) => void
): Effect.Effect<void, Failure, CommandExecutor.CommandExecutor> =>
  run(
    "rsync",
    [
      ...RSYNC,
      // Totals known before the copy starts (the file list in memory: about 100 bytes a file).
      ...(progress === undefined ? [] : ["--info=progress2", "--no-inc-recursive"]),
      ...linkDests.map((d) => `--link-dest=${d}`),
      // Excluded paths are neither copied nor, in `dest`, deleted (rsync protects them from --delete).
      ...exclude.map((p) => `--exclude=${p}`),
      "--",
      `${source}/`,
      `${dest}/`
    ],
    what,
    okCodes,
    "pipe",
    progress === undefined ? undefined : (text) => {
      const sample = parseRsync(text)
      if (sample !== undefined) progress(sample)
    }
  )

/**
 * Hard-link into `dest` what `exclude` leaves out of the tree `source`, with every directory of
 * `source` (a restore's first pass: the copy from the snapshot that follows, with --delete and the
 * same excludes, then removes the directories that hold nothing excluded and sets the rest as the
 * snapshot has them). No --delete here: `dest` is a fresh staging dir.
 */
export const carryExcluded = (source: string, dest: string, exclude: ReadonlyArray<string>, what: string) =>
  run(
    "rsync",
    [
      "-aHAXS",
      "--numeric-ids",
      `--link-dest=${source}`,
      "--include=*/",
      ...exclude.flatMap((p) => [`--include=${p}`, `--include=${p.replace(/\/+$/, "")}/**`]),
      "--exclude=*",
      "--",
      `${source}/`,
      `${dest}/`
    ],
    what
  )

/** Clone the tree `source` into the existing dir `dest`, its root's owner, mode and times included. */
export const reflinkTree = (source: string, dest: string, what: string) =>
  run("cp", ["-a", "--reflink=always", "--no-target-directory", "--", `${source}/.`, dest], what)

/**
 * `reflink` when a file in `from` can be cloned into `into` (same filesystem, and one with
 * reflinks: XFS, btrfs), else `copy`. The probe is written in `into` and cloned beside itself
 * when both dirs share a device.
 */
export const methodFor = (
  from: string,
  into: string
): Effect.Effect<SnapshotMethod, Failure, CommandExecutor.CommandExecutor> =>
  Effect.gen(function*() {
    const devices = yield* Effect.tryPromise({
      try: () => Promise.all([NodeFs.stat(from), NodeFs.stat(into)]).then(([a, b]) => a.dev === b.dev),
      catch: (e) => new Failure({ message: `stat ${from} and ${into}: ${describe(e)}` })
    })
    if (!devices) return "copy"
    const probe = NodePath.join(into, `.warm-reflink-probe-${suffix()}`)
    return yield* Effect.acquireUseRelease(
      Effect.tryPromise({
        try: () => NodeFs.writeFile(probe, "reflink probe\n", { flag: "wx", mode: 0o600 }),
        catch: (e) => new Failure({ message: `write ${probe}: ${describe(e)}` })
      }),
      () =>
        run("cp", ["--reflink=always", "--", probe, `${probe}.clone`], "reflink probe").pipe(
          Effect.as<SnapshotMethod>("reflink"),
          Effect.orElseSucceed((): SnapshotMethod => "copy")
        ),
      () =>
        Effect.promise(() =>
          Promise.all([NodeFs.rm(probe, { force: true }), NodeFs.rm(`${probe}.clone`, { force: true })])
        )
    )
  })
