#!/usr/bin/env node
/** The entry point systemd and operators run. */
import { ValidationError } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Cause, Effect, Exit, Option } from "effect"
import { run } from "./cli/Cli.js"

// A second SIGTERM must not kill a rollback halfway: runMain handles the first signal (it
// interrupts the program, whose finalizers then roll back) and then drops its listener, so keep
// one of our own that only remembers which signal came.
let signal: "SIGINT" | "SIGTERM" | undefined
for (const name of ["SIGINT", "SIGTERM"] as const) {
  process.on(name, () => {
    if (signal !== undefined) process.stderr.write(`${name} again: still finishing the rollback, please wait\n`)
    signal ??= name
  })
}

/**
 * Exit codes: 0 healthy, 1 unhealthy or failed, 2 bad usage or config, 130/143 interrupted by
 * SIGINT/SIGTERM (any rollback has finished first).
 */
const teardown = <E, A>(exit: Exit.Exit<E, A>, onExit: (code: number) => void) => {
  // process.exit() would cut output still queued for a pipe (a large --json result): unless a
  // signal asked us to stop, set the code and let node exit once stdout has drained.
  const done = (code: number) => {
    if (signal) return onExit(code)
    process.exitCode = code
  }
  if (Exit.isSuccess(exit)) return done(signal ? 128 + (signal === "SIGINT" ? 2 : 15) : Number(process.exitCode ?? 0))
  if (Cause.isInterruptedOnly(exit.cause)) return onExit(signal === "SIGINT" ? 130 : 143)
  const failure = Cause.failureOption(exit.cause)
  const usage = Option.exists(failure, (e) => ValidationError.isValidationError(e))
  if (!usage && Option.isSome(failure)) {
    const e = failure.value
    process.stderr.write(
      `warm-reconcile: ${
        e instanceof Error || (typeof e === "object" && e !== null && "message" in e)
          ? String((e as { message: unknown }).message)
          : String(e)
      }\n`
    )
  } else if (Option.isNone(failure)) {
    process.stderr.write(`warm-reconcile: internal error: ${Cause.pretty(exit.cause)}\n`)
  }
  const badInput = Option.exists(
    failure,
    (e) => ["UnknownScenario", "ConfigError", "UsageError"].includes((e as { _tag?: string })._tag ?? "")
  )
  done(usage || badInput ? 2 : 1)
}

run(process.argv).pipe(
  Effect.provide(NodeContext.layer),
  NodeRuntime.runMain({ teardown, disableErrorReporting: true, disablePrettyLogger: true })
)
