/** `warm-reconcile simulate`: the real program against the simulated world, on virtual time. */
import { Args, Command, Options } from "@effect/cli"
import { Clock, Console, Data, Effect } from "effect"
import * as Alert from "../domain/Alert.js"
import * as Outcome from "../domain/Outcome.js"
import { type Rehearsal, rehearse } from "../simulation/Rehearsal.js"
import * as Scenarios from "../simulation/Scenarios.js"
import { exitCode } from "./ExitCode.js"
import { relativeLogger } from "./Logging.js"
import * as Shared from "./Options.js"
import { outcomeJson, setExitCode } from "./Output.js"
import { formatTrace } from "./Report.js"

export class UnknownScenario extends Data.TaggedError("UnknownScenario")<{ readonly message: string }> {}

export const listScenarios = Effect.forEach(
  Scenarios.scenarios,
  (s) =>
    Console.log(`${s.name.padEnd(26)} ${s.description}${s.name === Scenarios.DEFAULT_SCENARIO ? " (default)" : ""}`),
  { discard: true }
)

const toJson = (scenario: Scenarios.Scenario, r: Rehearsal) => ({
  app: scenario.app.name,
  scenario: scenario.name,
  ...outcomeJson(r.outcome),
  interrupted: r.interrupted,
  alerts: r.world.alerts.map(Alert.toJson),
  lastGood: r.world.lastGood.get(scenario.app.name) ?? null,
  trace: r.world.trace.map((t) => ({ at: new Date(t.at).toISOString(), step: t.step, detail: t.detail }))
})

/** Print a rehearsal as a person reads it: trace, alerts, result line. */
const show = (scenario: Scenarios.Scenario, r: Rehearsal) =>
  Effect.gen(function*() {
    yield* Console.log(`scenario ${scenario.name}: ${scenario.description}`)
    yield* Console.log(`trace (virtual time, ${r.world.trace.length} side effects):`)
    for (const line of formatTrace(r.world.trace, r.startMillis)) yield* Console.log(line)
    for (const alert of r.world.alerts) {
      yield* Console.log(`alert ${alert.reason}: ${JSON.stringify(Alert.toJson(alert))}`)
    }
    if (r.interrupted) yield* Console.log("the run was interrupted; the rollback ran to its end first")
    yield* Console.log(Outcome.resultLine(r.outcome))
  })

export const simulate = (name: string, options: { readonly json: boolean; readonly startMillis: number }) =>
  Effect.gen(function*() {
    const scenario = Scenarios.find(name)
    if (!scenario) {
      return yield* Effect.fail(
        new UnknownScenario({ message: `unknown scenario "${name}"; \`warm-reconcile simulate --list\` lists them` })
      )
    }
    const rehearsal = yield* rehearse(scenario.app, scenario.setup, {
      startMillis: options.startMillis,
      ...(scenario.interruptAfter ? { interruptAfter: scenario.interruptAfter } : {}),
      ...(options.json ? {} : { logger: relativeLogger(options.startMillis) })
    })
    if (options.json) yield* Console.log(JSON.stringify(toJson(scenario, rehearsal)))
    else yield* show(scenario, rehearsal)
    return exitCode(rehearsal.outcome)
  })

export const simulateCommand = Command.make(
  "simulate",
  {
    scenario: Args.text({ name: "scenario" }).pipe(
      Args.withDescription(`the rehearsal to run (default: ${Scenarios.DEFAULT_SCENARIO}); --list lists them`),
      Args.withDefault(Scenarios.DEFAULT_SCENARIO)
    ),
    list: Options.boolean("list").pipe(Options.withDescription("list the scenarios and exit")),
    json: Shared.json("app")
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
