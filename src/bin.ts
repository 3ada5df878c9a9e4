#!/usr/bin/env node
/** The entry point systemd and operators run. */
import { ValidationError } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Cause, Effect, Exit, Option } from "effect"
import { run } from "./cli/Cli.js"
import { exitCode, Interrupted } from "./cli/ExitCode.js"
import { ended } from "./cli/Output.js"
import { permissionProblem } from "./cli/Permission.js"

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

// The commands print through SafeConsole, @effect/cli's help through HelpConsole (cli/Cli.ts).
const program = run(process.argv).pipe(Effect.provide(NodeContext.layer))

/** Exit codes: README "Exit codes", from `exitCode` over what the command ended with. */
const teardown = <E, A>(exit: Exit.Exit<A, E>, onExit: (code: number) => void) => {
  // process.exit() would cut output still queued for a pipe (a large --json result): unless a
  // signal asked us to stop, set the code and let node exit once stdout has drained.
  const done = (code: number) => {
    if (signal) return onExit(code)
    process.exitCode = code
  }
  // Read at the end: an app left down by the interrupted run makes it exit 1.
  const interrupted = exitCode(new Interrupted({ signal, outcomes: ended() }))
  if (Exit.isSuccess(exit)) return done(signal ? interrupted : Number(process.exitCode ?? 0))
  if (Cause.isInterruptedOnly(exit.cause)) return onExit(interrupted)
  // runMain's teardown is generic; what fails here is what `program` fails with.
  const failure = Cause.failureOption(exit.cause as Cause.Cause<Effect.Effect.Error<typeof program>>)
  if (Option.isNone(failure)) {
    process.stderr.write(`warm-reconcile: internal error: ${Cause.pretty(exit.cause)}\n`)
    return done(1)
  }
  const e = failure.value
  // @effect/cli has already shown a usage error with the help.
  if (ValidationError.isValidationError(e)) return done(exitCode(e))
  // Not allowed to read or write something: a setup problem (exit 1), whatever the error's kind.
  const denied = permissionProblem(e.message)
  process.stderr.write(`warm-reconcile: ${Option.getOrElse(denied, () => e.message)}\n`)
  done(Option.isSome(denied) ? 1 : exitCode(e))
}

program.pipe(
  NodeRuntime.runMain({ teardown, disableErrorReporting: true, disablePrettyLogger: true })
)
