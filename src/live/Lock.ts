/**
 * The per-app lock as a file `<stateDir>/<app>/lock` holding the holder's pid and boot id, on the
 * platform FileSystem like its neighbours. Only the pid's liveness is not a file question: it is
 * asked with `process.kill(pid, 0)`.
 */
import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { Clock, Duration, Effect, Layer, Option, Schema } from "effect"
import * as Path from "node:path"
import { Lock, LockBusy, LockError } from "../services/Lock.js"
import { errnoOf, errorCode, fileError, refuseSymlinkDir } from "./FileChecks.js"

const Holder = Schema.parseJson(Schema.Struct({ pid: Schema.Number, bootId: Schema.String, since: Schema.String }))
type Holder = typeof Holder.Type
const decodeHolder = Schema.decodeUnknownOption(Holder)

const BOOT_ID = "/proc/sys/kernel/random/boot_id"

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    // EPERM: it exists but is someone else's.
    return errnoOf(e).code === "EPERM"
  }
}

export interface LockOptions {
  readonly stateDir: string
  /** How often a waiting run looks again. */
  readonly poll?: Duration.DurationInput
}

const encoder = new TextEncoder()

export const make = (options: LockOptions) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    // Changes at every boot: a lock from before a reboot belongs to nobody.
    const boot = yield* fs.readFileString(BOOT_ID).pipe(
      Effect.map((text) => text.trim()),
      Effect.orElseSucceed(() => "unknown")
    )
    const poll = Duration.decode(options.poll ?? "1 second")

    /** Create the lock file (O_EXCL): false when it exists already. */
    const create = (path: string) =>
      Effect.scoped(Effect.gen(function*() {
        const file = yield* fs.open(path, { flag: "wx", mode: 0o600 })
        const mine = { pid: process.pid, bootId: boot, since: new Date().toISOString() }
        yield* file.writeAll(encoder.encode(JSON.stringify(mine)))
        yield* file.sync
      })).pipe(
        Effect.as(true),
        Effect.catchIf((e) => errorCode(e) === "EEXIST", () => Effect.succeed(false)),
        Effect.mapError(fileError("write", path))
      )

    /** One attempt: taken (none), or who holds it. Dead holders are cleared and the attempt repeated. */
    const tryTake = (path: string) =>
      Effect.gen(function*() {
        const dir = Path.dirname(path)
        // As the State layer: never write through a state or app directory that is a symlink.
        for (const d of [options.stateDir, dir]) yield* refuseSymlinkDir(d)
        yield* fs.makeDirectory(dir, { recursive: true, mode: 0o700 }).pipe(
          Effect.mapError(fileError("create-directory", dir))
        )
        for (let attempt = 0; attempt < 3; attempt++) {
          if (yield* create(path)) return Option.none<Holder>()
          // Torn or foreign: nobody can be waiting on it.
          const holder = Option.flatMap(yield* Effect.option(fs.readFileString(path)), decodeHolder)
          if (Option.isSome(holder) && holder.value.bootId === boot && alive(holder.value.pid)) return holder
          // A stale lock (dead pid, an earlier boot, unreadable): take it over.
          yield* fs.remove(path, { force: true }).pipe(Effect.mapError(fileError("remove", path)))
        }
        return Option.some<Holder>({ pid: -1, bootId: boot, since: "" })
      })

    // A lock file that cannot be removed is taken over by the next run (its holder is gone): say so,
    // and let the other apps of an --all run go on.
    const release = (path: string) =>
      fs.remove(path, { force: true }).pipe(
        Effect.catchAll((e) => Effect.logWarning(`could not remove the lock ${path}: ${e.message}`))
      )

    return Lock.of({
      acquire: (app, wait) =>
        Effect.gen(function*() {
          const path = Path.join(options.stateDir, app, "lock")
          const deadline = (yield* Clock.currentTimeMillis) + Duration.toMillis(wait)
          for (;;) {
            // Taking the lock and arranging its release are one step: an interruption between them would leak it.
            const holder = yield* tryTake(path).pipe(
              Effect.tap((h) => Option.isNone(h) ? Effect.addFinalizer(() => release(path)) : Effect.void),
              Effect.mapError((e) => new LockError({ app, message: `cannot take the lock ${path}: ${e.message}` })),
              Effect.uninterruptible
            )
            if (Option.isNone(holder)) return
            if ((yield* Clock.currentTimeMillis) >= deadline) {
              return yield* new LockBusy({
                app,
                holder: String(holder.value.pid),
                message: `another warm-reconcile run (pid ${holder.value.pid}, since ${holder.value.since}) ` +
                  `is working on ${app}; gave up after ${Duration.format(wait)}`
              })
            }
            yield* Effect.sleep(poll)
          }
        })
    })
  })

/**
 * The lock on Node's filesystem. It brings its own FileSystem: the CLI takes it around the
 * services' composition, and tests use it on its own.
 */
export const layer = (options: LockOptions): Layer.Layer<Lock> =>
  Layer.effect(Lock, make(options)).pipe(Layer.provide(NodeFileSystem.layer))
