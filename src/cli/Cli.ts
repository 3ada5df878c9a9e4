/**
 * The command line: `reconcile`, `plan` and `snapshot` on the live layers, `status` and `alerts`
 * for operators; `simulate` rehearses on the simulated world. One file per command.
 */
import { Command } from "@effect/cli"
import { alertsCommand } from "./Alerts.js"
import { configCommand } from "./ConfigCheck.js"
import { notifyCommand } from "./Notify.js"
import { planCommand } from "./Plan.js"
import { reconcileCommand } from "./Reconcile.js"
import { simulateCommand } from "./Simulate.js"
import { snapshotCommand } from "./Snapshot.js"
import { statusCommand } from "./Status.js"
import { unholdCommand } from "./Unhold.js"

export const root = Command.make("warm-reconcile").pipe(
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

export const run = Command.run(root, { name: "warm-reconcile", version: "0.1.0" })
