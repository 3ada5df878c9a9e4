/**
 * The live snapshot store's test world, shared by its example tests (test/live/Snapshots.test.ts)
 * and its sweep (test/live/RestoreSweep.test.ts): a temp dir with two Docker-like volumes and the
 * live layer over it, a disk whose calls fail where a test says, data with every kind of entry,
 * and a fingerprint of a tree read independently of the code under test.
 */
import { FileSystem } from "@effect/platform"
import { NodeCommandExecutor, NodeFileSystem } from "@effect/platform-node"
import { SystemError } from "@effect/platform/Error"
import { Context, type Duration, Effect, Exit, Layer } from "effect"
import { execFileSync } from "node:child_process"
import { createHash } from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { AppConfig, AppName, appSpec } from "../../src/domain/Config.js"
import * as LiveSnapshots from "../../src/live/Snapshots.js"
import { Docker, type StackVolume } from "../../src/services/Docker.js"
import { type SnapshotError, Snapshots } from "../../src/services/Snapshots.js"

export const app = appSpec(AppName.make("keycloak"), new AppConfig({ recipe: "keycloak", domain: "id.example.org" }))
export const DB = `${app.stack}_db`
export const FILES = `${app.stack}_files`

/** A Docker whose only answer is `isDeployed`, controlled by the test. */
export const dockerStub = (deployed: { value: boolean }) =>
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

export const injected = (method: string, path: string, description: string) =>
  new SystemError({ reason: "Unknown", module: "FileSystem", method, pathOrDescriptor: path, description })

/** The real filesystem, where fsync of a file or a rename fails when the test says so. */
export const faultyDisk = (faults: {
  readonly syncFails?: (path: string) => boolean
  readonly renameFails?: (from: string, to: string) => boolean
  /** A chmod that never returns, for an interruption at a known point. */
  readonly chmodHangs?: (path: string) => boolean
  /** Run after a successful chmod, to change the disk under the code at a known point. */
  readonly afterChmod?: (path: string) => void
}) =>
  Layer.effect(
    FileSystem.FileSystem,
    Effect.map(FileSystem.FileSystem, (real) => ({
      ...real,
      rename: (from: string, to: string) =>
        faults.renameFails?.(from, to)
          ? Effect.fail(injected("rename", from, "EXDEV: cross-device link not permitted (injected)"))
          : real.rename(from, to),
      chmod: (path: string, mode: number) =>
        faults.chmodHangs?.(path)
          ? Effect.never
          : real.chmod(path, mode).pipe(Effect.tap(() => Effect.sync(() => faults.afterChmod?.(path)))),
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

export interface World {
  readonly root: string
  readonly stateDir: string
  readonly appDir: string
  readonly deployed: { value: boolean }
  readonly volumes: ReadonlyArray<StackVolume>
  readonly snapshots: Snapshots["Type"]
}

/** A temp dir with two Docker-like volumes (`<root>/volumes/<name>/_data`) and the live layer over it. */
export const world = (options?: {
  readonly fileSystem?: Layer.Layer<FileSystem.FileSystem>
  /** Where the temp dir goes (default: the OS's), e.g. on a filesystem with reflinks. */
  readonly under?: string
  /** The live layer's progress interval (default: its own, 10 s). */
  readonly progressEvery?: Duration.DurationInput
}) =>
  Effect.gen(function*() {
    const root = yield* Effect.acquireRelease(
      Effect.sync(() => Fs.mkdtempSync(Path.join(options?.under ?? Os.tmpdir(), "warm-snapshots-"))),
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
      LiveSnapshots.layer({
        stateDir,
        ...(options?.progressEvery === undefined ? {} : { progressEvery: options.progressEvery })
      }).pipe(
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

export const sh = (file: string, args: ReadonlyArray<string>) => execFileSync(file, args, { encoding: "utf8" })

// Resolved once: a version manager's `python3` shim costs half a second per call.
export const python = sh("python3", ["-c", "import sys; print(sys.executable)"]).trim()

export const setXattr = (path: string, name: string, value: string) =>
  sh(python, ["-c", "import os, sys; os.setxattr(sys.argv[1], sys.argv[2], sys.argv[3].encode())", path, name, value])

/**
 * Every entry under `dir` (the root included) with its type, mode, owner, mtime, symlink
 * target, content hash, hard-link group and xattrs, read by Python's os module, independently
 * of tar and of the code under test.
 */
export const fingerprint = (dir: string): Record<string, Record<string, unknown>> =>
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

export const ODD_NAME = "name with spaces\nand a newline"

/** Data with every kind of entry a volume may hold. */
export const populate = (dir: string, flavour: string) => {
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
export const scribble = (dir: string) => {
  Fs.writeFileSync(Path.join(dir, "secret.txt"), "migrated")
  Fs.rmSync(Path.join(dir, "shared"), { recursive: true })
  Fs.rmSync(Path.join(dir, "relative-link"))
  Fs.writeFileSync(Path.join(dir, "new-file"), "new")
  Fs.chmodSync(dir, 0o700)
  Fs.chownSync(dir, 0, 0)
}

export const failure = <A>(exit: Exit.Exit<A, SnapshotError>): SnapshotError => {
  if (Exit.isSuccess(exit) || exit.cause._tag !== "Fail") throw new Error(`expected a typed failure, got ${exit}`)
  return exit.cause.error
}
