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

const bootId = Fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim()

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
      while (!Fs.existsSync(Path.join(dir, "kc", "lock"))) yield* Effect.sleep("10 millis")
      const holder = JSON.parse(Fs.readFileSync(Path.join(dir, "kc", "lock"), "utf8"))
      expect(holder).toMatchObject({ pid: process.pid, bootId })

      const busy = yield* withLock(dir, Effect.scoped(Effect.flatMap(Lock, (l) => l.acquire("kc", "300 millis")))).pipe(
        Effect.exit
      )
      expect(Exit.isFailure(busy) && JSON.stringify(busy.cause)).toContain("LockBusy")
      // Another app is not blocked.
      yield* withLock(dir, Effect.scoped(Effect.flatMap(Lock, (l) => l.acquire("other", "100 millis"))))

      yield* release.open
      yield* Fiber.join(first)
      expect(Fs.existsSync(Path.join(dir, "kc", "lock"))).toBe(false)
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
      Fs.writeFileSync(Path.join(dir, "kc", "lock"), JSON.stringify({ pid: deadPid, bootId, since: "earlier" }))
      const taking = yield* Effect.fork(
        withLock(dir, Effect.scoped(Effect.flatMap(Lock, (l) => l.acquire("kc", "5 seconds"))))
      )
      expect(yield* settles(taking)).toBe("ended")
      expect(Exit.isSuccess(yield* Fiber.await(taking))).toBe(true)
      expect(yield* Clock.currentTimeMillis).toBe(0)
    }))

  it.scopedLive("a lock from before the last reboot is taken over, even if its pid is alive now", () =>
    Effect.gen(function*() {
      const dir = yield* tempState
      Fs.mkdirSync(Path.join(dir, "kc"), { recursive: true })
      // pid 1 is alive, but the lock names another boot.
      Fs.writeFileSync(Path.join(dir, "kc", "lock"), JSON.stringify({ pid: 1, bootId: "an-earlier-boot", since: "x" }))
      yield* withLock(dir, Effect.scoped(Effect.flatMap(Lock, (l) => l.acquire("kc", "100 millis"))))
    }))

  it.scopedLive("a lock held by another live process of this boot is waited on, not stolen", () =>
    Effect.gen(function*() {
      const dir = yield* tempState
      const sleeper = ChildProcess.spawn("sleep", ["30"])
      yield* Effect.addFinalizer(() => Effect.sync(() => sleeper.kill("SIGKILL")))
      Fs.mkdirSync(Path.join(dir, "kc"), { recursive: true })
      const lockFile = Path.join(dir, "kc", "lock")
      Fs.writeFileSync(lockFile, JSON.stringify({ pid: sleeper.pid, bootId, since: "now" }))
      const r = yield* withLock(dir, Effect.scoped(Effect.flatMap(Lock, (l) => l.acquire("kc", "200 millis")))).pipe(
        Effect.flip
      )
      expect(r._tag).toBe("LockBusy")
      expect(r.message).toContain(`pid ${sleeper.pid}`)
      expect(JSON.parse(Fs.readFileSync(lockFile, "utf8")).pid).toBe(sleeper.pid)
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
