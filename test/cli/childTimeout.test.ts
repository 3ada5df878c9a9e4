/** The CLI test helper never leaves a hung child behind: past its timeout the child is killed and the test fails. */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Fiber } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { runChild } from "../support/cli.js"

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** A node child that never ends. */
const HANG = ["-e", "setInterval(() => {}, 1000)"]

describe("the CLI test helper", () => {
  it.live("kills a child that outlives its timeout, by its pid, and fails", () =>
    Effect.gen(function*() {
      const started = Date.now()
      const result = yield* Effect.either(runChild(process.execPath, HANG, { timeout: "1 second" }))
      expect(Either.isLeft(result)).toBe(true)
      if (Either.isRight(result)) return
      const error = result.left
      expect(error._tag).toBe("ChildTimedOut")
      expect(error.message).toMatch(/outlived its 1s timeout: killed pid \d+/)
      const pid = Number(/killed pid (\d+)/.exec(error.message)![1])
      expect(alive(pid)).toBe(false)
      // Real processes: a generous bound, only to show it did not wait for vitest's own timeout.
      expect(Date.now() - started).toBeLessThan(15_000)
    }))

  it.live("kills the child when the test is interrupted", () =>
    Effect.gen(function*() {
      const pidFile = Path.join(Fs.mkdtempSync(Path.join(Os.tmpdir(), "warm-reconcile-child-")), "pid")
      const fiber = yield* Effect.fork(
        runChild(process.execPath, [
          "-e",
          `require("node:fs").writeFileSync(${
            JSON.stringify(pidFile)
          }, String(process.pid)); setInterval(() => {}, 1000)`
        ], { timeout: "60 seconds" })
      )
      yield* Effect.sleep("50 millis").pipe(Effect.repeat({ until: () => Fs.existsSync(pidFile), times: 200 }))
      const pid = Number(Fs.readFileSync(pidFile, "utf8"))
      expect(alive(pid)).toBe(true)
      yield* Fiber.interrupt(fiber)
      yield* Effect.sleep("50 millis").pipe(Effect.repeat({ until: () => !alive(pid), times: 100 }))
      expect(alive(pid)).toBe(false)
      Fs.rmSync(Path.dirname(pidFile), { recursive: true, force: true })
    }))

  it.live("a child that ends in time gives its exit code and output", () =>
    Effect.gen(function*() {
      const r = yield* runChild(process.execPath, ["-e", "console.log('out'); console.error('err'); process.exit(3)"])
      expect(r).toEqual({ code: 3, stdout: "out\n", stderr: "err\n" })
    }))
})
