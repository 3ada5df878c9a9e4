/**
 * A sweep of the live lock (issue 14 item 5: the live-code mutant `lock-not-exclusive` must be
 * killed by a sweep): every kind of file a previous run or a person can leave at the lock path,
 * times two or three runs racing for the lock. Each case states its own outcome from its setup:
 * with a live holder outside (flock(1) in a process of its own) every run gives up with LockBusy;
 * otherwise every run gets the lock in turn, and at no moment do two runs hold it.
 */
import { describe, expect, it } from "@effect/vitest"
import { type Duration, Effect, Exit } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as LiveLock from "../../src/live/Lock.js"
import { Lock } from "../../src/services/Lock.js"
import * as Figures from "../support/figures.js"

type Left = "nothing" | "empty file" | "dead run's record" | "live pid holding nothing" | "garbage" | "live holder"
const LEFT: ReadonlyArray<Left> = [
  "nothing",
  "empty file",
  "dead run's record",
  "live pid holding nothing",
  "garbage",
  "live holder"
]
const RUNS: ReadonlyArray<number> = [2, 3]

/** A pid that ran and has ended. */
const deadPid = (): number => {
  const r = ChildProcess.spawnSync("sh", ["-c", "echo $$"], { encoding: "utf8" })
  return Number(r.stdout.trim())
}

/** What is at `file` before the runs start; a live holder is ended with the case. */
const leave = (file: string, left: Left) =>
  Effect.gen(function*() {
    Fs.mkdirSync(Path.dirname(file), { recursive: true, mode: 0o700 })
    const record = (pid: number) => JSON.stringify({ pid, startedAt: "2026-11-25T03:00:00.000Z", boot: "x" })
    switch (left) {
      case "nothing":
        return
      case "empty file":
        return Fs.writeFileSync(file, "")
      case "dead run's record":
        return Fs.writeFileSync(file, record(deadPid()))
      case "live pid holding nothing":
        // PID 1 is alive and holds no lock of ours: the pid proves nothing.
        return Fs.writeFileSync(file, record(1))
      case "garbage":
        return Fs.writeFileSync(file, "\u0000not json at all")
      case "live holder": {
        Fs.writeFileSync(file, "")
        yield* Effect.acquireRelease(
          Effect.async<ChildProcess.ChildProcess>((resume) => {
            const holder = ChildProcess.spawn("flock", [file, "sh", "-c", "echo held; exec sleep 30"], {
              detached: true
            })
            holder.stdout.on("data", () => resume(Effect.succeed(holder)))
          }),
          (holder) => Effect.sync(() => process.kill(-holder.pid!, "SIGKILL"))
        )
      }
    }
  })

interface Verdict {
  readonly acquired: number
  readonly busy: number
  /** The most runs that held the lock at one moment. */
  readonly most: number
}

/** `runs` runs racing for the app's lock, each holding it 60 ms and waiting for it up to `wait`. */
const race = (stateDir: string, runs: number, wait: Duration.DurationInput) =>
  Effect.gen(function*() {
    let holding = 0
    let most = 0
    const one = Effect.scoped(Effect.gen(function*() {
      yield* (yield* Lock).acquire("kc", wait)
      holding++
      most = Math.max(most, holding)
      yield* Effect.sleep("60 millis")
      holding--
    })).pipe(Effect.provide(LiveLock.layer({ stateDir, poll: "20 millis" })), Effect.exit)
    const exits = yield* Effect.all(Array.from({ length: runs }, () => one), { concurrency: "unbounded" })
    const busy = exits.filter((e) => Exit.isFailure(e) && JSON.stringify(e.cause).includes("LockBusy")).length
    return { acquired: exits.filter(Exit.isSuccess).length, busy, most } satisfies Verdict
  })

describe("lock sweep: what a run can find at the lock path x runs racing", () => {
  it.scopedLive("every case ends as its setup says, and no two runs ever hold the lock", () =>
    Effect.gen(function*() {
      const failures: Array<string> = []
      let cases = 0
      for (const left of LEFT) {
        for (const runs of RUNS) {
          const verdict = yield* Effect.scoped(Effect.gen(function*() {
            const dir = yield* Effect.acquireRelease(
              Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "warm-lock-sweep-"))),
              (d) => Effect.sync(() => Fs.rmSync(d, { recursive: true, force: true }))
            )
            yield* leave(Path.join(dir, "kc", "lock"), left)
            // Runs that must give up need not wait long; the others wait for one another.
            return yield* race(dir, runs, left === "live holder" ? "400 millis" : "3 seconds")
          }))
          cases++
          const expected: Verdict = left === "live holder"
            ? { acquired: 0, busy: runs, most: 0 }
            : { acquired: runs, busy: 0, most: 1 }
          if (JSON.stringify(verdict) !== JSON.stringify(expected)) {
            failures.push(`${left}, ${runs} runs: ${JSON.stringify(verdict)}, expected ${JSON.stringify(expected)}`)
          }
        }
      }
      console.log(`lock sweep: ${cases} cases, ${cases - failures.length} held`)
      Figures.record("lock-sweep", { cases, held: cases - failures.length })
      expect(failures).toEqual([])
      expect(cases).toBe(LEFT.length * RUNS.length)
    }), 120_000)
})
