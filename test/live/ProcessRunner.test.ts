import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Metric } from "effect"
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { stderrTail } from "../../src/live/ProcessErrors.js"
import { layerNode, processesSpawned } from "../../src/live/ProcessRunner.js"
import { ProcessRunner, STDERR_TAIL_BYTES } from "../../src/services/ProcessRunner.js"

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/process/${name}`, import.meta.url))
const node = process.execPath

interface Echo {
  readonly argv: ReadonlyArray<string>
  readonly cwd: string
  readonly env: Record<string, string>
  readonly stdin: string
}

const echo = (args: ReadonlyArray<string>, options?: Parameters<ProcessRunner["Type"]["run"]>[2]) =>
  Effect.flatMap(ProcessRunner, (runner) => runner.run(node, [fixture("echo.mjs"), ...args], options)).pipe(
    Effect.map((result) => JSON.parse(result.stdout) as Echo)
  )

const tempDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "wr-process-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

/** Running and not a zombie (a zombie has exited but waits for its parent to collect it). */
const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"))
  } catch {
    return false
  }
}

const readPid = (file: string) =>
  Effect.gen(function*() {
    for (let i = 0; i < 200; i++) {
      if (existsSync(file)) return Number(readFileSync(file, "utf8"))
      yield* Effect.sleep("25 millis")
    }
    return yield* Effect.dieMessage(`${file} never appeared`)
  })

/** A killed grandchild is reaped by init a moment after its group is killed. */
const eventuallyGone = (pid: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < 40 && isAlive(pid); i++) yield* Effect.sleep("25 millis")
    return !isAlive(pid)
  })

const spawnedCount = Effect.map(Metric.value(processesSpawned), (state) => state.count)

describe("live ProcessRunner", () => {
  it.live("answers stdout, stderr and exit code 0", () =>
    Effect.gen(function*() {
      const runner = yield* ProcessRunner
      const result = yield* runner.run(node, ["-e", "process.stdout.write('out\\n'); process.stderr.write('err ü')"])
      expect(result).toEqual({ exitCode: 0, stdout: "out\n", stderr: "err ü" })
    }).pipe(Effect.provide(layerNode)))

  it.live("fails with CommandFailed carrying the exit code and the last 20 lines of stderr", () =>
    Effect.gen(function*() {
      const runner = yield* ProcessRunner
      const script = "for (let i = 1; i <= 30; i++) console.error('problem ' + i); process.exit(3)"
      const error = yield* Effect.flip(runner.run(node, ["-e", script]))
      expect(error._tag).toBe("CommandFailed")
      if (error._tag !== "CommandFailed") return
      expect(error.exitCode).toBe(3)
      expect(error.program).toBe(node)
      expect(error.args).toEqual(["-e", script])
      expect(error.stderrTail.split("\n")).toEqual(Array.from({ length: 20 }, (_, i) => `problem ${i + 11}`))
      expect(error.message).toContain("exited with code 3: problem 30")
    }).pipe(Effect.provide(layerNode)))

  it.live("exec answers a non-zero exit code without failing", () =>
    Effect.gen(function*() {
      const runner = yield* ProcessRunner
      const result = yield* runner.exec(node, ["-e", "process.stdout.write('no'); process.exit(1)"])
      expect(result).toEqual({ exitCode: 1, stdout: "no", stderr: "" })
    }).pipe(Effect.provide(layerNode)))

  it.live("a child ended by a signal counts as 128 + the signal number", () =>
    Effect.gen(function*() {
      const runner = yield* ProcessRunner
      const result = yield* runner.exec(node, ["-e", "process.kill(process.pid, 'SIGKILL')"])
      expect(result.exitCode).toBe(128 + 9)
      const error = yield* Effect.flip(runner.run(node, ["-e", "process.kill(process.pid, 'SIGKILL')"]))
      expect(error).toMatchObject({ _tag: "CommandFailed", exitCode: 137 })
    }).pipe(Effect.provide(layerNode)))

  it.live("a missing program is ProgramNotFound naming it", () =>
    Effect.gen(function*() {
      const runner = yield* ProcessRunner
      const program = "warm-reconcile-no-such-program"
      for (const call of [runner.run, runner.exec]) {
        const error = yield* Effect.flip(call(program, ["--version"]))
        expect(error._tag).toBe("ProgramNotFound")
        expect(error.program).toBe(program)
        expect(error.message).toBe(`${program} was not found on PATH: install it or fix PATH`)
      }
    }).pipe(Effect.provide(layerNode)))

  it.scopedLive("a missing working directory is a defect, not ProgramNotFound", () =>
    Effect.gen(function*() {
      const runner = yield* ProcessRunner
      const dir = yield* tempDir
      const exit = yield* Effect.exit(runner.run(node, ["-e", "0"], { cwd: join(dir, "absent") }))
      expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
    }).pipe(Effect.provide(layerNode)))

  it.scopedLive("passes arguments literally: no shell sees them", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const marker = join(dir, "pwned")
      const args = [
        "with space",
        "\"double\" 'single'",
        `$(touch ${marker})`,
        `; touch ${marker}`,
        "`id`",
        "*",
        "$HOME",
        "",
        "line\nbreak",
        "--flag=x"
      ]
      const seen = yield* echo(args)
      expect(seen.argv).toEqual(args)
      expect(existsSync(marker)).toBe(false)
    }).pipe(Effect.provide(layerNode)))

  it.live("env is merged over the inherited environment", () =>
    Effect.gen(function*() {
      const inherited = yield* echo([])
      expect(inherited.env["PATH"]).toBe(process.env["PATH"])
      expect(inherited.env["WR_TEST_VALUE"]).toBeUndefined()

      const seen = yield* echo([], { env: { WR_TEST_VALUE: "a b=c", HOME: "/overridden" } })
      expect(seen.env["WR_TEST_VALUE"]).toBe("a b=c")
      expect(seen.env["HOME"]).toBe("/overridden")
      expect(seen.env["PATH"]).toBe(process.env["PATH"])
    }).pipe(Effect.provide(layerNode)))

  it.scopedLive("runs in the given working directory", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const seen = yield* echo([], { cwd: dir })
      expect(realpathSync(seen.cwd)).toBe(realpathSync(dir))
      expect(realpathSync((yield* echo([])).cwd)).toBe(realpathSync(process.cwd()))
    }).pipe(Effect.provide(layerNode)))

  it.live("feeds stdin, and closes it when none is given", () =>
    Effect.gen(function*() {
      const text = "first line\nzweite Zeile ü\n\u{1F600} last"
      expect((yield* echo([], { stdin: text })).stdin).toBe(text)
      // echo.mjs reads stdin to its end: an open pipe would make this run into its timeout.
      expect((yield* echo([], { timeout: "10 seconds" })).stdin).toBe("")
    }).pipe(Effect.provide(layerNode)))

  it.live("collects 5 MB of stdout intact while 1 MB of stderr comes first", () =>
    Effect.gen(function*() {
      const runner = yield* ProcessRunner
      // stderr is written first and synchronously: reading the two streams one after the other would
      // deadlock once the stderr pipe buffer (64 KiB) is full.
      const script = [
        "process.stderr.write('e'.repeat(1024 * 1024))",
        "let out = ''",
        "for (let i = 0; i < 5 * 1024 * 1024 / 16; i++) out += String(i).padStart(15, '0') + '\\n'",
        "process.stdout.write(out)"
      ].join("; ")
      const result = yield* runner.run(node, ["-e", script], { timeout: "20 seconds" })
      // stderr is kept as its last 64 KiB: all of it was read (no deadlock), the rest dropped.
      expect(result.stderr).toBe("e".repeat(STDERR_TAIL_BYTES))
      expect(result.stdout.length).toBe(5 * 1024 * 1024)
      const lines = result.stdout.split("\n")
      expect(lines.length).toBe(5 * 1024 * 1024 / 16 + 1)
      expect(lines.every((line, i) => i === lines.length - 1 ? line === "" : Number(line) === i)).toBe(true)
    }).pipe(Effect.provide(layerNode)))

  it.scopedLive("a child that ignores SIGTERM is killed at timeout + grace, grandchild included", () =>
    Effect.gen(function*() {
      const runner = yield* ProcessRunner
      const pidFile = join(yield* tempDir, "pid")
      const started = Date.now()
      const error = yield* Effect.flip(
        runner.run(node, [fixture("ignore-term.mjs"), pidFile, "--with-child"], {
          timeout: "3 seconds",
          killGrace: "500 millis"
        })
      )
      const elapsed = Date.now() - started
      expect(error._tag).toBe("CommandTimedOut")
      if (error._tag !== "CommandTimedOut") return
      expect(error.timeoutMillis).toBe(3000)
      expect(error.message).toContain("SIGKILL")
      // Timeout plus grace, and nowhere near the 30-second test limit. The child is a real process
      // whose signals and exit take real time, so these stay wall-clock bounds, generous for load.
      expect(elapsed).toBeGreaterThanOrEqual(3500)
      expect(elapsed).toBeLessThan(10_000)

      const pid = yield* readPid(pidFile)
      const grandchild = yield* readPid(`${pidFile}.child`)
      expect(isAlive(pid)).toBe(false)
      expect(yield* eventuallyGone(grandchild)).toBe(true)
    }).pipe(Effect.provide(layerNode)))

  it.scopedLive("a child that stops on SIGTERM is not kept waiting for the grace period", () =>
    Effect.gen(function*() {
      const runner = yield* ProcessRunner
      const pidFile = join(yield* tempDir, "pid")
      const started = Date.now()
      const error = yield* Effect.flip(
        runner.run(node, [fixture("loop.mjs"), pidFile], { timeout: "1 second", killGrace: "20 seconds" })
      )
      expect(error._tag).toBe("CommandTimedOut")
      expect(error.message).toContain("stopped with SIGTERM")
      // A real process (wall clock, generous): far below the 20-second grace.
      expect(Date.now() - started).toBeLessThan(6000)
      expect(isAlive(yield* readPid(pidFile))).toBe(false)
      expect(readFileSync(`${pidFile}.signal`, "utf8")).toBe("SIGTERM")
    }).pipe(Effect.provide(layerNode)))

  it.scopedLive("interrupting the caller kills a child that ignores SIGTERM", () =>
    Effect.gen(function*() {
      const runner = yield* ProcessRunner
      const pidFile = join(yield* tempDir, "pid")
      const fiber = yield* Effect.fork(
        runner.run(node, [fixture("ignore-term.mjs"), pidFile, "--with-child"], {
          timeout: "1 minute",
          killGrace: "300 millis"
        })
      )
      const pid = yield* readPid(pidFile)
      const grandchild = yield* readPid(`${pidFile}.child`)
      expect(isAlive(pid)).toBe(true)

      const started = Date.now()
      const exit = yield* Fiber.interrupt(fiber)
      expect(Exit.isInterrupted(exit)).toBe(true)
      // A real process (wall clock, generous): the grace was waited, and not much more.
      expect(Date.now() - started).toBeGreaterThanOrEqual(250)
      expect(Date.now() - started).toBeLessThan(5000)
      expect(isAlive(pid)).toBe(false)
      expect(yield* eventuallyGone(grandchild)).toBe(true)
    }).pipe(Effect.provide(layerNode)))

  it.scopedLive("interrupting the caller sends SIGTERM first", () =>
    Effect.gen(function*() {
      const runner = yield* ProcessRunner
      const pidFile = join(yield* tempDir, "pid")
      const fiber = yield* Effect.fork(runner.run(node, [fixture("loop.mjs"), pidFile], { killGrace: "20 seconds" }))
      const pid = yield* readPid(pidFile)
      const started = Date.now()
      yield* Fiber.interrupt(fiber)
      // Well under the 20-second grace: the child went on SIGTERM.
      expect(Date.now() - started).toBeLessThan(5000)
      expect(isAlive(pid)).toBe(false)
      expect(readFileSync(`${pidFile}.signal`, "utf8")).toBe("SIGTERM")
    }).pipe(Effect.provide(layerNode)))

  it.live("counts every spawned process", () =>
    Effect.gen(function*() {
      const runner = yield* ProcessRunner
      const before = yield* spawnedCount
      yield* runner.run(node, ["-e", "0"])
      yield* runner.exec(node, ["-e", "process.exit(2)"])
      yield* Effect.flip(runner.run("warm-reconcile-no-such-program", []))
      expect((yield* spawnedCount) - before).toBe(2)
    }).pipe(Effect.provide(layerNode)))
})

describe("stderrTail", () => {
  it("keeps the last 20 lines without the trailing newline", () => {
    const text = Array.from({ length: 25 }, (_, i) => `line ${i}`).join("\r\n") + "\r\n"
    expect(stderrTail(text)).toBe(Array.from({ length: 20 }, (_, i) => `line ${i + 5}`).join("\n"))
  })

  it("keeps at most the last 2 KiB", () => {
    const text = "a".repeat(3000) + "\n" + "b".repeat(3000)
    expect(stderrTail(text)).toBe("b".repeat(2048))
  })

  it("answers a short stderr whole", () => {
    expect(stderrTail("fatal: no such app\n")).toBe("fatal: no such app")
    expect(stderrTail("")).toBe("")
  })
})
