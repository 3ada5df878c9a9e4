/** The per-app lock as a file `<stateDir>/<app>/lock` holding the holder's pid and boot id. */
import { Clock, Duration, Effect, Layer, Schema } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { Lock, LockBusy, LockError } from "../services/Lock.js"

const Holder = Schema.parseJson(Schema.Struct({ pid: Schema.Number, bootId: Schema.String, since: Schema.String }))
type Holder = typeof Holder.Type

/** Changes at every boot: a lock from before a reboot belongs to nobody. */
const bootId = (): string => {
  try {
    return Fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim()
  } catch {
    return "unknown"
  }
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    // EPERM: it exists but is someone else's.
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

export interface LockOptions {
  readonly stateDir: string
  /** How often a waiting run looks again. */
  readonly poll?: Duration.DurationInput
}

export const layer = (options: LockOptions): Layer.Layer<Lock> =>
  Layer.sync(Lock, () => {
    const boot = bootId()
    const poll = Duration.decode(options.poll ?? "1 second")
    const mine: Holder = { pid: process.pid, bootId: boot, since: "" }

    /** One attempt: taken, or who holds it. Dead holders are cleared and the attempt repeated. */
    const tryTake = (app: string, path: string) =>
      Effect.try({
        try: (): Holder | undefined => {
          // As the State layer: never write through a state or app directory that is a symlink.
          for (const dir of [options.stateDir, Path.dirname(path)]) {
            if (Fs.lstatSync(dir, { throwIfNoEntry: false })?.isSymbolicLink()) {
              throw new Error(`${dir} is a symbolic link; point stateDir at the real directory`)
            }
          }
          Fs.mkdirSync(Path.dirname(path), { recursive: true, mode: 0o700 })
          for (let attempt = 0; attempt < 3; attempt++) {
            try {
              const fd = Fs.openSync(path, "wx", 0o600)
              Fs.writeSync(fd, JSON.stringify({ ...mine, since: new Date().toISOString() }))
              Fs.fsyncSync(fd)
              Fs.closeSync(fd)
              return undefined
            } catch (e) {
              if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e
            }
            let holder: Holder | undefined
            try {
              holder = Schema.decodeUnknownSync(Holder)(Fs.readFileSync(path, "utf8"))
            } catch {
              holder = undefined // torn or foreign: nobody can be waiting on it
            }
            if (holder && holder.bootId === boot && alive(holder.pid)) return holder
            // A stale lock (dead pid, an earlier boot, unreadable): take it over.
            Fs.rmSync(path, { force: true })
          }
          return { pid: -1, bootId: boot, since: "" }
        },
        catch: (e) => new LockError({ app, message: `cannot take the lock ${path}: ${String(e)}` })
      })

    return Lock.of({
      acquire: (app, wait) =>
        Effect.gen(function*() {
          const path = Path.join(options.stateDir, app, "lock")
          const deadline = (yield* Clock.currentTimeMillis) + Duration.toMillis(wait)
          for (;;) {
            const holder = yield* tryTake(app, path)
            if (holder === undefined) break
            if ((yield* Clock.currentTimeMillis) >= deadline) {
              return yield* new LockBusy({
                app,
                holder: String(holder.pid),
                message:
                  `another warm-reconcile run (pid ${holder.pid}, since ${holder.since}) is working on ${app}; ` +
                  `gave up after ${Duration.format(wait)}`
              })
            }
            yield* Effect.sleep(poll)
          }
          yield* Effect.addFinalizer(() => Effect.sync(() => Fs.rmSync(path, { force: true })))
        })
    })
  })
