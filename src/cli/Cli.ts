/**
 * The command line: `reconcile`, `plan` and `snapshot` on the live layers, `status` and `alerts`
 * for operators; `simulate` rehearses on the simulated world.
 */
import { Args, Command, Options } from "@effect/cli"
import { Clock, Effect } from "effect"
import { DEFAULT_SCENARIO } from "../simulation/Scenarios.js"
import { alertsCommand } from "./AlertsCommand.js"
import { planCommand, reconcileCommand, setExitCode, snapshotCommand } from "./Live.js"
import { listScenarios, simulate } from "./Simulate.js"
import { statusCommand } from "./Status.js"

const json = Options.boolean("json").pipe(Options.withDescription("print one JSON object per app instead of text"))

const simulateCommand = Command.make(
  "simulate",
  {
    scenario: Args.text({ name: "scenario" }).pipe(
      Args.withDescription(`the rehearsal to run (default: ${DEFAULT_SCENARIO}); --list lists them`),
      Args.withDefault(DEFAULT_SCENARIO)
    ),
    list: Options.boolean("list").pipe(Options.withDescription("list the scenarios and exit")),
    json
  },
  ({ json, list, scenario }) =>
    list
      ? listScenarios
      : Clock.currentTimeMillis.pipe(
        Effect.flatMap((startMillis) => simulate(scenario, { json, startMillis })),
        Effect.flatMap(setExitCode)
      )
).pipe(
  Command.withDescription("Rehearse a reconcile against the simulated world (virtual time, nothing real is touched).")
)

export const root = Command.make("warm-reconcile").pipe(
  Command.withDescription("Keeps abra apps up to date: safety gate before, health gate after, rollback with data."),
  Command.withSubcommands([
    reconcileCommand,
    planCommand,
    statusCommand,
    alertsCommand,
    simulateCommand,
    snapshotCommand
  ])
)

export const run = Command.run(root, { name: "warm-reconcile", version: "0.1.0" })
