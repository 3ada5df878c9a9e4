/**
 * The command line: `reconcile`, `plan` and `snapshot` on the live layers, `status` and `alerts`
 * for operators; `simulate` rehearses on the simulated world. One file per command.
 */
import { Command } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import { alertsCommand } from "./Alerts.js"
import * as CommandTree from "./CommandTree.js"
import * as Completions from "./Completions.js"
import { configCommand } from "./ConfigCheck.js"
import { UsageError } from "./ConfigFile.js"
import * as HelpConsole from "./HelpConsole.js"
import { notifyCommand } from "./Notify.js"
import { planCommand } from "./Plan.js"
import { reconcileCommand } from "./Reconcile.js"
import * as SafeConsole from "./SafeConsole.js"
import { simulateCommand } from "./Simulate.js"
import { snapshotCommand } from "./Snapshot.js"
import { statusCommand } from "./Status.js"
import { unholdCommand } from "./Unhold.js"

export const PROGRAM = "warm-reconcile"

export const root = Command.make(PROGRAM).pipe(
  Command.withDescription("Keeps abra apps up to date: safety gate before, health gate after, rollback with data."),
  Command.withSubcommands([
    reconcileCommand,
    planCommand,
    statusCommand,
    unholdCommand,
    alertsCommand,
    simulateCommand,
    snapshotCommand,
    notifyCommand,
    configCommand
  ])
)

/** Every command, its options and arguments, as the checks and the completions read them. */
export const tree = CommandTree.commands(root)

/**
 * Run the command line `argv` (node, script, words...). Before @effect/cli parses it: an unknown
 * option is a usage error naming it, `--wizard` needs a terminal, and `--completions` prints our
 * own scripts (every command's options and file arguments). The commands print through
 * SafeConsole; @effect/cli's own help and errors through HelpConsole.
 */
export const run = (argv: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const words = argv.slice(2)
    const unknown = CommandTree.unknownOption(PROGRAM, tree, words)
    if (Option.isSome(unknown)) return yield* new UsageError({ message: unknown.value })
    if (words.includes("--wizard") && !(process.stdin.isTTY && process.stdout.isTTY)) {
      return yield* new UsageError({
        message: "--wizard asks its questions on a terminal, and stdin or stdout is not one: run it in a terminal, " +
          `or give the whole command line (see \`${PROGRAM} --help\`)`
      })
    }
    const shell = Completions.requested(words)
    if (Option.isSome(shell)) {
      const script = Completions.script(shell.value, PROGRAM, tree)
      if (Option.isNone(script)) {
        return yield* new UsageError({ message: `--completions: expected bash, zsh or fish, got ${shell.value}` })
      }
      return yield* Console.log(script.value)
    }
    const path = CommandTree.resolve(tree, words).path
    return yield* Console.consoleWith((base) =>
      Command.run(
        root.pipe(Command.transformHandler((effect) => Effect.withConsole(effect, SafeConsole.make(base)))),
        { name: PROGRAM, version: "0.1.0" }
      )(argv).pipe(HelpConsole.within({ colour: HelpConsole.colourWanted(), program: PROGRAM, path }))
    )
  })
