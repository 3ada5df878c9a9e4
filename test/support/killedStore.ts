/**
 * A child process for the snapshot store's kill -9 sweep (test/live/StoreKillSweep.test.ts): runs
 * one operation of the live store (pre-copy, take or restore) over the world that
 * test/support/snapshotWorld.ts lays out under `root`, and counts its points: every call that
 * changes the disk (a rename, a mkdir, a write, a chmod, a removal...) and every command it starts
 * (rsync, cp, sync). With `killAt` = k > 0 it sends SIGKILL to its whole process group at the k-th
 * point, as systemd kills a unit's control group: at a disk call, before the call is made; at a
 * command, 20 ms after it started, so that the copy is cut off in the middle. With `killAt` = 0
 * it runs to the end and prints the points it passed as JSON.
 *
 *   node killedStore.mjs <root> <precopy|take|restore> <version> <killAt>
 */
import { CommandExecutor, FileSystem } from "@effect/platform"
import { NodeCommandExecutor, NodeFileSystem } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import * as Path from "node:path"
import * as LiveSnapshots from "../../src/live/Snapshots.js"
import { Snapshots } from "../../src/services/Snapshots.js"
import { app, DB, dockerStub, FILES } from "./snapshotWorld.js"

const [root, operation, version, killAtText] = process.argv.slice(2)
if (root === undefined || operation === undefined || version === undefined || killAtText === undefined) {
  console.error("usage: killedStore <root> <precopy|take|restore> <version> <killAt>")
  process.exit(2)
}
const killAt = Number(killAtText)

const points: Array<string> = []
/** Counts a point; at the chosen one, the whole process group dies (the parent made this process its leader). */
const point = (label: string, delayMs = 0) => {
  points.push(label)
  if (points.length !== killAt) return
  const kill = () => {
    process.stderr.write(`killed at ${killAt}: ${label}\n`)
    process.kill(-process.pid, "SIGKILL")
  }
  if (delayMs === 0) kill()
  else setTimeout(kill, delayMs)
}
const rel = (path: string) => Path.relative(root, path)

/** The disk calls that change something; reads are not points. */
const CHANGES = new Set([
  "chmod",
  "chown",
  "copy",
  "copyFile",
  "link",
  "makeDirectory",
  "makeTempDirectory",
  "makeTempDirectoryScoped",
  "makeTempFile",
  "makeTempFileScoped",
  "remove",
  "rename",
  "symlink",
  "truncate",
  "utimes",
  "writeFile",
  "writeFileString"
])

const countingFileSystem = Layer.effect(
  FileSystem.FileSystem,
  Effect.map(FileSystem.FileSystem, (real) =>
    new Proxy(real, {
      get: (target, key) => {
        const value = Reflect.get(target, key)
        if (typeof key !== "string" || typeof value !== "function") return value
        if (CHANGES.has(key)) {
          return (...args: Array<unknown>) =>
            Effect.suspend(() => {
              point(`${key} ${args.filter((a) => typeof a === "string").map(rel).join(" ")}`)
              return value.apply(target, args)
            })
        }
        if (key === "open") {
          // A file opened to be written is a point; one opened to be read is not.
          return (path: string, options?: FileSystem.OpenFileOptions) =>
            Effect.suspend(() => {
              const flag = options?.flag ?? "r"
              if (flag !== "r") point(`open ${flag} ${rel(path)}`)
              return value.call(target, path, options)
            })
        }
        return value
      }
    }))
).pipe(Layer.provide(NodeFileSystem.layer))

const countingCommands = Layer.effect(
  CommandExecutor.CommandExecutor,
  Effect.map(
    CommandExecutor.CommandExecutor,
    (real) =>
      CommandExecutor.makeExecutor((command) =>
        real.start(command).pipe(
          Effect.tap(() =>
            Effect.sync(() => {
              const text = command._tag === "StandardCommand" ? command.command : "a piped command"
              point(`command ${text}`, 20)
            })
          )
        )
      )
  )
).pipe(Layer.provide(NodeCommandExecutor.layer), Layer.provide(NodeFileSystem.layer))

const volumes = [DB, FILES].map((name) => ({ name, mountpoint: Path.join(root, "volumes", name, "_data") }))

const program = Effect.gen(function*() {
  const snapshots = yield* Snapshots
  if (operation === "precopy") yield* snapshots.precopy(app, volumes)
  else if (operation === "take") yield* snapshots.take(app, version, volumes)
  else if (operation === "restore") yield* snapshots.restore(app, volumes)
  else return yield* Effect.dieMessage(`unknown operation ${operation}`)
})

const layer = LiveSnapshots.layer({ stateDir: Path.join(root, "state") }).pipe(
  Layer.provide(Layer.mergeAll(dockerStub({ value: false }), countingFileSystem, countingCommands))
)

Effect.runPromise(program.pipe(Effect.provide(layer)))
  .then(
    () => {
      // A command's kill lands on a timer: wait for it rather than exit first.
      if (killAt > 0) setTimeout(() => process.exit(3), 5_000)
      else process.stdout.write(`${JSON.stringify(points)}\n`)
    },
    (e) => {
      process.stderr.write(`${String(e)}\n`)
      process.exit(1)
    }
  )
