/**
 * The per-app lock: flock(2) on `<stateDir>/<app>/lock`, held for the scope by a small child
 * (util-linux's `flock` running `cat` on a pipe from this process). The kernel lets go of the lock
 * when its holder goes, however it goes (the scope closes, SIGKILL, a power cut): there is nothing
 * to take over, no pid that can be reused, no file that can be read half-written, and two runs can
 * never both hold it. Node has no flock(2) of its own; the `flock` program is part of util-linux,
 * on every Debian and NixOS system.
 *
 * The file itself stays (removing it would let a second run lock a new file beside a holder of the
 * old one). It carries the holder's pid and since when, for the messages of a run that waits.
 */
import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { Clock, Duration, Effect, Layer, Option, Schema } from "effect"
import * as ChildProcess from "node:child_process"
import * as Path from "node:path"
import { Lock, LockBusy, LockError } from "../services/Lock.js"
import { errorCode, fileError, refuseSymlinkDir } from "./FileChecks.js"

const Holder = Schema.parseJson(Schema.Struct({ pid: Schema.Number, since: Schema.String }))
const decodeHolder = Schema.decodeUnknownOption(Holder)

/** `flock`'s exit code when the lock is held by someone else (`--conflict-exit-code`). */
const BUSY = 75
/** What the child prints once it holds the lock. A constant: no untrusted text reaches the shell. */
const LOCKED = "locked"

export interface LockOptions {
  readonly stateDir: string
  /** How often a waiting run looks again. */
  readonly poll?: Duration.DurationInput
}

type Attempt =
  | { readonly _tag: "Held"; readonly child: ChildProcess.ChildProcess }
  | { readonly _tag: "Busy" }

/** One try: a child that holds the lock (until its stdin closes), or busy. */
const tryLock = (path: string) =>
  Effect.async<Attempt, string>((resume) => {
    const child = ChildProcess.spawn(
      "flock",
      ["--nonblock", "--conflict-exit-code", String(BUSY), path, "--command", `echo ${LOCKED}; exec cat`],
      // Its own process group: a Ctrl-C at the terminal goes to our group and must not end the
      // holder while this process still rolls back. When this process dies, the pipe closes.
      { stdio: ["pipe", "pipe", "pipe"], detached: true }
    )
    let out = ""
    let err = ""
    let done = false
    const finish = (result: Effect.Effect<Attempt, string>) => {
      if (done) return
      done = true
      resume(result)
    }
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d
      if (out.includes(LOCKED)) finish(Effect.succeed({ _tag: "Held", child }))
    })
    child.stderr.setEncoding("utf8").on("data", (d: string) => err += d)
    child.on("error", (e: NodeJS.ErrnoException) =>
      finish(Effect.fail(
        e.code === "ENOENT" ? "the flock program was not found: install util-linux" : `cannot run flock: ${e.message}`
      )))
    child.on("exit", (code) =>
      finish(
        code === BUSY
          ? Effect.succeed({ _tag: "Busy" })
          : Effect.fail(`flock exited with code ${code}: ${err.trim().split("\n").at(-1) ?? ""}`)
      ))
    // Interrupted before the answer: let go of whatever the child (and its cat) may hold.
    return Effect.sync(() => killGroup(child))
  })

/** SIGKILL to the holder's process group: flock and the cat that inherited the locked descriptor. */
const killGroup = (child: ChildProcess.ChildProcess) => {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL")
  } catch {
    // Gone already.
  }
}

/** Close the holder's stdin (cat ends, flock lets go) and wait for it; SIGKILL if it lingers. */
const unlock = (child: ChildProcess.ChildProcess) =>
  Effect.async<void>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
    const timer = setTimeout(() => killGroup(child), 5000)
    child.once("exit", () => {
      clearTimeout(timer)
      resume(Effect.void)
    })
    child.stdin?.end()
  })

export const make = (options: LockOptions) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const poll = Duration.decode(options.poll ?? "1 second")

    /** The app directory, and the lock file in it: never through a symbolic link. */
    const prepare = (path: string) =>
      Effect.gen(function*() {
        const dir = Path.dirname(path)
        // As the State layer: never write through a state or app directory that is a symlink.
        for (const d of [options.stateDir, dir]) yield* refuseSymlinkDir(d)
        yield* fs.makeDirectory(dir, { recursive: true, mode: 0o700 }).pipe(
          Effect.mapError(fileError("create-directory", dir))
        )
        const link = yield* fs.readLink(path).pipe(Effect.option)
        if (Option.isSome(link)) {
          return yield* Effect.fail(`refusing ${path}: it is a symbolic link (to ${link.value}); remove it`)
        }
      }).pipe(Effect.mapError((e) => typeof e === "string" ? e : e.message))

    /** Who holds it, as its file says (for the message only). */
    const holderOf = (path: string) =>
      fs.readFileString(path).pipe(Effect.option, Effect.map(Option.flatMap(decodeHolder)))

    /** Ours now: say who holds it, in place (the inode must stay the one that is locked). */
    const describe = (path: string) =>
      fs.writeFileString(path, JSON.stringify({ pid: process.pid, since: new Date().toISOString() })).pipe(
        Effect.catchAll((e) =>
          Effect.logWarning(`could not write the holder into ${path} (${errorCode(e) || e.message}): messages only`)
        )
      )

    return Lock.of({
      acquire: (app, wait) =>
        Effect.gen(function*() {
          const path = Path.join(options.stateDir, app, "lock")
          const error = (message: string) => new LockError({ app, message: `cannot take the lock ${path}: ${message}` })
          yield* prepare(path).pipe(Effect.mapError(error))
          const deadline = (yield* Clock.currentTimeMillis) + Duration.toMillis(wait)
          for (;;) {
            // Taking the lock and arranging its release are one step: an interruption between them would leak it.
            const attempt = yield* tryLock(path).pipe(
              Effect.tap((a) => a._tag === "Held" ? Effect.addFinalizer(() => unlock(a.child)) : Effect.void),
              Effect.mapError(error),
              Effect.uninterruptible
            )
            if (attempt._tag === "Held") return yield* describe(path)
            if ((yield* Clock.currentTimeMillis) >= deadline) {
              const holder = yield* holderOf(path)
              const who = Option.match(holder, {
                onNone: () => "another warm-reconcile run",
                onSome: (h) => `another warm-reconcile run (pid ${h.pid}, since ${h.since})`
              })
              return yield* new LockBusy({
                app,
                holder: Option.match(holder, { onNone: () => "unknown", onSome: (h) => String(h.pid) }),
                message: `${who} is working on ${app}; gave up after ${Duration.format(wait)}`
              })
            }
            yield* Effect.sleep(poll)
          }
        })
    })
  })

/** A live run that holds an app's lock: its pid and since when, as its lock file says (if it does). */
export interface LiveHolder {
  readonly pid?: number
  readonly since?: string
}

/** One shared, non-blocking try that lets go at once: does a live process hold the lock? */
const isHeld = (path: string) =>
  Effect.async<boolean>((resume) => {
    const child = ChildProcess.spawn(
      "flock",
      ["--nonblock", "--shared", "--conflict-exit-code", String(BUSY), path, "true"],
      { stdio: "ignore" }
    )
    // Not answerable (no flock, no permission): not known to be running, so not said to be.
    child.on("error", () => resume(Effect.succeed(false)))
    child.on("exit", (code) => resume(Effect.succeed(code === BUSY)))
  })

/**
 * The live run that holds `app`'s lock now, if any (for `plan`, which takes no lock): the kernel's
 * answer, not the file's, so a lock file left by a dead run is not a live run. Writes nothing: no
 * lock file means no run ever locked the app, and a link is never followed.
 */
export const liveHolder = (stateDir: string, app: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = Path.join(stateDir, app, "lock")
    const link = yield* fs.readLink(path).pipe(Effect.option)
    const exists = yield* fs.exists(path).pipe(Effect.orElseSucceed(() => false))
    if (Option.isSome(link) || !exists || !(yield* isHeld(path))) return Option.none<LiveHolder>()
    const holder = yield* fs.readFileString(path).pipe(Effect.option, Effect.map(Option.flatMap(decodeHolder)))
    return Option.some<LiveHolder>(Option.getOrElse(holder, () => ({})))
  })

/**
 * The lock on Node's filesystem. It brings its own FileSystem: the CLI takes it around the
 * services' composition, and tests use it on its own.
 */
export const layer = (options: LockOptions): Layer.Layer<Lock> =>
  Layer.effect(Lock, make(options)).pipe(Layer.provide(NodeFileSystem.layer))
