import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Option } from "effect"
import { createHash } from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import type { AppName } from "../../src/domain/Config.js"
import { SnapshotConfig } from "../../src/domain/SnapshotConfig.js"
import type { StackVolume } from "../../src/services/Docker.js"
import type { SnapshotError } from "../../src/services/Snapshots.js"
import { loopXfs } from "../support/loopXfs.js"
import {
  app,
  DB,
  failure,
  faultyDisk,
  FILES,
  fingerprint,
  populate,
  python,
  scribble,
  setXattr,
  sh,
  type World,
  world
} from "../support/snapshotWorld.js"

const sha256File = (path: string) => createHash("sha256").update(Fs.readFileSync(path)).digest("hex")

/**
 * A snapshot in the tar format that earlier versions of this tool wrote (one archive per volume,
 * its sha256 in meta.json, no `format`): still shown and restored.
 */
const takeAsTar = (w: World, version: string, volumes: ReadonlyArray<StackVolume>) => {
  const dir = Path.join(w.appDir, "snapshot")
  Fs.mkdirSync(Path.join(dir, "volumes"), { recursive: true, mode: 0o700 })
  const sha256: Record<string, string> = {}
  for (const v of volumes) {
    const archive = Path.join(dir, "volumes", `${v.name}.tar`)
    sh("tar", [
      "--create",
      `--file=${archive}`,
      `--directory=${v.mountpoint}`,
      "--numeric-owner",
      "--xattrs",
      "--xattrs-include=*",
      "--acls",
      "--sparse",
      "."
    ])
    sha256[v.name] = sha256File(archive)
  }
  const meta = {
    recipe: app.recipe,
    domain: app.domain,
    version,
    ts: new Date().toISOString(),
    volumes: volumes.map((v) => v.name),
    sha256
  }
  Fs.writeFileSync(Path.join(dir, "meta.json"), JSON.stringify(meta, null, 2))
}

/**
 * The app's state dir once the removals a take leaves running are done (`list` waits for them):
 * a take returns as soon as the new snapshot is complete, and removes what it replaced after.
 */
const settledEntries = (w: World) => Effect.map(w.snapshots.list(app), () => Fs.readdirSync(w.appDir))

/** Leftovers of a swap beside a volume's data dir. */
const siblings = (volume: StackVolume) => Fs.readdirSync(Path.dirname(volume.mountpoint)).filter((e) => e !== "_data")

/** The same, once the removal of the replaced data that a restore leaves running is done. */
const settledSiblings = (w: World) => Effect.map(w.snapshots.list(app), () => w.volumes.flatMap(siblings))

const modeOf = (path: string) => Fs.statSync(path).mode & 0o7777

/** Scribble over every volume; a restore must then fail, saying each of `says`, and leave them all as they were. */
const restoreFailsUnchanged = (w: World, says: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    w.volumes.forEach((v) => scribble(v.mountpoint))
    const before = w.volumes.map((v) => fingerprint(v.mountpoint))
    const error = failure(yield* Effect.exit(w.snapshots.restore(app, w.volumes)))
    for (const text of says) expect(error.message).toContain(text)
    expect(w.volumes.map((v) => fingerprint(v.mountpoint))).toEqual(before)
    expect(yield* settledSiblings(w)).toEqual([])
  })

/** "restores every kind of entry: content, modes, owners, links, xattrs, odd names", on the temp dir's filesystem or under `under`. */
const everyKind = (under?: string) =>
  Effect.gen(function*() {
    const w = yield* world(under === undefined ? undefined : { under })
    w.volumes.forEach((v, i) => populate(v.mountpoint, `v${i}`))
    const before = w.volumes.map((v) => fingerprint(v.mountpoint))
    // The oracle sees what the test set up, so an equal fingerprint after means it came back.
    expect(before[0]!["shared"]).toMatchObject({ uid: 1234, gid: 2345, mode: "0o42770" })
    expect(before[0]!["secret.txt"]).toMatchObject({ xattrs: { "user.warm": "xattr v0" } })
    expect(before[0]!["hard-link"]!["hardlinks"]).toEqual(["hard-link", "secret.txt"])

    const meta = yield* w.snapshots.take(app, "1.0.0+26.0.0", w.volumes)
    expect(meta.version).toBe("1.0.0+26.0.0")
    expect(meta.volumes).toEqual([DB, FILES])
    expect(meta.format).toBe("tree")
    for (const v of w.volumes) {
      const manifest = Path.join(w.appDir, "snapshot", "manifests", `${v.name}.jsonl`)
      expect(meta.sha256[v.name]).toBe(sha256File(manifest))
    }

    w.volumes.forEach((v) => scribble(v.mountpoint))
    expect(fingerprint(w.volumes[0]!.mountpoint)).not.toEqual(before[0])

    const restored = yield* w.snapshots.restore(app, w.volumes)
    expect(restored.version).toBe("1.0.0+26.0.0")
    expect(w.volumes.map((v) => fingerprint(v.mountpoint))).toEqual(before)
    expect(yield* settledSiblings(w)).toEqual([])
    // The snapshot stays: a second rollback could need it.
    expect(Option.map(yield* w.snapshots.show(app), (m) => m.version)).toEqual(Option.some("1.0.0+26.0.0"))
  })

/** "sparse files, device nodes, fifos and ACLs come back", on the temp dir's filesystem or under `under`. */
const sparseDevicesAcls = (under?: string) =>
  Effect.gen(function*() {
    const w = yield* world(under === undefined ? undefined : { under })
    const db = w.volumes[0]!.mountpoint
    populate(db, "special")
    const at = (p: string) => Path.join(db, p)
    const fd = Fs.openSync(at("sparse.db"), "w")
    Fs.writeSync(fd, "header")
    Fs.writeSync(fd, "trailer", 32 * 1024 * 1024)
    Fs.closeSync(fd)
    sh("mknod", [at("null-device"), "c", "1", "3"])
    sh(python, ["-c", "import os, sys; os.mkfifo(sys.argv[1])", at("pipe")])
    setAcl(at("secret.txt"))
    const before = fingerprint(db)
    yield* w.snapshots.take(app, "1.0.0", [w.volumes[0]!])
    expect(Fs.statSync(Path.join(treeOf(w, DB), "sparse.db")).blocks * 512).toBeLessThan(1024 * 1024)
    for (const p of ["sparse.db", "null-device", "pipe", "secret.txt"]) Fs.rmSync(at(p))
    scribble(db)
    yield* w.snapshots.restore(app, [w.volumes[0]!])
    expect(fingerprint(db)).toEqual(before)
    const sparse = Fs.statSync(at("sparse.db"))
    expect([sparse.size, sparse.blocks * 512 < 1024 * 1024]).toEqual([32 * 1024 * 1024 + 7, true])
    expect(Fs.lstatSync(at("null-device")).isCharacterDevice()).toBe(true)
    expect(Fs.lstatSync(at("null-device")).rdev).toBe(Fs.statSync("/dev/null").rdev)
    expect(Fs.lstatSync(at("pipe")).isFIFO()).toBe(true)
    expect(aclOf(at("secret.txt"))).toBe(ACL_HEX)
  })

/** "refuses a tampered, incomplete or torn snapshot before touching any volume", on the temp dir's filesystem or under `under`. */
const tampered = (under?: string) =>
  Effect.gen(function*() {
    const w = yield* world(under === undefined ? undefined : { under })
    w.volumes.forEach((v, i) => populate(v.mountpoint, `t${i}`))
    const files = treeOf(w, FILES)
    const tampers: ReadonlyArray<readonly [string, () => void, string]> = [
      [
        "content",
        () => {
          // Same size and mtime: only the hash can tell. The release rewrote secret.txt in the
          // volume (restoreFailsUnchanged scribbles), so the restore would copy this one back.
          const secret = Path.join(files, "secret.txt")
          overwriteKeepingTimes(secret, Fs.readFileSync(secret).map((b) => b ^ 0x01))
        },
        // Its hard link hard-link sorts first: the same inode, read once.
        "hard-link differs from its manifest in sha256"
      ],
      [
        "missing file",
        () => keepingTimes(files, () => Fs.rmSync(Path.join(files, "run.sh"))),
        "run.sh is in the manifest but missing"
      ],
      [
        "extra file",
        () => keepingTimes(files, () => Fs.writeFileSync(Path.join(files, "planted"), "x")),
        "planted is in the snapshot but not"
      ],
      ["mode", () => Fs.chmodSync(Path.join(files, "run.sh"), 0o777), "run.sh differs from its manifest in mode"],
      [
        "manifest",
        () => Fs.appendFileSync(Path.join(w.appDir, "snapshot", "manifests", `${FILES}.jsonl`), "\n"),
        `${FILES}.jsonl is corrupt`
      ]
    ]
    for (const [, tamper, message] of tampers) {
      yield* w.snapshots.take(app, "1.0.0", w.volumes)
      tamper()
      yield* restoreFailsUnchanged(w, [message, "nothing was changed"])
      w.volumes.forEach((v, i) => {
        Fs.rmSync(v.mountpoint, { recursive: true })
        Fs.mkdirSync(v.mountpoint)
        populate(v.mountpoint, `t${i}`)
      })
    }
  })

/** "the final pass copies every change since the pre-copy, and never writes a file an older snapshot shares", on the temp dir's filesystem or under `under`. */
const finalPassChanges = (under?: string) =>
  Effect.gen(function*() {
    const w = yield* world(under === undefined ? undefined : { under })
    const [db] = w.volumes
    const keeping = { ...app, snapshot: SnapshotConfig.make({ keep: 1 }) }
    const at = (...p: Array<string>) => Path.join(db!.mountpoint, ...p)
    populate(db!.mountpoint, "final")
    Fs.mkdirSync(at("gone", "deep"), { recursive: true })
    Fs.writeFileSync(at("gone", "deep", "file"), "to be removed")
    Fs.mkdirSync(at("becomes-file"))
    Fs.writeFileSync(at("becomes-dir"), "a file first")
    Fs.writeFileSync(at("mode-only"), "same bytes")
    age(db!.mountpoint)
    const { method } = yield* w.snapshots.take(keeping, "1.0.0", [db!])
    // Shared as hard links where the copies are rsync's; a reflink clone shares extents instead.
    const linked = method === "copy"
    const first = fingerprint(treeOf(w, DB))
    w.deployed.value = true
    yield* w.snapshots.precopy(keeping, [db!])
    // Shared with the first snapshot: the pre-copy hard-links what it did not copy.
    if (linked) {
      expect(inode(Path.join(treeOf(w, DB, "snapshot.pre"), "mode-only"))).toBe(
        inode(Path.join(treeOf(w, DB), "mode-only"))
      )
    }
    // After the pre-copy, while the app still runs: every kind of change.
    Fs.chmodSync(at("mode-only"), 0o640)
    overwriteKeepingTimes(at("blob.bin"), Buffer.from("rewritten, its mtime put back"))
    setXattr(at("run.sh"), "user.warm", "set after the pre-copy")
    Fs.rmSync(at("gone"), { recursive: true })
    Fs.rmdirSync(at("becomes-file"))
    Fs.writeFileSync(at("becomes-file"), "a file now")
    Fs.rmSync(at("becomes-dir"))
    Fs.mkdirSync(at("becomes-dir"))
    Fs.writeFileSync(at("becomes-dir", "inside"), "new")
    Fs.linkSync(at("run.sh"), at("new-hard-link"))
    Fs.symlinkSync("run.sh", at("new-symlink"))
    w.deployed.value = false
    const before = fingerprint(db!.mountpoint)
    yield* w.snapshots.take(keeping, "2.0.0", [db!])
    expect(fingerprint(treeOf(w, DB))).toEqual(before)
    // The first snapshot, kept, is as it was: nothing was changed in place.
    const [kept] = Fs.readdirSync(w.appDir).filter((e) => e.startsWith("snapshot.kept-"))
    expect(fingerprint(treeOf(w, DB, kept!))).toEqual(first)
    // What did not change is still shared; and the new snapshot restores (its manifest holds).
    if (linked) {
      expect(inode(Path.join(treeOf(w, DB), "secret.txt"))).toBe(inode(Path.join(treeOf(w, DB, kept!), "secret.txt")))
    }
    scribble(db!.mountpoint)
    yield* w.snapshots.restore(keeping, [db!])
    expect(fingerprint(db!.mountpoint)).toEqual(before)
    expect(yield* settledSiblings(w)).toEqual([])
  })

/** "a restore undoes what a quick check would miss: a chmod, an xattr, content rewritten with its mtime put back", on the temp dir's filesystem or under `under`. */
const quickCheckMisses = (under?: string) =>
  Effect.gen(function*() {
    const w = yield* world(under === undefined ? undefined : { under })
    w.volumes.forEach((v, i) => populate(v.mountpoint, `q${i}`))
    const before = w.volumes.map((v) => fingerprint(v.mountpoint))
    yield* w.snapshots.take(app, "1.0.0", w.volumes)
    const files = w.volumes[1]!.mountpoint
    const kept = inode(Path.join(files, "run.sh"))
    Fs.chmodSync(Path.join(files, "secret.txt"), 0o644)
    setXattr(Path.join(files, "hard-link"), "user.release", "added")
    overwriteKeepingTimes(Path.join(files, "blob.bin"), Buffer.from("the release's bytes, same size and mtime"))
    yield* w.snapshots.restore(app, w.volumes)
    expect(w.volumes.map((v) => fingerprint(v.mountpoint))).toEqual(before)
    // What the release did not touch is the volume's own file still.
    expect(inode(Path.join(files, "run.sh"))).toBe(kept)
  })

describe("live Snapshots", () => {
  it.scopedLive("restores every kind of entry: content, modes, owners, links, xattrs, odd names", () => everyKind())

  it.scopedLive("writes dirs 0700 and files 0600, whatever the umask", () =>
    Effect.gen(function*() {
      const w = yield* world()
      populate(w.volumes[0]!.mountpoint, "modes")
      const umask = process.umask(0o000)
      yield* Effect.addFinalizer(() => Effect.sync(() => process.umask(umask)))
      yield* w.snapshots.take(app, "1.0.0", w.volumes)
      const snapshot = Path.join(w.appDir, "snapshot")
      expect([w.appDir, snapshot, Path.join(snapshot, "volumes")].map(modeOf)).toEqual([0o700, 0o700, 0o700])
      expect(modeOf(Path.join(snapshot, "meta.json"))).toBe(0o600)
      expect(modeOf(Path.join(snapshot, "manifests"))).toBe(0o700)
      expect(w.volumes.map((v) => modeOf(Path.join(snapshot, "manifests", `${v.name}.jsonl`)))).toEqual([0o600, 0o600])
    }))

  it.scopedLive("refuses to take or restore while the app is deployed", () =>
    Effect.gen(function*() {
      const w = yield* world()
      populate(w.volumes[0]!.mountpoint, "deployed")
      w.deployed.value = true
      const take = failure(yield* Effect.exit(w.snapshots.take(app, "1.0.0", w.volumes)))
      expect(take.operation).toBe("take")
      expect(take.message).toContain("undeploy first")
      expect(Fs.existsSync(w.appDir)).toBe(false)

      w.deployed.value = false
      yield* w.snapshots.take(app, "1.0.0", w.volumes)
      scribble(w.volumes[0]!.mountpoint)
      const scribbled = fingerprint(w.volumes[0]!.mountpoint)
      w.deployed.value = true
      const restore = failure(yield* Effect.exit(w.snapshots.restore(app, w.volumes)))
      expect(restore.operation).toBe("restore")
      expect(restore.message).toContain("undeploy first")
      expect(fingerprint(w.volumes[0]!.mountpoint)).toEqual(scribbled)
    }))

  it.scopedLive("refuses a corrupt archive (tar format) before touching any volume", () =>
    Effect.gen(function*() {
      const w = yield* world()
      w.volumes.forEach((v, i) => populate(v.mountpoint, `c${i}`))
      takeAsTar(w, "1.0.0", w.volumes)
      // Flip one byte of the second archive: the first alone would restore fine.
      const archive = Path.join(w.appDir, "snapshot", "volumes", `${FILES}.tar`)
      const bytes = Fs.readFileSync(archive)
      const middle = Math.floor(bytes.length / 2)
      bytes[middle] = bytes[middle]! ^ 0x01
      Fs.writeFileSync(archive, bytes)
      w.volumes.forEach((v) => scribble(v.mountpoint))
      const before = w.volumes.map((v) => fingerprint(v.mountpoint))

      const error = failure(yield* Effect.exit(w.snapshots.restore(app, w.volumes)))
      expect(error.message).toContain(`${FILES}.tar is corrupt`)
      expect(error.message).toContain("nothing was changed")
      expect(w.volumes.map((v) => fingerprint(v.mountpoint))).toEqual(before)
      expect(yield* settledSiblings(w)).toEqual([])
    }))

  it.scopedLive("a restore that fails while extracting (tar format) leaves every volume as it was and no staging dir", () =>
    Effect.gen(function*() {
      const w = yield* world()
      w.volumes.forEach((v, i) => populate(v.mountpoint, `h${i}`))
      takeAsTar(w, "1.0.0", w.volumes)
      // Truncate the second archive mid-member and record its new sum: it passes the
      // checksum, and tar fails on it after the first volume was extracted.
      const snapshot = Path.join(w.appDir, "snapshot")
      const archive = Path.join(snapshot, "volumes", `${FILES}.tar`)
      Fs.truncateSync(archive, Math.floor(Fs.statSync(archive).size / 2) + 100)
      const meta = JSON.parse(Fs.readFileSync(Path.join(snapshot, "meta.json"), "utf8"))
      meta.sha256[FILES] = sha256File(archive)
      Fs.writeFileSync(Path.join(snapshot, "meta.json"), JSON.stringify(meta))
      w.volumes.forEach((v) => scribble(v.mountpoint))
      const before = w.volumes.map((v) => fingerprint(v.mountpoint))

      const error = failure(yield* Effect.exit(w.snapshots.restore(app, w.volumes)))
      expect(error.message).toContain(`extract the snapshot of ${FILES}`)
      expect(error.message).toMatch(/Unexpected EOF/i)
      expect(error.message).toContain("not changed")
      expect(w.volumes.map((v) => fingerprint(v.mountpoint))).toEqual(before)
      expect(yield* settledSiblings(w)).toEqual([])
    }))

  it.scopedLive("a swap that fails on the second volume puts the first one back", () =>
    Effect.gen(function*() {
      const w = yield* world({
        fileSystem: faultyDisk({ renameFails: (from) => from.includes(`${FILES}${Path.sep}_data.warm-restore-`) })
      })
      w.volumes.forEach((v, i) => populate(v.mountpoint, `w${i}`))
      yield* w.snapshots.take(app, "1.0.0", w.volumes)
      w.volumes.forEach((v) => scribble(v.mountpoint))
      const before = w.volumes.map((v) => fingerprint(v.mountpoint))

      const error = failure(yield* Effect.exit(w.snapshots.restore(app, w.volumes)))
      expect(error.message).toContain("cross-device")
      expect(error.message).toContain("put back")
      expect(w.volumes.map((v) => fingerprint(v.mountpoint))).toEqual(before)
      expect(yield* settledSiblings(w)).toEqual([])
    }))

  it.scopedLive("an interrupted restore removes its staging dirs and changes nothing", () =>
    Effect.gen(function*() {
      const w = yield* world({
        fileSystem: faultyDisk({ chmodHangs: (path) => path.includes(`${FILES}${Path.sep}_data.warm-restore-`) })
      })
      w.volumes.forEach((v, i) => populate(v.mountpoint, `i${i}`))
      yield* w.snapshots.take(app, "1.0.0", w.volumes)
      w.volumes.forEach((v) => scribble(v.mountpoint))
      const before = w.volumes.map((v) => fingerprint(v.mountpoint))

      // The first volume is extracted, the second one's staging dir exists, then a timeout hits.
      const fiber = yield* Effect.fork(w.snapshots.restore(app, w.volumes))
      while (siblings(w.volumes[1]!).length === 0) yield* Effect.sleep("5 millis")
      expect(siblings(w.volumes[0]!)).toHaveLength(1)
      yield* Fiber.interrupt(fiber)
      expect(w.volumes.map((v) => fingerprint(v.mountpoint))).toEqual(before)
      expect(yield* settledSiblings(w)).toEqual([])
    }))

  it.scopedLive("a new snapshot replaces the old one; a failed take leaves the old one whole", () =>
    Effect.gen(function*() {
      // A disk that fails as the third take finishes: the fsync of its meta.json.
      let failing = false
      const w = yield* world({ fileSystem: faultyDisk({ syncFails: (path) => failing && path.endsWith("meta.json") }) })
      const [db, files] = w.volumes
      populate(db!.mountpoint, "first")
      yield* w.snapshots.take(app, "1.0.0", [db!])
      Fs.rmSync(db!.mountpoint, { recursive: true })
      Fs.mkdirSync(db!.mountpoint)
      populate(db!.mountpoint, "second")
      const second = fingerprint(db!.mountpoint)
      yield* w.snapshots.take(app, "2.0.0", [db!])
      expect(yield* settledEntries(w)).toEqual(["snapshot"])
      expect(Option.map(yield* w.snapshots.show(app), (m) => m.version)).toEqual(Option.some("2.0.0"))

      populate(files!.mountpoint, "files")
      failing = true
      const failed = failure(yield* Effect.exit(w.snapshots.take(app, "3.0.0", w.volumes)))
      failing = false
      expect(failed.message).toContain("i/o error")
      // A volume whose data dir is gone.
      const gone = { name: `${app.stack}_gone`, mountpoint: Path.join(w.root, "volumes", "gone", "_data") }
      const missing = failure(yield* Effect.exit(w.snapshots.take(app, "4.0.0", [db!, gone])))
      expect(missing.message).toContain(gone.mountpoint)

      expect(yield* settledEntries(w)).toEqual(["snapshot"])
      expect(Option.map(yield* w.snapshots.show(app), (m) => m.volumes)).toEqual(Option.some([DB]))
      scribble(db!.mountpoint)
      const restored = yield* w.snapshots.restore(app, [db!])
      expect(restored.version).toBe("2.0.0")
      expect(fingerprint(db!.mountpoint)).toEqual(second)
    }))

  it.scopedLive("after a crash between the two renames of a take, the finished old snapshot is kept", () =>
    Effect.gen(function*() {
      const w = yield* world()
      populate(w.volumes[0]!.mountpoint, "kept")
      const kept = fingerprint(w.volumes[0]!.mountpoint)
      yield* w.snapshots.take(app, "1.0.0", w.volumes)
      // The state a crash after `snapshot` -> `snapshot.old-*` leaves: a complete unacknowledged new one beside it.
      const snapshot = Path.join(w.appDir, "snapshot")
      Fs.cpSync(snapshot, Path.join(w.appDir, "snapshot.new-abc"), { recursive: true })
      const newMeta = Path.join(w.appDir, "snapshot.new-abc", "meta.json")
      Fs.writeFileSync(newMeta, Fs.readFileSync(newMeta, "utf8").replace("1.0.0", "2.0.0"))
      Fs.renameSync(snapshot, Path.join(w.appDir, "snapshot.old-def"))

      expect(Option.map(yield* w.snapshots.show(app), (m) => m.version)).toEqual(Option.some("1.0.0"))
      // show only reads
      expect(Fs.readdirSync(w.appDir).sort()).toEqual(["snapshot.new-abc", "snapshot.old-def"])

      scribble(w.volumes[0]!.mountpoint)
      const restored = yield* w.snapshots.restore(app, w.volumes)
      expect(restored.version).toBe("1.0.0")
      expect(fingerprint(w.volumes[0]!.mountpoint)).toEqual(kept)
      expect(yield* settledEntries(w)).toEqual(["snapshot"])
    }))

  it.scopedLive("a restore settles what a crashed restore left beside a volume", () =>
    Effect.gen(function*() {
      const w = yield* world()
      const [db, files] = w.volumes
      w.volumes.forEach((v, i) => populate(v.mountpoint, `s${i}`))
      const before = w.volumes.map((v) => fingerprint(v.mountpoint))
      yield* w.snapshots.take(app, "1.0.0", w.volumes)
      // Crash mid-swap: db's data renamed away, staging dirs never renamed in.
      Fs.renameSync(db!.mountpoint, `${db!.mountpoint}.warm-old-123`)
      Fs.mkdirSync(`${db!.mountpoint}.warm-restore-456`)
      Fs.mkdirSync(`${files!.mountpoint}.warm-restore-789`)
      yield* w.snapshots.restore(app, w.volumes)
      expect(w.volumes.map((v) => fingerprint(v.mountpoint))).toEqual(before)
      expect(yield* settledSiblings(w)).toEqual([])
    }))

  it.scopedLive("refuses a restore whose volumes differ from the snapshot's, in either direction", () =>
    Effect.gen(function*() {
      const w = yield* world()
      const [db, files] = w.volumes
      populate(db!.mountpoint, "set")
      yield* w.snapshots.take(app, "1.0.0", [db!])
      scribble(db!.mountpoint)
      const scribbled = fingerprint(db!.mountpoint)
      const extra = failure(yield* Effect.exit(w.snapshots.restore(app, w.volumes)))
      expect(extra.message).toContain(`volume(s) ${FILES} are not in the snapshot`)
      const missing = failure(yield* Effect.exit(w.snapshots.restore(app, [files!])))
      expect(missing.message).toContain(`holds volume(s) ${DB} that Docker does not list`)
      expect(fingerprint(db!.mountpoint)).toEqual(scribbled)
    }))

  it.scopedLive("reads a state dir written by the Python original, and refuses to restore it unverified", () =>
    Effect.gen(function*() {
      const w = yield* world()
      expect(yield* w.snapshots.show(app)).toEqual(Option.none())
      const volumesDir = Path.join(w.appDir, "snapshot", "volumes")
      Fs.mkdirSync(volumesDir, { recursive: true })
      populate(w.volumes[0]!.mountpoint, "python")
      sh("tar", ["-C", w.volumes[0]!.mountpoint, "-cf", Path.join(volumesDir, `${DB}.tar`), "."])
      Fs.writeFileSync(
        Path.join(w.appDir, "snapshot", "meta.json"),
        JSON.stringify({
          recipe: "keycloak",
          domain: "id.example.org",
          commit: "0123abcd",
          version: "10.1.0+24.0.5",
          ts: "2024-06-01T03:00:00Z",
          volumes: [DB]
        })
      )
      const shown = yield* w.snapshots.show(app)
      expect(Option.map(shown, (m) => [m.version, m.ts, m.volumes, m.sha256])).toEqual(
        Option.some(["10.1.0+24.0.5", "2024-06-01T03:00:00Z", [DB], {}])
      )
      scribble(w.volumes[0]!.mountpoint)
      const scribbled = fingerprint(w.volumes[0]!.mountpoint)
      const error = failure(yield* Effect.exit(w.snapshots.restore(app, [w.volumes[0]!])))
      expect(error.message).toContain(`no sha256 for ${DB}`)
      expect(fingerprint(w.volumes[0]!.mountpoint)).toEqual(scribbled)
    }))

  it.scopedLive("an unreadable snapshot blocks show and restore, and a new take replaces it", () =>
    Effect.gen(function*() {
      const w = yield* world()
      populate(w.volumes[0]!.mountpoint, "broken")
      yield* w.snapshots.take(app, "1.0.0", [w.volumes[0]!])
      const metaPath = Path.join(w.appDir, "snapshot", "meta.json")
      Fs.writeFileSync(metaPath, "{\"recipe\": \"keycloak\", \"vers")
      const shown = failure(yield* Effect.exit(w.snapshots.show(app)))
      expect(shown.operation).toBe("show")
      expect(shown.message).toContain("is not a snapshot meta file")
      const restore = failure(yield* Effect.exit(w.snapshots.restore(app, [w.volumes[0]!])))
      expect(restore.message).toContain("is not a snapshot meta file")
      yield* w.snapshots.take(app, "2.0.0", [w.volumes[0]!])
      expect(Option.map(yield* w.snapshots.show(app), (m) => m.version)).toEqual(Option.some("2.0.0"))
      expect(yield* settledEntries(w)).toEqual(["snapshot"])
    }))

  it.scopedLive("refuses an app name that would leave the state directory", () =>
    Effect.gen(function*() {
      const w = yield* world()
      const escaping = { ...app, name: ".." as AppName }
      const error = failure(yield* Effect.exit(w.snapshots.take(escaping, "1.0.0", w.volumes)))
      expect(error.message).toContain("would leave the state directory")
      expect(Fs.readdirSync(w.root)).toEqual(["volumes"])
    }))
})

const treeOf = (w: World, volume: string, snapshot = "snapshot") => Path.join(w.appDir, snapshot, "volumes", volume)
const inode = (path: string) => Fs.lstatSync(path).ino

/**
 * Date every entry under `dir` an hour back: a pre-copy leaves out what was written in the last
 * seconds before it, and the test data was written just now.
 */
const age = (dir: string) =>
  sh(python, [
    "-c",
    `
import os, sys, time
t = int((time.time() - 3600) * 1e9)
for root, dirs, files in os.walk(sys.argv[1]):
    for name in dirs + files:
        os.utime(os.path.join(root, name), ns=(t, t), follow_symlinks=False)
os.utime(sys.argv[1], ns=(t, t))
`,
    dir
  ])

/** Run `change` and put back the times of `path` to the nanosecond, as a careful tamperer would. */
const keepingTimes = (path: string, change: () => void) => {
  const [atime, mtime] = sh(python, [
    "-c",
    "import os, sys; st = os.stat(sys.argv[1]); print(st.st_atime_ns, st.st_mtime_ns)",
    path
  ]).trim().split(" ")
  change()
  sh(python, [
    "-c",
    "import os, sys; os.utime(sys.argv[1], ns=(int(sys.argv[2]), int(sys.argv[3])))",
    path,
    atime!,
    mtime!
  ])
}

/** Write `bytes` over `path` keeping its times to the nanosecond. */
const overwriteKeepingTimes = (path: string, bytes: Uint8Array) =>
  sh(python, [
    "-c",
    `
import os, sys
st = os.stat(sys.argv[1])
with open(sys.argv[1], "r+b") as f:
    f.write(bytes.fromhex(sys.argv[2]))
os.utime(sys.argv[1], ns=(st.st_atime_ns, st.st_mtime_ns))
`,
    path,
    Buffer.from(bytes).toString("hex")
  ])

/** The inodes of every regular file under `dir`. */
const inodes = (dir: string): Set<number> =>
  new Set(
    Fs.readdirSync(dir, { recursive: true, encoding: "utf8" })
      .map((p) => Fs.lstatSync(Path.join(dir, p)))
      .filter((st) => st.isFile())
      .map((st) => st.ino)
  )

/** A POSIX ACL as Linux stores it in `system.posix_acl_access`: user::rw-, user:1234:r--, group::r--, mask::r--, other::---. */
const ACL_HEX = "02000000" + "01000600ffffffff" + "02000400d2040000" + "04000400ffffffff" + "10000400ffffffff" +
  "20000000ffffffff"

const setAcl = (path: string) =>
  sh(python, [
    "-c",
    "import os, sys; os.setxattr(sys.argv[1], 'system.posix_acl_access', bytes.fromhex(sys.argv[2]))",
    path,
    ACL_HEX
  ])
const aclOf = (path: string) =>
  sh(python, ["-c", "import os, sys; print(os.getxattr(sys.argv[1], 'system.posix_acl_access').hex())", path]).trim()

describe("live Snapshots, tree store", () => {
  it.scopedLive("a pre-copy while the app runs, then a take that copies only what changed since", () =>
    Effect.gen(function*() {
      const w = yield* world()
      const [db] = w.volumes
      populate(db!.mountpoint, "pre")
      age(db!.mountpoint)
      w.deployed.value = true
      yield* w.snapshots.precopy(app, [db!])
      const pre = treeOf(w, DB, "snapshot.pre")
      expect(fingerprint(pre)).toEqual(fingerprint(db!.mountpoint))
      const unchanged = inode(Path.join(pre, "run.sh"))
      // The app writes after the pre-copy; then it is undeployed.
      Fs.writeFileSync(Path.join(db!.mountpoint, "run.sh.new"), "written after the pre-copy")
      Fs.appendFileSync(Path.join(db!.mountpoint, "blob.bin"), "appended")
      w.deployed.value = false
      const before = fingerprint(db!.mountpoint)
      const meta = yield* w.snapshots.take(app, "1.0.0", [db!])
      expect(meta.method).toBe("copy")
      expect(fingerprint(treeOf(w, DB))).toEqual(before)
      // Unchanged: the pre-copy's file itself; changed: a new copy.
      expect(inode(Path.join(treeOf(w, DB), "run.sh"))).toBe(unchanged)
      expect(Fs.readFileSync(Path.join(treeOf(w, DB), "blob.bin"), "utf8")).toMatch(/appended$/)
      expect(yield* settledEntries(w)).toEqual(["snapshot"])
      // Never a link between a snapshot and the live volume: the app could change the snapshot.
      const live = inodes(db!.mountpoint)
      expect([...inodes(treeOf(w, DB))].filter((i) => live.has(i))).toEqual([])
    }))

  it.scopedLive("the final pass copies every change since the pre-copy, and never writes a file an older snapshot shares", () =>
    finalPassChanges())

  it.scopedLive("a pre-copy leaves out the files written while it ran, so the take copies them whole", () =>
    Effect.gen(function*() {
      const w = yield* world()
      const [db] = w.volumes
      populate(db!.mountpoint, "recent")
      age(db!.mountpoint)
      // An mtime in the future stands for a write in the same clock tick as the copy's read.
      const future = new Date(Date.now() + 3_600_000)
      Fs.utimesSync(Path.join(db!.mountpoint, "blob.bin"), future, future)
      w.deployed.value = true
      yield* w.snapshots.precopy(app, [db!])
      const pre = treeOf(w, DB, "snapshot.pre")
      expect(Fs.existsSync(Path.join(pre, "run.sh"))).toBe(true)
      expect(Fs.existsSync(Path.join(pre, "blob.bin"))).toBe(false)
      w.deployed.value = false
      yield* w.snapshots.take(app, "1.0.0", [db!])
      expect(fingerprint(treeOf(w, DB))).toEqual(fingerprint(db!.mountpoint))
    }))

  it.scopedLive("a second take shares the unchanged files of the first and keeps their hashes", () =>
    Effect.gen(function*() {
      const w = yield* world()
      const [db] = w.volumes
      populate(db!.mountpoint, "first")
      yield* w.snapshots.take(app, "1.0.0", [db!])
      const manifestLine = (file: string) =>
        Fs.readFileSync(Path.join(w.appDir, "snapshot", "manifests", `${DB}.jsonl`), "utf8").split("\n")
          .find((l) => l.includes(`"path":"${file}"`))
      const [runSh, runShLine] = [inode(Path.join(treeOf(w, DB), "run.sh")), manifestLine("run.sh")]
      expect(runShLine).toContain(`"sha256":"${sha256File(Path.join(db!.mountpoint, "run.sh"))}"`)
      Fs.writeFileSync(Path.join(db!.mountpoint, "secret.txt"), "changed")
      yield* w.snapshots.take(app, "2.0.0", [db!])
      expect(inode(Path.join(treeOf(w, DB), "run.sh"))).toBe(runSh)
      expect(manifestLine("run.sh")).toBe(runShLine)
      expect(manifestLine("secret.txt")).toContain(`"sha256":"${sha256File(Path.join(db!.mountpoint, "secret.txt"))}"`)
      expect(fingerprint(treeOf(w, DB))).toEqual(fingerprint(db!.mountpoint))
    }))

  it.scopedLive("a restore keeps the unchanged files of the volume and copies back the rest", () =>
    Effect.gen(function*() {
      const w = yield* world()
      w.volumes.forEach((v, i) => populate(v.mountpoint, `r${i}`))
      const before = w.volumes.map((v) => fingerprint(v.mountpoint))
      yield* w.snapshots.take(app, "1.0.0", w.volumes)
      w.volumes.forEach((v) => scribble(v.mountpoint))
      const db = w.volumes[0]!.mountpoint
      const unchanged = inode(Path.join(db, "run.sh"))
      yield* w.snapshots.restore(app, w.volumes)
      expect(w.volumes.map((v) => fingerprint(v.mountpoint))).toEqual(before)
      expect(inode(Path.join(db, "run.sh"))).toBe(unchanged)
      const snapshot = inodes(treeOf(w, DB))
      expect([...inodes(db)].filter((i) => snapshot.has(i))).toEqual([])
      expect(yield* settledSiblings(w)).toEqual([])
    }))

  it.scopedLive("a restore undoes what a quick check would miss: a chmod, an xattr, content rewritten with its mtime put back", () =>
    quickCheckMisses())

  it.scopedLive("sparse files, device nodes, fifos and ACLs come back", () => sparseDevicesAcls())

  it.scopedLive("refuses a tampered, incomplete or torn snapshot before touching any volume", () => tampered())

  it.scopedLive("a restore reads only the snapshot files it copies back; the rest come from the volume", () =>
    Effect.gen(function*() {
      const w = yield* world()
      w.volumes.forEach((v, i) => populate(v.mountpoint, `u${i}`))
      const before = w.volumes.map((v) => fingerprint(v.mountpoint))
      yield* w.snapshots.take(app, "1.0.0", w.volumes)
      // blob.bin is tampered in the snapshot, and the volume still holds it as the take saw it:
      // rsync's quick check takes the volume's, so the tampered bytes never land and need no read.
      const blob = Path.join(treeOf(w, FILES), "blob.bin")
      overwriteKeepingTimes(blob, Fs.readFileSync(blob).subarray(0, 64).map((b) => b ^ 0x01))
      w.volumes.forEach((v) => scribble(v.mountpoint))
      const kept = inode(Path.join(w.volumes[1]!.mountpoint, "blob.bin"))
      yield* w.snapshots.restore(app, w.volumes)
      expect(w.volumes.map((v) => fingerprint(v.mountpoint))).toEqual(before)
      expect(inode(Path.join(w.volumes[1]!.mountpoint, "blob.bin"))).toBe(kept)
    }))

  it.scopedLive("a directory the release turned into a symbolic link: nothing is linked through it, every file is read", () =>
    Effect.gen(function*() {
      const w = yield* world()
      const files = w.volumes[1]!.mountpoint
      w.volumes.forEach((v, i) => populate(v.mountpoint, `s${i}`))
      const before = fingerprint(files)
      yield* w.snapshots.take(app, "1.0.0", w.volumes)
      // Outside the volume, a file that passes the quick check against the snapshot's shared/owned
      // (same size, same mtime to the nanosecond) with other content; the release points shared at it.
      const outside = Path.join(Path.dirname(Path.dirname(files)), "outside")
      Fs.mkdirSync(outside)
      const owned = Path.join(files, "shared", "owned")
      const planted = Path.join(outside, "owned")
      Fs.writeFileSync(planted, Fs.readFileSync(owned).map((b) => b ^ 0x20))
      const { mtime, atime } = Fs.statSync(owned)
      sh(python, [
        "-c",
        "import os, sys; st = os.stat(sys.argv[1]); os.utime(sys.argv[2], ns=(st.st_atime_ns, st.st_mtime_ns))",
        owned,
        planted
      ])
      expect([Fs.statSync(planted).mtime, Fs.statSync(planted).atime]).toEqual([mtime, atime])
      Fs.rmSync(Path.join(files, "shared"), { recursive: true })
      Fs.symlinkSync(outside, Path.join(files, "shared"))
      const plantedInode = inode(planted)
      yield* w.snapshots.restore(app, w.volumes)
      expect(fingerprint(files)).toEqual(before)
      expect(inode(owned)).not.toBe(plantedInode)
      expect(Fs.readFileSync(planted)).not.toEqual(Fs.readFileSync(owned))

      // Without the snapshot's record of the volume (as an earlier version wrote it), the restore
      // rebuilds with rsync: every file then comes from the snapshot, so every file is read, and a
      // tampered one the volume still holds unchanged is refused too.
      yield* w.snapshots.take(app, "1.0.1", w.volumes)
      Fs.rmSync(Path.join(w.appDir, "snapshot", "records"), { recursive: true })
      const blob = Path.join(treeOf(w, FILES), "blob.bin")
      overwriteKeepingTimes(blob, Fs.readFileSync(blob).subarray(0, 64).map((b) => b ^ 0x01))
      Fs.rmSync(Path.join(files, "shared"), { recursive: true })
      Fs.symlinkSync(outside, Path.join(files, "shared"))
      const error = failure(yield* Effect.exit(w.snapshots.restore(app, w.volumes)))
      expect(error.message).toContain("blob.bin differs from its manifest in sha256")
      expect(error.message).toContain("nothing was changed")
    }))

  it.scopedLive("a copy (cp, or rsync without the record) that fails halfway through a restore leaves every volume as it was", () =>
    Effect.gen(function*() {
      const w = yield* world({
        fileSystem: faultyDisk({
          // The second volume's staging dir turns into a file under the copy: it fails on it.
          afterChmod: (path) => {
            if (!path.includes(`${FILES}${Path.sep}_data.warm-restore-`)) return
            Fs.rmSync(path, { recursive: true })
            Fs.writeFileSync(path, "")
          }
        })
      })
      w.volumes.forEach((v, i) => populate(v.mountpoint, `f${i}`))
      yield* w.snapshots.take(app, "1.0.0", w.volumes)
      yield* restoreFailsUnchanged(w, [`link the data of ${FILES}: cp exited with`, "not changed"])
      // A snapshot without the record of the volume (as an earlier version wrote) is rebuilt by rsync.
      w.volumes.forEach((v, i) => {
        Fs.rmSync(v.mountpoint, { recursive: true })
        Fs.mkdirSync(v.mountpoint)
        populate(v.mountpoint, `f${i}`)
      })
      yield* w.snapshots.take(app, "1.0.1", w.volumes)
      Fs.rmSync(Path.join(w.appDir, "snapshot", "records"), { recursive: true })
      yield* restoreFailsUnchanged(w, [`restore the snapshot of ${FILES}: rsync exited with`, "not changed"])
    }))

  it.scopedLive("a snapshot in the earlier tar format is still restored, after its checksum", () =>
    Effect.gen(function*() {
      const w = yield* world()
      w.volumes.forEach((v, i) => populate(v.mountpoint, `l${i}`))
      const before = w.volumes.map((v) => fingerprint(v.mountpoint))
      takeAsTar(w, "0.9.0", w.volumes)
      expect(Option.map(yield* w.snapshots.show(app), (m) => [m.version, m.format])).toEqual(
        Option.some(["0.9.0", "tar"])
      )
      w.volumes.forEach((v) => scribble(v.mountpoint))
      const restored = yield* w.snapshots.restore(app, w.volumes)
      expect(restored.format).toBe("tar")
      expect(w.volumes.map((v) => fingerprint(v.mountpoint))).toEqual(before)
      // The next take writes the tree format in its place.
      expect((yield* w.snapshots.take(app, "1.0.0", w.volumes)).format).toBe("tree")
      expect(Fs.readdirSync(Path.join(w.appDir, "snapshot", "volumes")).sort()).toEqual([DB, FILES])
    }))
})

/**
 * On a filesystem with reflinks: a loop-mounted XFS (`reflink=1`) the test makes itself where it
 * can (root, xfsprogs, loop devices), or the dir WARM_TEST_REFLINK_DIR names. The same round trips,
 * with copies that cost only metadata. In the deep run (`npm run test:deep`, in CI), or with
 * WARM_TEST_REFLINK_DIR set: `npm test` keeps to its four minutes.
 */
const xfs = process.env["WARM_DEEP"] === "1" || process.env["WARM_TEST_REFLINK_DIR"] !== undefined
  ? loopXfs()
  : "not the deep run (npm run test:deep)"
if (typeof xfs === "string") console.warn(`live Snapshots on a filesystem with reflinks: skipped: ${xfs}`)
const reflinkDir = typeof xfs === "string" ? undefined : xfs.dir
afterAll(() => {
  if (typeof xfs !== "string") xfs.release()
})

describe.runIf(reflinkDir !== undefined)("live Snapshots on a filesystem with reflinks", () => {
  it.scopedLive("restores every kind of entry: content, modes, owners, links, xattrs, odd names (reflinks)", () =>
    everyKind(reflinkDir))
  it.scopedLive("sparse files, device nodes, fifos and ACLs come back (reflinks)", () => sparseDevicesAcls(reflinkDir))
  it.scopedLive("refuses a tampered, incomplete or torn snapshot before touching any volume (reflinks)", () =>
    tampered(reflinkDir))
  it.scopedLive("the final pass copies every change since the pre-copy, and never writes a file an older snapshot shares (reflinks)", () =>
    finalPassChanges(reflinkDir))
  it.scopedLive("a restore undoes what a quick check would miss: a chmod, an xattr, content rewritten with its mtime put back (reflinks)", () =>
    quickCheckMisses(reflinkDir))
  it.scopedLive("takes by reflink and restores every kind of entry", () =>
    Effect.gen(function*() {
      const w = yield* world({ under: reflinkDir! })
      w.volumes.forEach((v, i) => populate(v.mountpoint, `x${i}`))
      const before = w.volumes.map((v) => fingerprint(v.mountpoint))
      w.deployed.value = true
      yield* w.snapshots.precopy(app, w.volumes)
      w.deployed.value = false
      const meta = yield* w.snapshots.take(app, "1.0.0", w.volumes)
      expect(meta.method).toBe("reflink")
      expect(w.volumes.map((v) => fingerprint(treeOf(w, v.name)))).toEqual(before)
      w.volumes.forEach((v) => scribble(v.mountpoint))
      yield* w.snapshots.restore(app, w.volumes)
      expect(w.volumes.map((v) => fingerprint(v.mountpoint))).toEqual(before)
      expect(yield* settledSiblings(w)).toEqual([])
      expect(yield* settledEntries(w)).toEqual(["snapshot"])
    }))
})

describe("live Snapshots, space", () => {
  it.scopedLive("counts what the next snapshot adds: all of it first, then only what changed", () =>
    Effect.gen(function*() {
      const w = yield* world()
      const [db] = w.volumes
      populate(db!.mountpoint, "space")
      Fs.writeFileSync(Path.join(db!.mountpoint, "big.bin"), Buffer.alloc(1 << 20, 7))
      const first = yield* w.snapshots.space(app, [db!])
      // At least the megabyte file and the 1.3 MB blob; hard links counted once.
      expect(first.needed).toBeGreaterThan(2_000_000)
      expect(first.free).toBeGreaterThan(0)
      yield* w.snapshots.take(app, "1.0.0", [db!])
      expect((yield* w.snapshots.space(app, [db!])).needed).toBe(0)
      Fs.writeFileSync(Path.join(db!.mountpoint, "big.bin"), Buffer.alloc(1 << 20, 8))
      expect((yield* w.snapshots.space(app, [db!])).needed).toBe(1 << 20)
    }))
})

describe("live Snapshots, excludes", () => {
  const excluding = { ...app, snapshot: SnapshotConfig.make({ exclude: { db: ["cache/"] } }) }

  it.scopedLive("the space check leaves out what is excluded", () =>
    Effect.gen(function*() {
      const w = yield* world()
      const [db] = w.volumes
      Fs.mkdirSync(Path.join(db!.mountpoint, "cache"))
      Fs.writeFileSync(Path.join(db!.mountpoint, "cache", "big.bin"), Buffer.alloc(1 << 20, 7))
      Fs.writeFileSync(Path.join(db!.mountpoint, "small.bin"), Buffer.alloc(1 << 12, 7))
      expect((yield* w.snapshots.space(app, [db!])).needed).toBe((1 << 20) + (1 << 12))
      expect((yield* w.snapshots.space(excluding, [db!])).needed).toBe(1 << 12)
    }))

  it.scopedLive("a restore checks the excludes against the manifest, then keeps what the take left out", () =>
    Effect.gen(function*() {
      const w = yield* world()
      const [db] = w.volumes
      const at = (...p: Array<string>) => Path.join(db!.mountpoint, ...p)
      Fs.writeFileSync(at("keep.txt"), "v1")
      Fs.mkdirSync(at("cache"))
      Fs.writeFileSync(at("cache", "c1"), "c")
      yield* w.snapshots.take(excluding, "1.0.0", [db!])
      const snapshot = Path.join(w.appDir, "snapshot")
      expect(Fs.existsSync(Path.join(snapshot, "volumes", DB, "cache"))).toBe(false)
      const manifest = Fs.readFileSync(Path.join(snapshot, "manifests", `${DB}.jsonl`), "utf8")
      expect(manifest.split("\n")[0]).toBe(JSON.stringify({ exclude: ["cache/"] }))
      const before = fingerprint(db!.mountpoint)
      // The release: a rewrite, an emptied cache, a cache in a new directory, junk.
      Fs.writeFileSync(at("keep.txt"), "v2")
      Fs.rmSync(at("cache", "c1"))
      Fs.mkdirSync(at("new", "cache"), { recursive: true })
      Fs.writeFileSync(at("new", "cache", "n"), "n")
      Fs.writeFileSync(at("new", "junk"), "j")
      const released = fingerprint(db!.mountpoint)
      // A meta.json that disagrees with the manifest (edited by hand) is refused before any change.
      const metaFile = Path.join(snapshot, "meta.json")
      const meta = Fs.readFileSync(metaFile, "utf8")
      Fs.writeFileSync(metaFile, JSON.stringify({ ...JSON.parse(meta), exclude: {} }))
      const refused = failure(yield* Effect.exit(w.snapshots.restore(excluding, [db!])))
      expect(refused.message).toContain(`and meta.json name different excludes for ${DB}: nothing was changed`)
      expect(fingerprint(db!.mountpoint)).toEqual(released)
      Fs.writeFileSync(metaFile, meta)
      yield* w.snapshots.restore(excluding, [db!])
      const restored = fingerprint(db!.mountpoint)
      // The snapshot's data exactly; the excluded paths as the release left them.
      const { cache: _cache, "cache/c1": _c1, ...kept } = before
      expect(Object.keys(restored).sort()).toEqual(
        [...Object.keys(kept), "cache", "new", "new/cache", "new/cache/n"].sort()
      )
      expect([restored["."], restored["keep.txt"]]).toEqual([before["."], before["keep.txt"]])
      expect(restored["cache"]).toEqual(released["cache"])
      expect(restored["new/cache/n"]).toEqual(released["new/cache/n"])
    }))
})

describe("live Snapshots, retention", () => {
  it.scopedLive("kept snapshots share the unchanged files with the next one; a lowered keep prunes them", () =>
    Effect.gen(function*() {
      const w = yield* world()
      const [db] = w.volumes
      const keeping = { ...app, snapshot: SnapshotConfig.make({ keep: 1 }) }
      Fs.writeFileSync(Path.join(db!.mountpoint, "same"), "unchanged")
      Fs.writeFileSync(Path.join(db!.mountpoint, "moving"), "v1")
      yield* w.snapshots.take(keeping, "1.0.0", [db!])
      Fs.writeFileSync(Path.join(db!.mountpoint, "moving"), "v2")
      yield* w.snapshots.take(keeping, "2.0.0", [db!])
      const [kept, ...more] = Fs.readdirSync(w.appDir).filter((e) => e.startsWith("snapshot.kept-"))
      expect(more).toEqual([])
      const inode = (dir: string, file: string) => Fs.statSync(Path.join(w.appDir, dir, "volumes", DB, file)).ino
      expect(inode(kept!, "same")).toBe(inode("snapshot", "same"))
      expect(inode(kept!, "moving")).not.toBe(inode("snapshot", "moving"))
      expect(Fs.readFileSync(Path.join(w.appDir, kept!, "volumes", DB, "moving"), "utf8")).toBe("v1")
      yield* w.snapshots.take(app, "3.0.0", [db!])
      expect(yield* settledEntries(w)).toEqual(["snapshot"])
    }))
})

describe("live Snapshots, what root must not follow (issue 18 item 6)", () => {
  it.scopedLive("a symlinked _data is refused by take, pre-copy, space and restore; nothing is written or changed", () =>
    Effect.gen(function*() {
      const w = yield* world()
      w.volumes.forEach((v, i) => populate(v.mountpoint, `l${i}`))
      yield* w.snapshots.take(app, "1.0.0", w.volumes)
      // Someone swaps the second volume's data dir for a link to a directory root should not touch.
      const elsewhere = Path.join(w.root, "elsewhere")
      Fs.mkdirSync(elsewhere)
      Fs.writeFileSync(Path.join(elsewhere, "shadow"), "root-only\n")
      const linked = w.volumes[1]!
      Fs.rmSync(linked.mountpoint, { recursive: true })
      Fs.symlinkSync(elsewhere, linked.mountpoint)
      const before = fingerprint(elsewhere)
      const snapshotBefore = fingerprint(Path.join(w.appDir, "snapshot"))
      const said = `its data dir ${linked.mountpoint} is reached through a symbolic link`
      for (
        const attempt of [
          w.snapshots.take(app, "2.0.0", w.volumes),
          w.snapshots.precopy(app, w.volumes),
          w.snapshots.space(app, w.volumes),
          w.snapshots.restore(app, w.volumes)
        ]
      ) {
        const error = failure(yield* Effect.exit(attempt as Effect.Effect<unknown, SnapshotError>))
        expect(error.message).toContain(said)
      }
      expect(fingerprint(elsewhere)).toEqual(before)
      expect(fingerprint(Path.join(w.appDir, "snapshot"))).toEqual(snapshotBefore)
    }))

  it.scopedLive("a volume Docker reports as a bind or outside its data root is refused before anything changes", () =>
    Effect.gen(function*() {
      const w = yield* world()
      w.volumes.forEach((v, i) => populate(v.mountpoint, `b${i}`))
      const refused = "volume x is a local volume with driver options (o=bind): ..."
      const volumes = [w.volumes[0]!, { ...w.volumes[1]!, refused }]
      for (const attempt of [w.snapshots.take(app, "1.0.0", volumes), w.snapshots.space(app, volumes)]) {
        const error = failure(yield* Effect.exit(attempt as Effect.Effect<unknown, SnapshotError>))
        expect(error.message).toContain(`${refused}; nothing was changed`)
      }
      expect(Fs.existsSync(Path.join(w.appDir, "snapshot", "meta.json"))).toBe(false)
    }))

  it.scopedLive("a snapshot another account can write is not restored; nor is a setuid file or device node its manifest lacks", () =>
    Effect.gen(function*() {
      const w = yield* world()
      w.volumes.forEach((v, i) => populate(v.mountpoint, `s${i}`))
      yield* w.snapshots.take(app, "1.0.0", w.volumes)
      const dir = Path.join(w.appDir, "snapshot")
      w.volumes.forEach((v) => scribble(v.mountpoint))
      /** A restore refused with each of `says`, every volume as it was. */
      const refusedUnchanged = (says: ReadonlyArray<string>) =>
        Effect.gen(function*() {
          const before = w.volumes.map((v) => fingerprint(v.mountpoint))
          const error = failure(yield* Effect.exit(w.snapshots.restore(app, w.volumes)))
          for (const text of says) expect(error.message).toContain(text)
          expect(w.volumes.map((v) => fingerprint(v.mountpoint))).toEqual(before)
        })
      const manifest = Path.join(dir, "manifests", `${FILES}.jsonl`)
      // Writable by every account: whoever could write it could plant a file and list it.
      Fs.chmodSync(dir, 0o777)
      yield* refusedUnchanged([`${dir}: it is writable by every account`, "nothing was changed"])
      Fs.chmodSync(dir, 0o700)
      Fs.chmodSync(manifest, 0o666)
      yield* refusedUnchanged([`${manifest}: it is writable by every account`, "nothing was changed"])
      Fs.chmodSync(manifest, 0o600)
      // Root-owned again, but a setuid-root file and a device node planted in the tree, unlisted.
      const files = treeOf(w, FILES)
      keepingTimes(files, () => {
        Fs.writeFileSync(Path.join(files, "suid"), "#!/bin/sh\n")
        Fs.chmodSync(Path.join(files, "suid"), 0o4755)
      })
      yield* refusedUnchanged(["suid is in the snapshot but not", "nothing was changed"])
      keepingTimes(files, () => Fs.rmSync(Path.join(files, "suid")))
      keepingTimes(files, () => sh("mknod", [Path.join(files, "disk"), "b", "8", "0"]))
      yield* refusedUnchanged(["disk is in the snapshot but not", "nothing was changed"])
    }))
})
