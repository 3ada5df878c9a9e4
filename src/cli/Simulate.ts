/** `warm-reconcile simulate`: the real program against the simulated world, on virtual time. */
import { Console, Data, Duration, Effect, Exit, Logger, Option, Ref } from "effect"
import * as Alert from "../domain/Alert.js"
import * as Outcome from "../domain/Outcome.js"
import { run } from "../reconcile/Reconcile.js"
import * as Scenarios from "../simulation/Scenarios.js"
import { layerFor, runVirtual } from "../simulation/Simulation.js"
import * as World from "../simulation/World.js"
import { relativeLogger } from "./Logging.js"
import { formatTrace } from "./Report.js"

export class UnknownScenario extends Data.TaggedError("UnknownScenario")<{ readonly message: string }> {}

export interface Rehearsal {
  readonly scenario: Scenarios.Scenario
  readonly outcome: Outcome.Outcome
  readonly interrupted: boolean
  readonly world: World.WorldState
  readonly startMillis: number
}

/** Run one scenario to its end on virtual time and answer what happened. */
export const rehearse = (scenario: Scenarios.Scenario, startMillis: number, logs = false) =>
  Effect.gen(function*() {
    const world = yield* World.make(scenario.setup)
    const interruptedWith = yield* Ref.make(Option.none<Outcome.Outcome>())
    const program = run(scenario.app, {
      onInterrupted: (outcome) => Ref.set(interruptedWith, Option.some(outcome))
    }).pipe(
      Effect.provide(layerFor(world)),
      logs
        ? Effect.provide(Logger.replace(Logger.defaultLogger, relativeLogger(startMillis)))
        : Effect.provide(Logger.remove(Logger.defaultLogger))
    )
    const exit = yield* runVirtual(program, {
      startMillis,
      ...(scenario.interruptAfter ? { interruptAfterMillis: Duration.toMillis(scenario.interruptAfter) } : {})
    })
    const outcome = Exit.isSuccess(exit)
      ? exit.value
      : Option.getOrElse(yield* Ref.get(interruptedWith), () => Outcome.Outcome.failed({ reason: "interrupted" }))
    return {
      scenario,
      outcome,
      interrupted: Exit.isInterrupted(exit),
      world: yield* Ref.get(world.state),
      startMillis
    } satisfies Rehearsal
  })

export const listScenarios = Effect.forEach(
  Scenarios.scenarios,
  (s) =>
    Console.log(`${s.name.padEnd(26)} ${s.description}${s.name === Scenarios.DEFAULT_SCENARIO ? " (default)" : ""}`),
  { discard: true }
)

const toJson = (r: Rehearsal) => ({
  app: r.scenario.app.name,
  scenario: r.scenario.name,
  outcome: r.outcome._tag,
  detail: Outcome.detail(r.outcome),
  result: Outcome.format(r.outcome),
  exitCode: Outcome.exitCode(r.outcome),
  interrupted: r.interrupted,
  alerts: r.world.alerts.map(Alert.toJson),
  lastGood: r.world.lastGood.get(r.scenario.app.name) ?? null,
  trace: r.world.trace.map((t) => ({ at: new Date(t.at).toISOString(), step: t.step, detail: t.detail }))
})

/** Print a rehearsal as a person reads it: trace, alerts, result line. */
const show = (r: Rehearsal) =>
  Effect.gen(function*() {
    yield* Console.log(`scenario ${r.scenario.name}: ${r.scenario.description}`)
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
    const rehearsal = yield* rehearse(scenario, options.startMillis, !options.json)
    if (options.json) yield* Console.log(JSON.stringify(toJson(rehearsal)))
    else yield* show(rehearsal)
    return Outcome.exitCode(rehearsal.outcome)
  })
