/**
 * Live ProcessRunner on @effect/platform's Command: an argument array, never a shell.
 *
 * The platform executor starts each child as the leader of its own process group and, when the
 * scope closes, sends SIGTERM to the group and then waits for the exit with no time limit. This
 * layer adds what it lacks: a per-call timeout and, on timeout or interruption, SIGTERM to the group,
 * a grace period, then SIGKILL, so that a child that ignores SIGTERM cannot hang the reconciler.
 */
import { NodeCommandExecutor, NodeFileSystem } from "@effect/platform-node"
import * as Command from "@effect/platform/Command"
import * as CommandExecutor from "@effect/platform/CommandExecutor"
import type { PlatformError } from "@effect/platform/Error"
import { Duration, Effect, Layer, Metric, Option, Stream } from "effect"
import type { Scope } from "effect"
import { constants } from "node:os"
import type { RunOptions, RunResult } from "../services/ProcessRunner.js"
import {
  CommandTimedOut,
  DEFAULT_MAX_STDOUT,
  ProcessRunner,
  type ProgramNotFound,
  STDERR_TAIL_BYTES
} from "../services/ProcessRunner.js"
import { commandFailed, display, startFailure } from "./ProcessErrors.js"

const defaultTimeout = Duration.minutes(2)
const defaultKillGrace = Duration.seconds(5)
/** How long to wait for the exit after SIGKILL; only a process stuck in the kernel takes longer. */
const afterKillWait = Duration.seconds(5)

/** Every child process started through this layer (benchmarks read it). */
export const processesSpawned = Metric.counter("warm_reconcile_processes_spawned", {
  description: "child processes started by the ProcessRunner",
  incremental: true
})

/**
 * A child's output as text, keeping at most `max` bytes (its first or its last ones); the rest is
 * read and dropped, so the child never blocks on a full pipe and never fills our memory.
 */
const collectText = (
  stream: Stream.Stream<Uint8Array, PlatformError>,
  max: number,
  keep: "head" | "tail"
): Effect.Effect<string, PlatformError> =>
  Stream.runFold(stream, { chunks: [] as Array<Uint8Array>, size: 0 }, (acc, chunk) => {
    if (keep === "head") {
      if (acc.size < max) acc.chunks.push(chunk.subarray(0, max - acc.size))
      acc.size = Math.min(max, acc.size + chunk.length)
      return acc
    }
    acc.chunks.push(chunk)
    acc.size += chunk.length
    while (acc.chunks.length > 1 && acc.size - acc.chunks[0]!.length >= max) acc.size -= acc.chunks.shift()!.length
    return acc
  }).pipe(
    // Decode once at the end: a multi-byte character may span two chunks.
    Effect.map(({ chunks }) => {
      const all = Buffer.concat(chunks)
      return (keep === "tail" ? all.subarray(Math.max(0, all.length - max)) : all).toString("utf8")
    })
  )

/** The exit code, or 128 + the signal number when a signal ended the process (the shell's convention). */
const exitStatus = (child: CommandExecutor.Process): Effect.Effect<number, PlatformError> =>
  child.exitCode.pipe(
    Effect.map(Number),
    Effect.catchIf(
      (error) => error._tag === "SystemError" && error.method === "exitCode",
      (error) => {
        const signal = /\b(SIG[A-Z0-9]+)\b/.exec(error.description ?? "")?.[1]
        const number = signal === undefined ? undefined : constants.signals[signal as NodeJS.Signals]
        return number === undefined ? Effect.fail(error) : Effect.succeed(128 + number)
      }
    )
  )

/**
 * SIGTERM to the child's process group, up to `grace` for the child to exit, then SIGKILL to whatever
 * is left of the group (grandchildren included). Answers the signal that ended the child.
 */
const terminate = (
  child: CommandExecutor.Process,
  grace: Duration.Duration
): Effect.Effect<"SIGTERM" | "SIGKILL"> =>
  Effect.gen(function*() {
    // `kill` waits for the exit with no limit; the race needs it interruptible even inside a finalizer.
    const exitedOnTerm = yield* Effect.interruptible(child.kill("SIGTERM")).pipe(
      Effect.timeout(grace),
      Effect.as(true),
      // A failed kill means there was no process left to signal.
      Effect.catchAll((error) => Effect.succeed(error._tag !== "TimeoutException"))
    )
    yield* Effect.interruptible(child.kill("SIGKILL")).pipe(
      Effect.timeout(afterKillWait),
      Effect.catchTag(
        "TimeoutException",
        () => Effect.logWarning(`process ${child.pid} did not exit ${Duration.format(afterKillWait)} after SIGKILL`)
      ),
      Effect.ignore
    )
    return exitedOnTerm ? "SIGTERM" : "SIGKILL"
  })

export const make = Effect.gen(function*() {
  const executor = yield* CommandExecutor.CommandExecutor

  const execute = (
    program: string,
    args: ReadonlyArray<string>,
    options: RunOptions
  ): Effect.Effect<RunResult, ProgramNotFound | CommandTimedOut, Scope.Scope> =>
    Effect.gen(function*() {
      const timeout = Duration.decode(options.timeout ?? defaultTimeout)
      const grace = Duration.decode(options.killGrace ?? defaultKillGrace)

      let command = Command.make(program, ...args)
      if (options.cwd !== undefined) command = Command.workingDirectory(command, options.cwd)
      // Command.env extends the inherited environment (extendEnv defaults to true).
      if (options.env !== undefined) command = Command.env(command, options.env)

      const child = yield* executor.start(command).pipe(Effect.catchAll(startFailure(program, options.cwd)))
      yield* Metric.increment(processesSpawned)

      let settled = false
      // Runs before the executor's own finalizer, which would otherwise wait forever on a stubborn child.
      yield* Effect.addFinalizer(() => settled ? Effect.void : Effect.asVoid(terminate(child, grace)))

      // Always end stdin, so that a child reading it sees EOF instead of waiting for its timeout.
      // A child that exits without reading it makes the write fail (EPIPE): that is no error of ours.
      yield* Stream.run(Stream.succeed(new TextEncoder().encode(options.stdin ?? "")), child.stdin).pipe(
        Effect.ignore,
        Effect.forkScoped
      )

      // All three together: a child blocked writing a full stdout pipe never exits on its own.
      const outcome = yield* Effect.all([
        collectText(child.stdout, options.maxStdout ?? DEFAULT_MAX_STDOUT, "head"),
        collectText(child.stderr, STDERR_TAIL_BYTES, "tail"),
        exitStatus(child)
      ], {
        concurrency: "unbounded"
      }).pipe(Effect.orDie, Effect.timeoutOption(timeout))

      if (Option.isNone(outcome)) {
        const signal = yield* terminate(child, grace)
        settled = true
        return yield* new CommandTimedOut({
          program,
          args,
          timeoutMillis: Duration.toMillis(timeout),
          message: `${display(program, args)} did not finish within ${Duration.format(timeout)} and was stopped with ${
            signal === "SIGTERM" ? "SIGTERM" : `SIGKILL (it ignored SIGTERM for ${Duration.format(grace)})`
          }: find out why it hangs or raise its timeout`
        })
      }
      settled = true
      const [stdout, stderr, exitCode] = outcome.value
      return { exitCode, stdout, stderr }
    })

  const exec = Effect.fn("ProcessRunner.exec")(function*(
    program: string,
    args: ReadonlyArray<string>,
    options?: RunOptions
  ) {
    // Only the program: arguments may carry secrets (abra app secret insert).
    yield* Effect.annotateCurrentSpan("program", program)
    return yield* Effect.scoped(execute(program, args, options ?? {}))
  })

  const run = Effect.fn("ProcessRunner.run")(function*(
    program: string,
    args: ReadonlyArray<string>,
    options?: RunOptions
  ) {
    const result = yield* exec(program, args, options)
    if (result.exitCode !== 0) return yield* commandFailed(program, args, result.exitCode, result.stderr)
    return result
  })

  return ProcessRunner.of({ run, exec })
})

export const layer: Layer.Layer<ProcessRunner, never, CommandExecutor.CommandExecutor> = Layer.effect(
  ProcessRunner,
  make
)

/** {@link layer} on Node's child_process. */
export const layerNode: Layer.Layer<ProcessRunner> = layer.pipe(
  Layer.provide(NodeCommandExecutor.layer),
  Layer.provide(NodeFileSystem.layer)
)
