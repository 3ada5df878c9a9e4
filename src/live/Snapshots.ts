// Over 300 lines: space, pre-copy, take, restore, show and list share one closure over Docker and the layout.
/**
 * Live Snapshots: per stack volume, a directory tree copied by rsync (or cloned by reflink where
 * the filesystem supports it) with a manifest, under `<stateDir>/<app>/snapshot` (layout and
 * crash rule of the state dir: ./snapshot/StateDir.ts; the staged restore: ./snapshot/StagedRestore.ts).
 *
 * Two phases: `precopy`, while the app still runs, brings `snapshot.pre` up to date (unchanged
 * files hard-linked from the last snapshot); `take`, after the undeploy, writes the new snapshot
 * in `snapshot.new-<random>`, hard-linking from the pre-copy and the last snapshot every file that
 * is identical, so that it copies only what changed. Snapshot trees are never written after
 * their take: a changed file is a new inode, so sharing them is safe.
 *
 * Restore checks each volume's manifest against meta.json and the tree against the manifest, then
 * rebuilds each volume beside it, hard-linking unchanged files from the live volume and copying
 * the rest from the snapshot, and swaps. Snapshots in the earlier tar format (and the Python
 * original's) are still shown and restored, by extracting the archive.
 */
import { CommandExecutor, FileSystem } from "@effect/platform"
import type { Duration } from "effect"
import { Clock, Context, Effect, Either, FiberSet, Layer, Option } from "effect"
import * as NodeFs from "node:fs/promises"
import * as NodePath from "node:path"
import type { AppSpec } from "../domain/Config.js"
import type { Sample } from "../domain/Progress.js"
import { excludesOf, keepOf, selects, selectVolumes } from "../domain/SnapshotConfig.js"
import { Docker, type StackVolume } from "../services/Docker.js"
import { SnapshotError, SnapshotMeta, type SnapshotMethod, Snapshots } from "../services/Snapshots.js"
import { writableByOthers } from "./FileChecks.js"
import { carryExcluded, methodFor, reflinkTree, rsyncTree } from "./snapshot/Copy.js"
import { describe, Failure, io, suffix } from "./snapshot/Failure.js"
import * as FinalPass from "./snapshot/FinalPass.js"
import * as Manifest from "./snapshot/Manifest.js"
import { reporter } from "./snapshot/Progress.js"
import { buildAndSwap, settleSiblings, type Target, target } from "./snapshot/StagedRestore.js"
import {
  archiveOf,
  checkVolumeName,
  DIR_MODE,
  locate,
  manifestOf,
  NEW_PREFIX,
  PRECOPY,
  recordOf,
  recover,
  SNAPSHOT,
  swapIn,
  syncDir,
  toTrash,
  TRASH_PREFIX,
  treeOf,
  writeMeta
} from "./snapshot/StateDir.js"
import { listSnapshots } from "./snapshot/Summary.js"
import { removeTree, run, syncFs } from "./snapshot/Tool.js"

export interface Options {
  /** The state root, e.g. `/var/lib/warm-reconcile`; snapshots live in `<stateDir>/<app>/snapshot`. */
  readonly stateDir: string
  /** How often a long copy logs its progress when stderr is not a terminal (10 s). */
  readonly progressEvery?: Duration.DurationInput
}

type Operation = SnapshotError["operation"]

/** What the check of one volume's snapshot found: its excludes, and whether to link from the volume. */
interface Checked {
  readonly exclude: ReadonlyArray<string>
  readonly linkSafe: boolean
  /** By the snapshot's record: what the volume still holds as taken, and what to replace or remove. */
  readonly since: Option.Option<FinalPass.SinceTake>
}

const TAR_EXTRACT = [
  "--numeric-owner",
  "--same-owner",
  "--preserve-permissions",
  "--xattrs",
  "--xattrs-include=*",
  "--acls"
]

/**
 * Files modified this close to the pre-copy's start are dropped from it: a write in the same
 * clock tick as rsync's read leaves the mtime unchanged, and the take would keep a torn copy.
 */
const PRECOPY_MARGIN_NS = 2_000_000_000n

export const make = (options: Options) =>
  Effect.gen(function*() {
    const docker = yield* Docker
    const context = Context.make(FileSystem.FileSystem, yield* FileSystem.FileSystem).pipe(
      Context.add(CommandExecutor.CommandExecutor, yield* CommandExecutor.CommandExecutor)
    )
    const fs = Context.get(context, FileSystem.FileSystem)
    const stateDir = NodePath.resolve(options.stateDir)

    // Removals that need not hold up the app (a replaced snapshot, a restore's replaced data): run
    // in the background, waited for before the next operation starts and before the layer closes.
    // A crash leaves them as leftovers, which the next operation removes.
    const background = yield* FiberSet.make<void, never>()
    // A run ends with its removals done, not cut short (the layer's finalizers run in reverse order).
    yield* Effect.addFinalizer(() => FiberSet.awaitEmpty(background))
    const later = (paths: ReadonlyArray<string>) =>
      paths.length === 0 ? Effect.void : FiberSet.run(
        background,
        Effect.forEach(paths, (path) =>
          removeTree(path).pipe(
            Effect.catchAll((e) => Effect.logWarning(`could not remove ${path} (removed later): ${e.message}`))
          ), { discard: true }).pipe(Effect.provide(context))
      ).pipe(Effect.asVoid)
    const settled = FiberSet.awaitEmpty(background)

    /** Run `step` with a progress reporter for `what` (see ./snapshot/Progress.ts). */
    const showing = <A, E, R>(what: string, step: (update: (sample: Sample) => void) => Effect.Effect<A, E, R>) =>
      Effect.flatMap(
        reporter(what, { every: options.progressEvery ?? "10 seconds" }),
        (r) => step(r.update).pipe(Effect.ensuring(r.done))
      )

    const appDirOf = (app: AppSpec) => {
      const dir = NodePath.resolve(stateDir, app.name)
      return NodePath.dirname(dir) === stateDir && !app.name.startsWith(".")
        ? Effect.succeed(dir)
        : new Failure({ message: `the app name ${JSON.stringify(app.name)} would leave the state directory` })
    }

    const requireUndeployed = (app: AppSpec, doing: string) =>
      docker.isDeployed(app.stack).pipe(
        Effect.mapError((e) =>
          new Failure({
            message:
              `could not check whether stack ${app.stack} is deployed (${e.message}); fix Docker access and retry`
          })
        ),
        Effect.flatMap((deployed) =>
          deployed
            ? new Failure({ message: `stack ${app.stack} is deployed: undeploy first, then ${doing}` })
            : Effect.void
        )
      )

    /**
     * The checked list of the volumes the app's config selects, and their data dirs, before anything
     * in the state dir is touched.
     */
    const prepare = (app: AppSpec, all: ReadonlyArray<StackVolume>) =>
      Effect.gen(function*() {
        const appDir = yield* appDirOf(app)
        const volumes = yield* Either.match(selectVolumes(app, all), {
          onLeft: (message) => new Failure({ message }),
          onRight: Effect.succeed
        })
        const names = volumes.map((v) => v.name)
        yield* Effect.forEach(names, checkVolumeName, { discard: true })
        if (new Set(names).size !== names.length) {
          return yield* new Failure({ message: `the volume list names a volume twice: ${names.join(", ")}` })
        }
        const targets = yield* Effect.forEach(volumes, target)
        return { appDir, names, targets }
      })

    const exists = (path: string) => fs.exists(path).pipe(io(`look for ${path}`))

    /**
     * The last snapshot's tree and manifest file of a volume, when the last snapshot is a tree one.
     * The manifest is only an optimisation (hashes kept): read as a stream, a bad one means every
     * file is hashed again.
     */
    const previousOf = (appDir: string, meta: Option.Option<SnapshotMeta>, volume: string) => {
      const dir = NodePath.join(appDir, SNAPSHOT)
      return Option.isNone(meta) || meta.value.format !== "tree" || !meta.value.volumes.includes(volume)
        ? { tree: Option.none<string>(), manifest: undefined }
        : { tree: Option.some(treeOf(dir, volume)), manifest: manifestOf(dir, volume) }
    }

    /** Free bytes on the filesystem of `dir` (for an unprivileged process: what it may use). */
    const freeBytes = (dir: string) =>
      Effect.tryPromise({
        try: () => NodeFs.statfs(dir).then((s) => s.bavail * s.bsize),
        catch: (e) => new Failure({ message: `statfs ${dir}: ${describe(e)}` })
      })

    const space = Effect.fn("Snapshots.space")(
      function*(app: AppSpec, volumes: ReadonlyArray<StackVolume>) {
        yield* settled
        const { appDir, targets } = yield* prepare(app, volumes)
        yield* fs.makeDirectory(appDir, { recursive: true, mode: DIR_MODE }).pipe(io(`create ${appDir}`))
        const { current } = yield* locate(appDir)
        const last = Option.map(current, (c) => c.meta)
        let needed = 0
        for (const t of targets) {
          if ((yield* methodFor(t.mountpoint, appDir)) === "reflink") continue
          const previous = previousOf(appDir, last, t.name)
          needed += yield* Manifest.added(t.mountpoint, previous.manifest, excludesOf(app, t.name))
        }
        return { free: yield* freeBytes(appDir), needed }
      },
      (effect, app) => Effect.provide(Effect.mapError(effect, toSnapshotError(app, "space")), context)
    )

    const precopy = Effect.fn("Snapshots.precopy")(
      function*(app: AppSpec, volumes: ReadonlyArray<StackVolume>) {
        yield* settled
        const { appDir, targets } = yield* prepare(app, volumes)
        yield* fs.makeDirectory(appDir, { recursive: true, mode: DIR_MODE }).pipe(io(`create ${appDir}`))
        const { meta } = yield* recover(appDir)
        const pre = NodePath.join(appDir, PRECOPY)
        // Rebuilt, never updated in place: its files may be hard links into the last snapshot.
        yield* removeTree(pre)
        yield* fs.makeDirectory(NodePath.join(pre, "volumes"), { recursive: true, mode: DIR_MODE }).pipe(
          io(`create ${pre}`)
        )
        yield* fs.makeDirectory(NodePath.join(pre, "manifests"), { mode: DIR_MODE }).pipe(io(`create ${pre}`))
        yield* fs.makeDirectory(NodePath.join(pre, "records"), { mode: DIR_MODE }).pipe(io(`create ${pre}`))
        for (const t of targets) {
          const method = yield* methodFor(t.mountpoint, appDir)
          const started = BigInt(yield* Clock.currentTimeNanos)
          const previous = previousOf(appDir, meta, t.name)
          const exclude = excludesOf(app, t.name)
          const dest = treeOf(pre, t.name)
          // The record first: whatever changes after it, the final pass copies again.
          yield* FinalPass.record(t.mountpoint, exclude, method, recordOf(pre, t.name), true)
          if (method === "reflink") {
            yield* fs.makeDirectory(dest, { mode: DIR_MODE }).pipe(io(`create ${dest}`))
            yield* reflinkTree(t.mountpoint, dest, `pre-copy ${t.name}`)
            if (exclude.length > 0) {
              yield* Effect.forEach(yield* Manifest.excluded(dest, exclude), removeTree, { discard: true })
            }
          } else {
            // Exit 24: files vanished while the app ran; the take copies what is there then.
            yield* showing(
              `pre-copy of ${t.name}`,
              (update) =>
                rsyncTree(
                  t.mountpoint,
                  dest,
                  Option.toArray(previous.tree),
                  `pre-copy ${t.name}`,
                  [24],
                  exclude,
                  update
                )
            )
            // Only for a take without the record (which copies those again anyway): see dropRecent.
            yield* dropRecent(dest, started - PRECOPY_MARGIN_NS)
          }
          const { totals } = yield* showing(
            `pre-copy of ${t.name}, hashing`,
            (update) => Manifest.build(dest, previous.manifest, exclude, manifestOf(pre, t.name), true, update)
          )
          yield* Effect.logInfo(
            `pre-copy of ${t.name} (${method}): ${totals.files} files, ${totals.bytes} bytes, ` +
              `${totals.hashed} hashed anew`
          )
        }
      },
      (effect, app) => Effect.provide(Effect.mapError(effect, toSnapshotError(app, "precopy")), context)
    )

    /**
     * The pre-copy of a volume, when one was made whole of this mountpoint with these excludes:
     * its tree, manifest and record (the record's first line read).
     */
    const precopied = (appDir: string, t: Target, exclude: ReadonlyArray<string>) =>
      Effect.gen(function*() {
        const pre = NodePath.join(appDir, PRECOPY)
        const [tree, manifest, record] = [treeOf(pre, t.name), manifestOf(pre, t.name), recordOf(pre, t.name)]
        if (!(yield* exists(record)) || !(yield* exists(manifest)) || !(yield* exists(tree))) return Option.none()
        const header = FinalPass.recordHeader(record, t.mountpoint, exclude)
        return header === undefined ? Option.none() : Option.some({ tree, manifest, record, header })
      })

    /** Remove the regular files of `tree` modified at or after `since` (ns since the epoch). */
    const dropRecent = (tree: string, since: bigint) =>
      Effect.gen(function*() {
        const recent = yield* Manifest.newerThan(tree, since)
        yield* Effect.forEach(recent, (file) => fs.remove(file).pipe(io(`remove ${file}`)), { discard: true })
      })

    const take = Effect.fn("Snapshots.take")(
      function*(app: AppSpec, version: string, volumes: ReadonlyArray<StackVolume>) {
        yield* settled
        yield* appDirOf(app)
        yield* requireUndeployed(app, "take the snapshot")
        // Check every data dir before touching the state dir, so a bad list changes nothing.
        const { appDir, names, targets } = yield* prepare(app, volumes)
        yield* fs.makeDirectory(appDir, { recursive: true, mode: DIR_MODE }).pipe(io(`create ${appDir}`))
        const { broken, meta: last } = yield* recover(appDir)
        if (Option.isSome(broken)) {
          yield* Effect.logWarning(`replacing an unreadable snapshot: ${broken.value.message}`)
        }
        const fresh = NodePath.join(appDir, `${NEW_PREFIX}${suffix()}`)
        const build = Effect.gen(function*() {
          yield* Effect.forEach(
            ["volumes", "manifests", "records"],
            (d) =>
              fs.makeDirectory(NodePath.join(fresh, d), { recursive: true, mode: DIR_MODE }).pipe(io(`create ${d}`)),
            { discard: true }
          )
          const sha256: Record<string, string> = {}
          const excludes: Record<string, ReadonlyArray<string>> = {}
          const methods: Array<SnapshotMethod> = []
          for (const t of targets) {
            const exclude = excludesOf(app, t.name)
            if (exclude.length > 0) excludes[t.name] = exclude
            const dest = treeOf(fresh, t.name)
            const pre = yield* precopied(appDir, t, exclude)
            const method = Option.isSome(pre) ? pre.value.header.method : yield* methodFor(t.mountpoint, appDir)
            methods.push(method)
            if (Option.isSome(pre)) {
              // Two-phase: the pre-copy's tree becomes the snapshot's, and only what changed since is copied.
              yield* fs.rename(pre.value.tree, dest).pipe(io(`rename ${pre.value.tree} to ${dest}`))
              const final = yield* showing(`final pass of ${t.name}`, (update) =>
                // The manifest and record it writes are made durable by the syncFs below, as the
                // tree is (meta.json, written last, is fsynced).
                FinalPass.finalPass(
                  t.mountpoint,
                  dest,
                  pre.value.header,
                  exclude,
                  {
                    record: pre.value.record,
                    manifest: pre.value.manifest,
                    newManifest: manifestOf(fresh, t.name),
                    newRecord: recordOf(fresh, t.name),
                    list: NodePath.join(fresh, "files-from")
                  },
                  `snapshot ${t.name}`,
                  update
                ))
              sha256[t.name] = final.sha256
              yield* Effect.logInfo(
                `snapshot of ${t.name} (${method}, final pass): ${final.totals.files} files, ${final.totals.bytes} ` +
                  `bytes; ${final.copied} entries copied and ${final.removed} removed since the pre-copy, ` +
                  `${final.totals.hashed} hashed anew`
              )
              continue
            }
            const previous = previousOf(appDir, last, t.name)
            if (method === "reflink") {
              yield* fs.makeDirectory(dest, { mode: DIR_MODE }).pipe(io(`create ${dest}`))
              yield* reflinkTree(t.mountpoint, dest, `snapshot ${t.name}`)
              // cp has no excludes: the clone's excluded paths go (a clone costs only metadata).
              if (exclude.length > 0) {
                yield* Effect.forEach(yield* Manifest.excluded(dest, exclude), removeTree, { discard: true })
              }
            } else {
              const linkDests = yield* Effect.filter(
                [treeOf(NodePath.join(appDir, PRECOPY), t.name), ...Option.toArray(previous.tree)],
                exists
              )
              yield* showing(
                `snapshot of ${t.name}`,
                (update) => rsyncTree(t.mountpoint, dest, linkDests, `snapshot ${t.name}`, [], exclude, update)
              )
            }
            const { sha256: sum, totals } = yield* showing(
              `snapshot of ${t.name}, hashing`,
              (update) => Manifest.build(dest, previous.manifest, exclude, manifestOf(fresh, t.name), false, update)
            )
            // The volume as the snapshot holds it (the app is down): a restore keeps what still matches it.
            yield* FinalPass.record(t.mountpoint, exclude, method, recordOf(fresh, t.name), false)
            sha256[t.name] = sum
            yield* Effect.logInfo(
              `snapshot of ${t.name} (${method}): ${totals.files} files, ${totals.bytes} bytes, ` +
                `${totals.hashed} hashed anew`
            )
          }
          yield* syncFs(fresh)
          yield* Effect.forEach(["volumes", "manifests", "records"], (d) => syncDir(NodePath.join(fresh, d)), {
            discard: true
          })
          const now = yield* Clock.currentTimeMillis
          const meta = new SnapshotMeta({
            recipe: app.recipe,
            domain: app.domain,
            version,
            ts: new Date(now).toISOString(),
            volumes: names,
            sha256,
            format: "tree",
            method: methods.includes("copy") || methods.length === 0 ? "copy" : "reflink",
            ...(Object.keys(excludes).length > 0 ? { exclude: excludes } : {})
          })
          // meta.json last: its presence marks the snapshot complete.
          yield* writeMeta(fresh, meta)
          return meta
        })
        const meta = yield* build.pipe(Effect.onError(() => removeTree(fresh).pipe(Effect.ignore)))
        const trash = [...yield* swapIn(appDir, fresh, keepOf(app))]
        const pre = NodePath.join(appDir, PRECOPY)
        if (yield* exists(pre)) {
          yield* toTrash(appDir, pre).pipe(
            Effect.tap((t) => Effect.sync(() => trash.push(t))),
            Effect.catchAll((e) => Effect.logWarning(`could not remove the pre-copy: ${e.message}`))
          )
        }
        // The snapshot is complete: what it replaced is removed while the app starts again.
        yield* later(trash)
        return meta
      },
      (effect, app) => Effect.provide(Effect.mapError(effect, toSnapshotError(app, "take")), context)
    )

    /**
     * Check one volume of the snapshot in `dir` before anything is changed; `live` is the volume's
     * data dir, whose unchanged files the restore takes instead of reading the snapshot's.
     */
    const verify = (dir: string, meta: SnapshotMeta, name: string, live: string) =>
      Effect.gen(function*() {
        const expected = meta.sha256[name]
        const file = meta.format === "tree" ? manifestOf(dir, name) : archiveOf(dir, name)
        if (expected === undefined) {
          return yield* new Failure({
            message: `${dir}/meta.json has no sha256 for ${name} (written by an older tool?), so ${file} ` +
              `cannot be verified: nothing was changed; check the archive by hand and add its sum, or restore by hand`
          })
        }
        const actual = yield* Manifest.sha256Of(file)
        if (actual !== expected.toLowerCase()) {
          return yield* new Failure({
            message: `${file} is corrupt (sha256 ${actual}, meta.json says ${expected}): nothing was changed; ` +
              `the snapshot cannot be restored`
          })
        }
        if (meta.format === "tar") {
          return { exclude: [] as ReadonlyArray<string>, linkSafe: false, since: Option.none() } satisfies Checked
        }
        // The manifest's excludes (covered by its sum) decide what the restore leaves alone.
        const exclude = yield* Manifest.excludesIn(file)
        if (JSON.stringify(exclude) !== JSON.stringify(meta.exclude?.[name] ?? [])) {
          return yield* new Failure({
            message: `${file} and meta.json name different excludes for ${name}: nothing was changed; ` +
              `the snapshot cannot be restored`
          })
        }
        // With the snapshot's record of the volume at the take: what is unchanged since stays as is.
        const record = recordOf(dir, name)
        // (No record, one of another data dir or excludes, or one that cannot be read: no header.)
        const since = FinalPass.recordHeader(record, live, exclude) !== undefined
          ? yield* FinalPass.sinceTake(live, record, file, exclude).pipe(
            Effect.map(Option.some),
            // A volume that cannot be walked (missing after a crashed restore) or a record that
            // cannot be read: the volume is rebuilt whole, every file of the snapshot read.
            Effect.orElseSucceed(() => Option.none<FinalPass.SinceTake>())
          )
          : Option.none<FinalPass.SinceTake>()
        const check = yield* Manifest.verify(
          treeOf(dir, name),
          file,
          live,
          Option.getOrUndefined(Option.map(since, (d) => new Set(d.copy)))
        )
        if (check.difference !== undefined) {
          return yield* new Failure({
            message: `the snapshot of ${name} does not match its manifest: ${check.difference}; nothing was ` +
              `changed; the snapshot cannot be restored`
          })
        }
        yield* Effect.logInfo(
          `snapshot of ${name} checked: ${check.hashed} files read and hashed, ${check.fromLive} unchanged in the ` +
            `volume${check.linkSafe ? "" : " (every file comes from the snapshot: the volume has no usable tree)"}`
        )
        return {
          exclude,
          linkSafe: check.linkSafe,
          since: Option.map(since, (d) => {
            // A file the restore copies back goes with all its names (see FinalPass.withLinks).
            const copy = [...d.copy]
            const changed = [...d.changed]
            const dirs = new Set(d.dirs)
            const copied = new Set(copy)
            const groups = [...check.linked.values()].filter((g) => g.length > 1 && g.some((n) => copied.has(n)))
            FinalPass.withLinks(copy, groups, dirs, changed)
            return { ...d, copy, changed, dirs }
          })
        } satisfies Checked
      })

    /**
     * Fill `staging` with the snapshot's data of one volume. What the take excluded is hard-linked
     * from the live volume first: the copy from the snapshot (rsync, whatever the filesystem, as
     * cp has no excludes) leaves it be.
     */
    const populate =
      (dir: string, meta: SnapshotMeta, checks: ReadonlyMap<string, Checked>) => (t: Target, staging: string) =>
        Effect.gen(function*() {
          if (meta.format === "tar") {
            return yield* run(
              "tar",
              [
                "--extract",
                "--force-local",
                `--file=${archiveOf(dir, t.name)}`,
                `--directory=${staging}`,
                ...TAR_EXTRACT
              ],
              `extract the snapshot of ${t.name}`
            )
          }
          const tree = treeOf(dir, t.name)
          const { exclude, linkSafe, since } = checks.get(t.name) ??
            { exclude: [], linkSafe: false, since: Option.none() }
          if (Option.isSome(since)) {
            // The volume as it is, by hard links (excluded paths included: left as the release left
            // them); then what changed since the take is removed and copied back from the snapshot.
            yield* run("cp", ["-al", "--", `${t.mountpoint}/.`, `${staging}/`], `link the data of ${t.name}`)
            const { copied } = yield* showing(`restore of ${t.name}`, (update) =>
              FinalPass.patchTree(
                tree,
                staging,
                since.value.copy,
                since.value.changed,
                since.value.dirs,
                !since.value.rootUnchanged,
                NodePath.join(NodePath.dirname(dir), `${TRASH_PREFIX}list-${suffix()}`),
                `restore the snapshot of ${t.name}`,
                since.value.holding,
                update
              ))
            return yield* Effect.logInfo(
              `restore of ${t.name}: ${copied} entries copied back, ${since.value.changed.length} removed or replaced, ` +
                `${since.value.unchanged} kept as they are`
            )
          }
          if (exclude.length > 0) {
            yield* carryExcluded(t.mountpoint, staging, exclude, `keep what the snapshot of ${t.name} excludes`)
          } else if (!linkSafe && (yield* methodFor(tree, t.parent)) === "reflink") {
            return yield* reflinkTree(tree, staging, `restore the snapshot of ${t.name}`)
          }
          // Unchanged files come from the live volume as hard links (only the files the check found
          // unchanged there, and only when no path of the volume leads out of it); the rest is
          // copied back from the snapshot.
          yield* showing(`restore of ${t.name}`, (update) =>
            rsyncTree(
              tree,
              staging,
              linkSafe ? [t.mountpoint] : [],
              `restore the snapshot of ${t.name}`,
              [],
              exclude,
              update
            ))
        })

    const restore = Effect.fn("Snapshots.restore")(
      function*(app: AppSpec, volumes: ReadonlyArray<StackVolume>) {
        yield* settled
        const appDir = yield* appDirOf(app)
        yield* requireUndeployed(app, "restore")
        const { broken, meta: found } = yield* recover(appDir)
        if (Option.isSome(broken)) return yield* Effect.fail(broken.value)
        if (Option.isNone(found)) {
          return yield* new Failure({ message: `there is no snapshot in ${NodePath.join(appDir, SNAPSHOT)}` })
        }
        const meta = found.value
        const dir = NodePath.join(appDir, SNAPSHOT)
        // Both lists come from the same moment (before the upgrade): any difference means the
        // volumes changed since, and a partial restore would mix versions. Refuse both ways.
        if (new Set(meta.volumes).size !== meta.volumes.length) {
          return yield* new Failure({ message: `${dir}/meta.json lists a volume twice; restore by hand` })
        }
        const current = new Map(volumes.map((v) => [v.name, v]))
        const missing = meta.volumes.filter((n) => !current.has(n))
        if (missing.length > 0) {
          return yield* new Failure({
            message: `the snapshot holds volume(s) ${missing.join(", ")} that Docker does not list now: ` +
              `create them (docker volume create) and retry, or restore by hand from ${dir}`
          })
        }
        // A volume the config leaves out of snapshots is left out of the restore too.
        const extra = volumes.filter((v) => !meta.volumes.includes(v.name) && selects(app, v.name)).map((v) => v.name)
        if (extra.length > 0) {
          return yield* new Failure({
            message: `volume(s) ${extra.join(", ")} are not in the snapshot (of ${meta.version}, ${meta.ts}): ` +
              `refusing a partial restore; restore by hand from ${dir}`
          })
        }
        // What root restores must be root's: a snapshot another account could write could plant a
        // setuid file or a device node together with a manifest that lists it.
        const records = yield* Effect.filter(meta.volumes.map((name) => recordOf(dir, name)), exists)
        for (const path of [dir, ...meta.volumes.map((name) => manifestOf(dir, name)), ...records]) {
          const loose = yield* writableByOthers(path).pipe(io(`check the owner of ${path}`))
          if (Option.isSome(loose)) {
            return yield* new Failure({
              message: `${path}: ${loose.value}, and a restore runs as root on what it holds: refused, nothing ` +
                `was changed; check the snapshot, then make it root's alone (chown -R root:root ${dir}; chmod -R go-w ${dir})`
            })
          }
        }
        // Verify every volume before anything is changed.
        const checks = new Map(
          yield* Effect.forEach(meta.volumes, (name) =>
            Effect.map(
              verify(dir, meta, name, NodePath.resolve(current.get(name)!.mountpoint)),
              (c) => [name, c] as const
            ))
        )

        // Settle a crashed restore first: it may have left a mountpoint renamed away.
        yield* Effect.forEach(meta.volumes, (name) => settleSiblings(NodePath.resolve(current.get(name)!.mountpoint)), {
          discard: true
        })
        const targets = yield* Effect.forEach(meta.volumes, (name) => target(current.get(name)!))
        const elsewhere = targets.filter((t) => !t.sameFs).map((t) => t.mountpoint)
        if (elsewhere.length > 0) {
          return yield* new Failure({
            message: `${elsewhere.join(", ")} is a mount point of its own, so it cannot be swapped by a rename: ` +
              `nothing was changed; restore by hand from ${dir}`
          })
        }
        yield* later(yield* buildAndSwap(targets, populate(dir, meta, checks)))
        return meta
      },
      (effect, app) => Effect.provide(Effect.mapError(effect, toSnapshotError(app, "restore")), context)
    )

    const show = Effect.fn("Snapshots.show")(
      function*(app: AppSpec) {
        yield* settled
        const appDir = yield* appDirOf(app)
        const { broken, current } = yield* locate(appDir)
        if (Option.isSome(broken)) return yield* Effect.fail(broken.value)
        return Option.map(current, (c) => c.meta)
      },
      (effect, app) => Effect.provide(Effect.mapError(effect, toSnapshotError(app, "show")), context)
    )

    const list = Effect.fn("Snapshots.list")(
      function*(app: AppSpec) {
        yield* settled
        return yield* listSnapshots(yield* appDirOf(app))
      },
      (effect, app) => Effect.provide(Effect.mapError(effect, toSnapshotError(app, "show")), context)
    )

    return Snapshots.of({ space, precopy, take, restore, show, list })
  })

const toSnapshotError = (app: AppSpec, operation: Operation) => (e: Failure) =>
  new SnapshotError({ app: app.name, operation, message: `snapshot ${operation} for ${app.name}: ${e.message}` })

/** Snapshots as trees under the state directory; Docker tells whether the stack runs. */
export const layer = (
  options: Options
): Layer.Layer<Snapshots, never, Docker | FileSystem.FileSystem | CommandExecutor.CommandExecutor> =>
  Layer.scoped(Snapshots, make(options))
