import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, Exit, Fiber } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as LiveLock from "../../src/live/Lock.js"
import { Lock } from "../../src/services/Lock.js"
import { settles } from "../support/virtualTime.js"

const tempState = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "warm-lock-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

/** A process of its own holding the lock file with flock(1), until the test's scope ends. */
const holdWithFlock = (file: string) =>
  Effect.acquireRelease(
    Effect.async<ChildProcess.ChildProcess>((resume) => {
      // A group of its own, ended whole: the sleep inherits the locked descriptor.
      const holder = ChildProcess.spawn("flock", [file, "sh", "-c", "echo held; exec sleep 30"], { detached: true })
      holder.stdout.on("data", () => resume(Effect.succeed(holder)))
    }),
    (holder) => Effect.sync(() => process.kill(-holder.pid!, "SIGKILL"))
  )

const withLock = <A, E>(stateDir: string, effect: Effect.Effect<A, E, Lock>) =>
  effect.pipe(Effect.provide(LiveLock.layer({ stateDir, poll: "50 millis" })))

describe("the per-app lock", () => {
  it.scopedLive("a second run waits, then gives up with LockBusy; after the first ends it gets the lock", () =>
    Effect.gen(function*() {
      const dir = yield* tempState
      const release = yield* Effect.makeLatch(false)
      const first = yield* Effect.fork(withLock(
        dir,
        Effect.scoped(Effect.gen(function*() {
          yield* (yield* Lock).acquire("kc", "1 second")
          yield* release.await
        }))
      ))
      // The holder writes who it is once it holds the lock (the text is for messages only).
      const written = () =>
        Fs.existsSync(Path.join(dir, "kc", "lock")) && Fs.statSync(Path.join(dir, "kc", "lock")).size > 0
      while (!written()) yield* Effect.sleep("10 millis")
      const holder = JSON.parse(Fs.readFileSync(Path.join(dir, "kc", "lock"), "utf8"))
      expect(holder).toMatchObject({ pid: process.pid })

      const busy = yield* withLock(dir, Effect.scoped(Effect.flatMap(Lock, (l) => l.acquire("kc", "300 millis")))).pipe(
        Effect.exit
      )
      expect(Exit.isFailure(busy) && JSON.stringify(busy.cause)).toContain("LockBusy")
      // Another app is not blocked.
      yield* withLock(dir, Effect.scoped(Effect.flatMap(Lock, (l) => l.acquire("other", "100 millis"))))

      yield* release.open
      yield* Fiber.join(first)
      // The file stays (its inode is what is locked), unlocked: flock(1) takes it at once.
      expect(ChildProcess.spawnSync("flock", ["--nonblock", Path.join(dir, "kc", "lock"), "true"]).status).toBe(0)
      yield* withLock(dir, Effect.scoped(Effect.flatMap(Lock, (l) => l.acquire("kc", "100 millis"))))
    }))

  // On the TestClock: "at once" is "without ever waiting on the clock" (no poll), not a wall-clock bound.
  it.scoped("a lock whose process is gone is taken over at once", () =>
    Effect.gen(function*() {
      const dir = yield* tempState
      const child = ChildProcess.spawnSync("true")
      expect(child.status).toBe(0)
      const deadPid = child.pid!
      Fs.mkdirSync(Path.join(dir, "kc"), { recursive: true })
      Fs.writeFileSync(Path.join(dir, "kc", "lock"), JSON.stringify({ pid: deadPid, since: "earlier" }))
      const taking = yield* Effect.fork(
        withLock(dir, Effect.scoped(Effect.flatMap(Lock, (l) => l.acquire("kc", "5 seconds"))))
      )
      expect(yield* settles(taking)).toBe("ended")
      expect(Exit.isSuccess(yield* Fiber.await(taking))).toBe(true)
      expect(yield* Clock.currentTimeMillis).toBe(0)
    }))

  it.scopedLive("a lock file naming a live process that holds no lock (a reused pid, a file from before a reboot) is taken", () =>
    Effect.gen(function*() {
      const dir = yield* tempState
      Fs.mkdirSync(Path.join(dir, "kc"), { recursive: true })
      // pid 1 is alive, but holds no lock on the file: only the kernel's lock counts.
      Fs.writeFileSync(Path.join(dir, "kc", "lock"), JSON.stringify({ pid: 1, bootId: "an-earlier-boot", since: "x" }))
      yield* withLock(dir, Effect.scoped(Effect.flatMap(Lock, (l) => l.acquire("kc", "100 millis"))))
    }))

  it.scopedLive("a lock held by another live process is waited on, not stolen", () =>
    Effect.gen(function*() {
      const dir = yield* tempState
      Fs.mkdirSync(Path.join(dir, "kc"), { recursive: true })
      const lockFile = Path.join(dir, "kc", "lock")
      const sleeper = yield* holdWithFlock(lockFile)
      Fs.writeFileSync(lockFile, JSON.stringify({ pid: sleeper.pid, since: "now" }))
      const r = yield* withLock(dir, Effect.scoped(Effect.flatMap(Lock, (l) => l.acquire("kc", "200 millis")))).pipe(
        Effect.flip
      )
      expect(r._tag).toBe("LockBusy")
      expect(r.message).toContain(`pid ${sleeper.pid}`)
      expect(JSON.parse(Fs.readFileSync(lockFile, "utf8")).pid).toBe(sleeper.pid)
    }))

  it.scopedLive("runs racing for the lock: never two holders at once", () =>
    Effect.gen(function*() {
      const dir = yield* tempState
      const lockFile = Path.join(dir, "kc", "lock")
      const child = ChildProcess.spawnSync("true")
      let holders = 0
      let most = 0
      let turns = 0
      // Each run is its own layer, as separate processes would be; all of them start on a lock file
      // left by a dead run.
      const run = Effect.scoped(Effect.gen(function*() {
        yield* (yield* Lock).acquire("kc", "60 seconds")
        holders++
        most = Math.max(most, holders)
        turns++
        yield* Effect.sleep("5 millis")
        holders--
      })).pipe(Effect.provide(LiveLock.layer({ stateDir: dir, poll: "10 millis" })))
      for (let round = 0; round < 5; round++) {
        Fs.mkdirSync(Path.join(dir, "kc"), { recursive: true })
        Fs.writeFileSync(lockFile, JSON.stringify({ pid: child.pid, since: "earlier" }))
        yield* Effect.all(Array.from({ length: 6 }, () => run), { concurrency: "unbounded" })
      }
      expect(most).toBe(1)
      expect(turns).toBe(5 * 6)
      expect(Fs.readdirSync(Path.join(dir, "kc"))).toEqual(["lock"])
    }))

  it.scopedLive("a holder killed with SIGKILL lets go at once: the kernel drops its lock", () =>
    Effect.gen(function*() {
      const dir = yield* tempState
      // Another process takes the lock through the live layer, then dies without any cleanup.
      const script = [
        "import { Effect } from 'effect'",
        `import * as LiveLock from '${Path.resolve("src/live/Lock.ts")}'`,
        "import { Lock } from '" + Path.resolve("src/services/Lock.ts") + "'",
        `await Effect.runPromise(Effect.scoped(Effect.flatMap(Lock, (l) => l.acquire('kc', 0)).pipe(`,
        `  Effect.zipRight(Effect.sync(() => console.log('held'))), Effect.zipRight(Effect.never),`,
        `  Effect.provide(LiveLock.layer({ stateDir: ${JSON.stringify(dir)} })))))`
      ].join("\n")
      const other = ChildProcess.spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
        stdio: ["ignore", "pipe", "inherit"]
      })
      yield* Effect.addFinalizer(() => Effect.sync(() => other.kill("SIGKILL")))
      yield* Effect.async<void>((resume) => {
        other.stdout.on("data", (d: Buffer) => d.toString().includes("held") && resume(Effect.void))
      })
      const busy = yield* withLock(dir, Effect.scoped(Effect.flatMap(Lock, (l) => l.acquire("kc", 0)))).pipe(
        Effect.flip
      )
      expect(busy._tag).toBe("LockBusy")
      expect(busy.message).toContain(`pid ${other.pid}`)
      other.kill("SIGKILL")
      yield* withLock(dir, Effect.scoped(Effect.flatMap(Lock, (l) => l.acquire("kc", "5 seconds"))))
    }))

  it.scopedLive("refuses a state directory or an app directory that is a symlink, and writes nothing through it", () =>
    Effect.gen(function*() {
      const dir = yield* tempState
      const elsewhere = Path.join(dir, "elsewhere")
      Fs.mkdirSync(elsewhere)
      Fs.symlinkSync(elsewhere, Path.join(dir, "linked"))
      const viaState = yield* withLock(
        Path.join(dir, "linked"),
        Effect.scoped(Effect.flatMap(Lock, (l) => l.acquire("kc", "100 millis")))
      ).pipe(Effect.exit)
      expect(JSON.stringify(viaState)).toContain("is a symbolic link")
      const state = Path.join(dir, "state")
      Fs.mkdirSync(state)
      Fs.symlinkSync(elsewhere, Path.join(state, "kc"))
      const viaApp = yield* withLock(state, Effect.scoped(Effect.flatMap(Lock, (l) => l.acquire("kc", "100 millis"))))
        .pipe(Effect.exit)
      expect(JSON.stringify(viaApp)).toContain("is a symbolic link")
      expect(Fs.readdirSync(elsewhere)).toEqual([])
    }))
})
