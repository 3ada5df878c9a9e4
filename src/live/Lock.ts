/**
 * The per-app lock as a file `<stateDir>/<app>/lock` holding the holder's pid and boot id, on the
 * platform FileSystem like its neighbours. Only the holder's liveness is not a file question: it is
 * asked with `process.kill(pid, 0)` and the process's start time in /proc (a reused pid is not the
 * holder).
 */
import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { Clock, Duration, Effect, Either, Layer, Option, Schema } from "effect"
import * as Crypto from "node:crypto"
import * as NodeFs from "node:fs"
import * as Path from "node:path"
import { Lock, LockBusy, LockError } from "../services/Lock.js"
import { errnoOf, errorCode, fileError, refuseSymlinkDir } from "./FileChecks.js"

const Holder = Schema.parseJson(Schema.Struct({
  pid: Schema.Number,
  bootId: Schema.String,
  since: Schema.String,
  /** The holder's start time in clock ticks since boot (/proc/<pid>/stat): a reused pid is another process. */
  start: Schema.optional(Schema.String),
  /** Random per acquisition: a run removes only the lock that carries its own token. */
  token: Schema.optional(Schema.String)
}))
type Holder = typeof Holder.Type
const decodeHolder = Schema.decodeUnknownOption(Holder)

const BOOT_ID = "/proc/sys/kernel/random/boot_id"

/** Field 22 of /proc/<pid>/stat (after the command name, which may hold spaces and parentheses). */
const startTime = (pid: number): string | undefined => {
  try {
    const stat = NodeFs.readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]
  } catch {
    return undefined
  }
}

const alive = (holder: Holder): boolean => {
  try {
    process.kill(holder.pid, 0)
  } catch (e) {
    // EPERM: it exists but is someone else's.
    if (errnoOf(e).code !== "EPERM") return false
  }
  // The pid exists; it is the holder only if it started when the holder did.
  if (holder.start === undefined) return true
  const now = startTime(holder.pid)
  return now === undefined || now === holder.start
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
    const myStart = startTime(process.pid)

    const ignoreMissing = <A, E>(effect: Effect.Effect<A, E>) =>
      effect.pipe(Effect.asVoid, Effect.catchIf((e) => errorCode(e) === "ENOENT", () => Effect.void))

    /**
     * Create the lock file whole: the holder is written to a private file first and hard-linked to
     * the lock's name, which fails if the name exists. No reader ever sees a lock half-written (an
     * empty lock read between an O_EXCL create and its write would look stale and be taken over).
     * Answers our token, or none when the lock exists already.
     */
    const create = (path: string) =>
      Effect.gen(function*() {
        const token = Crypto.randomUUID()
        const draft = `${path}.${token}`
        const mine: Holder = { pid: process.pid, bootId: boot, since: new Date().toISOString(), start: myStart, token }
        return yield* Effect.scoped(Effect.gen(function*() {
          const file = yield* fs.open(draft, { flag: "wx", mode: 0o600 })
          yield* file.writeAll(encoder.encode(JSON.stringify(mine)))
          yield* file.sync
        })).pipe(
          Effect.zipRight(fs.link(draft, path)),
          Effect.as(Option.some(token)),
          Effect.catchIf((e) => errorCode(e) === "EEXIST", () => Effect.succeed(Option.none<string>())),
          Effect.ensuring(Effect.ignore(fs.remove(draft, { force: true }))),
          Effect.mapError(fileError("write", path))
        )
      })

    /**
     * Take over a lock judged stale from `seen` (its text): move it aside under a private name, and
     * look again at what was moved. If it is not what was judged (another run took the lock over and
     * wrote its own in between), put it back: only a lock proven stale is ever removed.
     */
    const takeOver = (path: string, seen: string) =>
      Effect.gen(function*() {
        const aside = `${path}.stale.${Crypto.randomUUID()}`
        const moved = yield* fs.rename(path, aside).pipe(
          Effect.as(true),
          Effect.catchIf((e) => errorCode(e) === "ENOENT", () => Effect.succeed(false)),
          Effect.mapError(fileError("rename", path))
        )
        if (!moved) return
        const text = yield* Effect.option(fs.readFileString(aside))
        if (Option.getOrUndefined(text) !== seen) {
          yield* fs.link(aside, path).pipe(
            Effect.catchIf((e) => errorCode(e) === "EEXIST", () => Effect.void),
            Effect.mapError(fileError("write", path))
          )
        }
        yield* ignoreMissing(fs.remove(aside)).pipe(Effect.mapError(fileError("remove", aside)))
      })

    /** One attempt: our token when taken, or who holds it. Stale locks are taken over and the attempt repeated. */
    const tryTake = (path: string) =>
      Effect.gen(function*() {
        const dir = Path.dirname(path)
        // As the State layer: never write through a state or app directory that is a symlink.
        for (const d of [options.stateDir, dir]) yield* refuseSymlinkDir(d)
        yield* fs.makeDirectory(dir, { recursive: true, mode: 0o700 }).pipe(
          Effect.mapError(fileError("create-directory", dir))
        )
        for (let attempt = 0; attempt < 5; attempt++) {
          const token = yield* create(path)
          if (Option.isSome(token)) return Either.right(token.value)
          const text = yield* Effect.option(fs.readFileString(path))
          // Gone between the two looks: its holder let go; try again.
          if (Option.isNone(text)) continue
          const holder = decodeHolder(text.value)
          if (Option.isSome(holder) && holder.value.bootId === boot && alive(holder.value)) {
            return Either.left(holder.value)
          }
          // A stale lock (dead pid, a reused pid, an earlier boot, foreign content): take it over.
          yield* takeOver(path, text.value)
        }
        // Lost every race: report it busy, and the caller waits and tries again.
        return Either.left<Holder>({ pid: -1, bootId: boot, since: "" })
      })

    // Remove the lock only if it is still ours: a run that was taken for dead and taken over must not
    // remove its successor's lock. A lock file that cannot be removed is taken over by the next run
    // (its holder is gone): say so, and let the other apps of an --all run go on.
    const release = (path: string, token: string) =>
      Effect.gen(function*() {
        const text = yield* fs.readFileString(path)
        const holder = decodeHolder(text)
        if (Option.isNone(holder) || holder.value.token !== token) {
          return yield* Effect.logWarning(`the lock ${path} is no longer this run's; leaving it to its holder`)
        }
        yield* fs.remove(path)
      }).pipe(
        ignoreMissing,
        Effect.catchAll((e) => Effect.logWarning(`could not remove the lock ${path}: ${e.message}`))
      )

    return Lock.of({
      acquire: (app, wait) =>
        Effect.gen(function*() {
          const path = Path.join(options.stateDir, app, "lock")
          const deadline = (yield* Clock.currentTimeMillis) + Duration.toMillis(wait)
          for (;;) {
            // Taking the lock and arranging its release are one step: an interruption between them would leak it.
            const taken = yield* tryTake(path).pipe(
              Effect.tap((t) => Either.isRight(t) ? Effect.addFinalizer(() => release(path, t.right)) : Effect.void),
              Effect.mapError((e) => new LockError({ app, message: `cannot take the lock ${path}: ${e.message}` })),
              Effect.uninterruptible
            )
            if (Either.isRight(taken)) return
            const holder = taken.left
            if ((yield* Clock.currentTimeMillis) >= deadline) {
              return yield* new LockBusy({
                app,
                holder: String(holder.pid),
                message: `another warm-reconcile run (pid ${holder.pid}, since ${holder.since}) ` +
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
