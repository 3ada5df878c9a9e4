import { FileSystem } from "@effect/platform"
import { NodeCommandExecutor, NodeFileSystem } from "@effect/platform-node"
import { SystemError } from "@effect/platform/Error"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Exit, Fiber, Layer, Option } from "effect"
import { execFileSync } from "node:child_process"
import { createHash } from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { AppConfig, AppName, appSpec } from "../../src/domain/Config.js"
import * as LiveSnapshots from "../../src/live/Snapshots.js"
import { Docker, type StackVolume } from "../../src/services/Docker.js"
import { type SnapshotError, Snapshots } from "../../src/services/Snapshots.js"

const app = appSpec(AppName.make("keycloak"), new AppConfig({ recipe: "keycloak", domain: "id.example.org" }))
const DB = `${app.stack}_db`
const FILES = `${app.stack}_files`

/** A Docker whose only answer is `isDeployed`, controlled by the test. */
const dockerStub = (deployed: { value: boolean }) =>
  Layer.succeed(
    Docker,
    Docker.of({
      isDeployed: () => Effect.sync(() => deployed.value),
      deployedVersion: () => Effect.die("unexpected call: deployedVersion"),
      chaosVersion: () => Effect.die("unexpected call: chaosVersion"),
      stackVolumes: () => Effect.die("unexpected call: stackVolumes"),
      secrets: () => Effect.die("unexpected call: secrets"),
      failedTasks: () => Effect.die("unexpected call: failedTasks"),
      stackFacts: () => Effect.die("unexpected call: stackFacts")
    })
  )

const injected = (method: string, path: string, description: string) =>
  new SystemError({ reason: "Unknown", module: "FileSystem", method, pathOrDescriptor: path, description })

/** The real filesystem, where fsync of a file or a rename fails when the test says so. */
const faultyDisk = (faults: {
  readonly syncFails?: (path: string) => boolean
  readonly renameFails?: (from: string, to: string) => boolean
  /** A chmod that never returns, for an interruption at a known point. */
  readonly chmodHangs?: (path: string) => boolean
}) =>
  Layer.effect(
    FileSystem.FileSystem,
    Effect.map(FileSystem.FileSystem, (real) => ({
      ...real,
      rename: (from: string, to: string) =>
        faults.renameFails?.(from, to)
          ? Effect.fail(injected("rename", from, "EXDEV: cross-device link not permitted (injected)"))
          : real.rename(from, to),
      chmod: (path: string, mode: number) => faults.chmodHangs?.(path) ? Effect.never : real.chmod(path, mode),
      open: (path: string, options?: FileSystem.OpenFileOptions) =>
        Effect.map(real.open(path, options), (file) =>
          faults.syncFails?.(path)
            ? new Proxy(file, {
              get: (target, key) =>
                key === "sync"
                  ? Effect.fail(injected("sync", path, "EIO: i/o error (injected)"))
                  : Reflect.get(target, key)
            })
            : file)
    }))
  ).pipe(Layer.provide(NodeFileSystem.layer))

interface World {
  readonly root: string
  readonly stateDir: string
  readonly appDir: string
  readonly deployed: { value: boolean }
  readonly volumes: ReadonlyArray<StackVolume>
  readonly snapshots: Snapshots["Type"]
}

/** A temp dir with two Docker-like volumes (`<root>/volumes/<name>/_data`) and the live layer over it. */
const world = (options?: { readonly fileSystem?: Layer.Layer<FileSystem.FileSystem> }) =>
  Effect.gen(function*() {
    const root = yield* Effect.acquireRelease(
      Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "warm-snapshots-"))),
      (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
    )
    const stateDir = Path.join(root, "state")
    const volumes = [DB, FILES].map((name) => {
      const mountpoint = Path.join(root, "volumes", name, "_data")
      Fs.mkdirSync(mountpoint, { recursive: true })
      return { name, mountpoint }
    })
    const deployed = { value: false }
    const fileSystem = options?.fileSystem ?? NodeFileSystem.layer
    const context = yield* Layer.build(
      LiveSnapshots.layer({ stateDir }).pipe(
        Layer.provide(Layer.mergeAll(
          dockerStub(deployed),
          fileSystem,
          NodeCommandExecutor.layer.pipe(Layer.provide(NodeFileSystem.layer))
        ))
      )
    )
    return {
      root,
      stateDir,
      appDir: Path.join(stateDir, app.name),
      deployed,
      volumes,
      snapshots: Context.get(context, Snapshots)
    } satisfies World
  })

const sh = (file: string, args: ReadonlyArray<string>) => execFileSync(file, args, { encoding: "utf8" })

// Resolved once: a version manager's `python3` shim costs half a second per call.
const python = sh("python3", ["-c", "import sys; print(sys.executable)"]).trim()

const setXattr = (path: string, name: string, value: string) =>
  sh(python, ["-c", "import os, sys; os.setxattr(sys.argv[1], sys.argv[2], sys.argv[3].encode())", path, name, value])

/**
 * Every entry under `dir` (the root included) with its type, mode, owner, mtime, symlink
 * target, content hash, hard-link group and xattrs, read by Python's os module, independently
 * of tar and of the code under test.
 */
const fingerprint = (dir: string): Record<string, Record<string, unknown>> =>
  JSON.parse(sh(python, [
    "-c",
    `
import hashlib, json, os, stat, sys
root = sys.argv[1]
out, inodes = {}, {}
def visit(path):
    rel = os.path.relpath(path, root)
    st = os.lstat(path)
    e = {"mode": oct(st.st_mode), "uid": st.st_uid, "gid": st.st_gid}
    if stat.S_ISLNK(st.st_mode):
        e["link"] = os.readlink(path)
    else:
        e["mtime"] = int(st.st_mtime)
        e["xattrs"] = {k: os.getxattr(path, k).decode() for k in sorted(os.listxattr(path)) if k.startswith("user.")}
    if stat.S_ISREG(st.st_mode):
        with open(path, "rb") as f:
            e["sha256"] = hashlib.sha256(f.read()).hexdigest()
        inodes.setdefault(st.st_ino, []).append(rel)
        e["ino"] = st.st_ino
    out[rel] = e
    if stat.S_ISDIR(st.st_mode):
        for name in os.listdir(path):
            visit(os.path.join(path, name))
visit(root)
for e in out.values():
    if "ino" in e:
        e["hardlinks"] = sorted(inodes[e.pop("ino")])
print(json.dumps(out, sort_keys=True))
`,
    dir
  ]))

const ODD_NAME = "name with spaces\nand a newline"

/** Data with every kind of entry a volume may hold. */
const populate = (dir: string, flavour: string) => {
  const at = (...p: Array<string>) => Path.join(dir, ...p)
  Fs.writeFileSync(at("secret.txt"), `secret ${flavour}`)
  Fs.chmodSync(at("secret.txt"), 0o600)
  Fs.writeFileSync(at("run.sh"), "#!/bin/sh\necho hi\n")
  Fs.chmodSync(at("run.sh"), 0o755)
  Fs.mkdirSync(at("shared"))
  Fs.chownSync(at("shared"), 1234, 2345)
  Fs.chmodSync(at("shared"), 0o2770)
  Fs.writeFileSync(at("shared", "owned"), `owned ${flavour}`)
  Fs.chownSync(at("shared", "owned"), 1234, 1234)
  Fs.symlinkSync("secret.txt", at("relative-link"))
  Fs.symlinkSync("/etc/hostname", at("absolute-link"))
  Fs.symlinkSync("nowhere/at/all", at("dangling-link"))
  Fs.lchownSync(at("dangling-link"), 1234, 1234)
  Fs.mkdirSync(at("empty", "nested"), { recursive: true })
  Fs.writeFileSync(at(ODD_NAME), `odd ${flavour}`)
  Fs.linkSync(at("secret.txt"), at("hard-link"))
  Fs.writeFileSync(at("blob.bin"), createHash("sha256").update(flavour).digest().toString("hex").repeat(20_000))
  setXattr(at("secret.txt"), "user.warm", `xattr ${flavour}`)
  Fs.chownSync(dir, 999, 999)
  Fs.chmodSync(dir, 0o750)
}

/** Change a volume in every way a failed upgrade might. */
const scribble = (dir: string) => {
  Fs.writeFileSync(Path.join(dir, "secret.txt"), "migrated")
  Fs.rmSync(Path.join(dir, "shared"), { recursive: true })
  Fs.rmSync(Path.join(dir, "relative-link"))
  Fs.writeFileSync(Path.join(dir, "new-file"), "new")
  Fs.chmodSync(dir, 0o700)
  Fs.chownSync(dir, 0, 0)
}

const failure = <A>(exit: Exit.Exit<A, SnapshotError>): SnapshotError => {
  if (Exit.isSuccess(exit) || exit.cause._tag !== "Fail") throw new Error(`expected a typed failure, got ${exit}`)
  return exit.cause.error
}

const sha256File = (path: string) => createHash("sha256").update(Fs.readFileSync(path)).digest("hex")

/** Leftovers of a swap beside a volume's data dir. */
const siblings = (volume: StackVolume) => Fs.readdirSync(Path.dirname(volume.mountpoint)).filter((e) => e !== "_data")

const modeOf = (path: string) => Fs.statSync(path).mode & 0o7777

describe("live Snapshots", () => {
  it.scopedLive("restores every kind of entry: content, modes, owners, links, xattrs, odd names", () =>
    Effect.gen(function*() {
      const w = yield* world()
      w.volumes.forEach((v, i) => populate(v.mountpoint, `v${i}`))
      const before = w.volumes.map((v) => fingerprint(v.mountpoint))
      // The oracle sees what the test set up, so an equal fingerprint after means it came back.
      expect(before[0]!["shared"]).toMatchObject({ uid: 1234, gid: 2345, mode: "0o42770" })
      expect(before[0]!["secret.txt"]).toMatchObject({ xattrs: { "user.warm": "xattr v0" } })
      expect(before[0]!["hard-link"]!["hardlinks"]).toEqual(["hard-link", "secret.txt"])

      const meta = yield* w.snapshots.take(app, "1.0.0+26.0.0", w.volumes)
      expect(meta.version).toBe("1.0.0+26.0.0")
      expect(meta.volumes).toEqual([DB, FILES])
      for (const v of w.volumes) {
        const archive = Path.join(w.appDir, "snapshot", "volumes", `${v.name}.tar`)
        expect(meta.sha256[v.name]).toBe(sha256File(archive))
      }

      w.volumes.forEach((v) => scribble(v.mountpoint))
      expect(fingerprint(w.volumes[0]!.mountpoint)).not.toEqual(before[0])

      const restored = yield* w.snapshots.restore(app, w.volumes)
      expect(restored.version).toBe("1.0.0+26.0.0")
      expect(w.volumes.map((v) => fingerprint(v.mountpoint))).toEqual(before)
      expect(w.volumes.flatMap(siblings)).toEqual([])
      // The snapshot stays: a second rollback could need it.
      expect(Option.map(yield* w.snapshots.show(app), (m) => m.version)).toEqual(Option.some("1.0.0+26.0.0"))
    }))

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
      expect(w.volumes.map((v) => modeOf(Path.join(snapshot, "volumes", `${v.name}.tar`)))).toEqual([0o600, 0o600])
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

  it.scopedLive("refuses a corrupt archive before touching any volume", () =>
    Effect.gen(function*() {
      const w = yield* world()
      w.volumes.forEach((v, i) => populate(v.mountpoint, `c${i}`))
      yield* w.snapshots.take(app, "1.0.0", w.volumes)
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
      expect(w.volumes.flatMap(siblings)).toEqual([])
    }))

  it.scopedLive("a restore that fails while extracting leaves every volume as it was and no staging dir", () =>
    Effect.gen(function*() {
      const w = yield* world()
      w.volumes.forEach((v, i) => populate(v.mountpoint, `h${i}`))
      yield* w.snapshots.take(app, "1.0.0", w.volumes)
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
      expect(w.volumes.flatMap(siblings)).toEqual([])
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
      expect(w.volumes.flatMap(siblings)).toEqual([])
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
      expect(w.volumes.flatMap(siblings)).toEqual([])
    }))

  it.scopedLive("a new snapshot replaces the old one; a failed take leaves the old one whole", () =>
    Effect.gen(function*() {
      const w = yield* world({ fileSystem: faultyDisk({ syncFails: (path) => path.endsWith(`${FILES}.tar`) }) })
      const [db, files] = w.volumes
      populate(db!.mountpoint, "first")
      yield* w.snapshots.take(app, "1.0.0", [db!])
      Fs.rmSync(db!.mountpoint, { recursive: true })
      Fs.mkdirSync(db!.mountpoint)
      populate(db!.mountpoint, "second")
      const second = fingerprint(db!.mountpoint)
      yield* w.snapshots.take(app, "2.0.0", [db!])
      expect(Fs.readdirSync(w.appDir)).toEqual(["snapshot"])
      expect(Option.map(yield* w.snapshots.show(app), (m) => m.version)).toEqual(Option.some("2.0.0"))

      // A disk that fails once the second volume's archive is written.
      populate(files!.mountpoint, "files")
      const failed = failure(yield* Effect.exit(w.snapshots.take(app, "3.0.0", w.volumes)))
      expect(failed.message).toContain("i/o error")
      // A volume whose data dir is gone.
      const gone = { name: `${app.stack}_gone`, mountpoint: Path.join(w.root, "volumes", "gone", "_data") }
      const missing = failure(yield* Effect.exit(w.snapshots.take(app, "4.0.0", [db!, gone])))
      expect(missing.message).toContain(gone.mountpoint)

      expect(Fs.readdirSync(w.appDir)).toEqual(["snapshot"])
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
      expect(Fs.readdirSync(w.appDir)).toEqual(["snapshot"])
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
      expect(w.volumes.flatMap(siblings)).toEqual([])
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
      expect(Fs.readdirSync(w.appDir)).toEqual(["snapshot"])
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
