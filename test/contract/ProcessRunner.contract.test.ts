/**
 * ProcessRunner, live (real node processes) and in memory (the programs of a simulated machine):
 * output and exit code, CommandFailed with the stderr tail, exec answering any exit code,
 * ProgramNotFound, and CommandTimedOut after a short time limit.
 */
import { expect } from "@effect/vitest"
import { Context, Effect } from "effect"
import * as LiveProcessRunner from "../../src/live/ProcessRunner.js"
import { ProcessRunner, STDERR_TAIL_BYTES } from "../../src/services/ProcessRunner.js"
import * as SimulatedProcessRunner from "../../src/simulation/ProcessRunner.js"
import * as Contract from "./harness.js"

/** A program and its arguments, as this world starts it. */
interface Invocation {
  readonly program: string
  readonly args: ReadonlyArray<string>
}

interface ProcessWorld {
  readonly runner: ProcessRunner["Type"]
  /** Writes `out:<stdin>` to stdout and `err` to stderr, exits 0. */
  readonly echo: Invocation
  /** Writes `problem 1` .. `problem 30` to stderr, exits 3. */
  readonly failing: Invocation
  /** Runs until it is stopped. */
  readonly endless: Invocation
  /** Writes 1 MiB of `a` to stdout and 1 MiB of `b` then `END` to stderr, exits 0. */
  readonly flood: Invocation
}

const PROBLEMS = Array.from({ length: 30 }, (_, i) => `problem ${i + 1}`)
const node = process.execPath

const liveTwin = Contract.live<ProcessWorld>(
  Effect.map(Contract.layerContext(LiveProcessRunner.layerNode), (context) => ({
    runner: Context.get(context, ProcessRunner),
    echo: {
      program: node,
      args: ["-e", "process.stdout.write('out:' + require('fs').readFileSync(0, 'utf8')); console.error('err')"]
    },
    failing: {
      program: node,
      args: ["-e", "for (let i = 1; i <= 30; i++) console.error('problem ' + i); process.exit(3)"]
    },
    endless: { program: node, args: ["-e", "setInterval(() => {}, 1000)"] },
    flood: {
      program: node,
      args: ["-e", "process.stdout.write('a'.repeat(1 << 20)); process.stderr.write('b'.repeat(1 << 20) + 'END')"]
    }
  }))
)

const simulatedTwin = Contract.simulated<ProcessWorld>(Effect.map(
  Contract.layerContext(SimulatedProcessRunner.layerTest({
    echo: (_, options) => Effect.succeed({ exitCode: 0, stdout: `out:${options.stdin ?? ""}`, stderr: "err\n" }),
    failing: () => Effect.succeed({ exitCode: 3, stdout: "", stderr: PROBLEMS.map((l) => `${l}\n`).join("") }),
    endless: () => Effect.never,
    flood: () => Effect.succeed({ exitCode: 0, stdout: "a".repeat(1 << 20), stderr: "b".repeat(1 << 20) + "END" })
  })),
  (context) => ({
    runner: Context.get(context, ProcessRunner),
    echo: { program: "echo", args: [] },
    failing: { program: "failing", args: ["--now"] },
    endless: { program: "endless", args: [] },
    flood: { program: "flood", args: [] }
  })
))

Contract.suite("ProcessRunner", [liveTwin, simulatedTwin], (test) => {
  test("run answers stdout, stderr and exit code 0, with stdin given", (w) =>
    Effect.gen(function*() {
      const { args, program } = w.echo
      expect(yield* w.runner.run(program, args, { stdin: "hello" })).toEqual({
        exitCode: 0,
        stdout: "out:hello",
        stderr: "err\n"
      })
    }))

  test("stdout is kept up to maxStdout bytes (its first ones), stderr up to its last 64 KiB", (w) =>
    Effect.gen(function*() {
      const { args, program } = w.flood
      const result = yield* w.runner.run(program, args, { maxStdout: 1000 })
      expect(result.stdout).toBe("a".repeat(1000))
      expect(result.stderr.length).toBe(STDERR_TAIL_BYTES)
      expect(result.stderr.endsWith("bEND")).toBe(true)
    }))

  test("run of a non-zero exit is CommandFailed with the exit code and the last 20 lines of stderr", (w) =>
    Effect.gen(function*() {
      const { args, program } = w.failing
      const error = yield* Contract.failureOf(w.runner.run(program, args))
      expect(error).toMatchObject({ _tag: "CommandFailed", program, args, exitCode: 3 })
      if (error._tag !== "CommandFailed") return
      expect(error.stderrTail.split("\n")).toEqual(PROBLEMS.slice(10))
      expect(error.message).toContain("exited with code 3: problem 30")
    }))

  test("exec answers a non-zero exit code with all of its output", (w) =>
    Effect.gen(function*() {
      const { args, program } = w.failing
      const result = yield* w.runner.exec(program, args)
      expect(result).toEqual({ exitCode: 3, stdout: "", stderr: PROBLEMS.map((l) => `${l}\n`).join("") })
    }))

  test("a program that is not there is ProgramNotFound, for run and exec", (w) =>
    Effect.gen(function*() {
      for (const call of [w.runner.run, w.runner.exec]) {
        const error = yield* Contract.failureOf(call("no-such-program-anywhere", ["--version"]))
        expect(error).toMatchObject({ _tag: "ProgramNotFound", program: "no-such-program-anywhere" })
        expect(error.message).toContain("no-such-program-anywhere was not found on PATH")
      }
    }))

  test("a program past its time limit is stopped: CommandTimedOut, for run and exec", (w) =>
    Effect.gen(function*() {
      const { args, program } = w.endless
      for (const call of [w.runner.run, w.runner.exec]) {
        const error = yield* Contract.failureOf(call(program, args, { timeout: "300 millis", killGrace: "1 second" }))
        expect(error).toMatchObject({ _tag: "CommandTimedOut", program, args, timeoutMillis: 300 })
        expect(error.message).toContain("did not finish within 300ms")
      }
    }))
})
