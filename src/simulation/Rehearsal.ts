/**
 * A rehearsal: the real reconcile program, run to its end against a simulated world on virtual
 * time. What the CLI's `simulate` prints and what tests assert on.
 */
import { Cause, Duration, Effect, Exit, Logger, Option, Ref } from "effect"
import type { AppSpec } from "../domain/Config.js"
import { Outcome } from "../domain/Outcome.js"
import { type ConfigMismatch, run } from "../reconcile/Reconcile.js"
import { layerFor } from "./Simulation.js"
import { runOnVirtualClock } from "./VirtualClock.js"
import * as World from "./World.js"

export interface Rehearsal {
  readonly outcome: Outcome
  /**
   * The config does not fit abra's files (the CLI exits 2): nothing was written and no run is
   * recorded; `outcome` is `failed` with its message.
   */
  readonly mismatch?: ConfigMismatch
  /** The run was interrupted (as by SIGTERM); `outcome` is what it ended as after its rollback. */
  readonly interrupted: boolean
  /** The world as the run left it: deployments, volumes, alerts, last-good, the trace. */
  readonly world: World.WorldState
  readonly startMillis: number
}

export interface RehearsalOptions {
  /** Virtual time at the start (epoch ms). Default 0. */
  readonly startMillis?: number
  /** Interrupt the run this long after it started. */
  readonly interruptAfter?: Duration.DurationInput
  /** A logger for the program's log lines; none by default. */
  readonly logger?: Logger.Logger<unknown, void>
  readonly skipFetch?: boolean
  /** The zone maintenance windows are read in; this machine's by default. */
  readonly timeZone?: string
}

/** Run one reconcile of `app` in a world built from `setup` (or an existing world). */
export const rehearse = (app: AppSpec, world: World.WorldSetup | World.WorldApi, options: RehearsalOptions = {}) =>
  Effect.gen(function*() {
    const api = "state" in world ? world : yield* World.make(world)
    const startMillis = options.startMillis ?? 0
    const interruptedWith = yield* Ref.make(Option.none<Outcome>())
    const program = run(app, {
      skipFetch: options.skipFetch ?? false,
      ...(options.timeZone === undefined ? {} : { timeZone: options.timeZone }),
      onInterrupted: (outcome) => Ref.set(interruptedWith, Option.some(outcome))
    }).pipe(
      Effect.provide(layerFor(api)),
      Effect.provide(
        options.logger
          ? Logger.replace(Logger.defaultLogger, options.logger)
          : Logger.remove(Logger.defaultLogger)
      )
    )
    const exit = yield* runOnVirtualClock(program, {
      startMillis,
      ...(options.interruptAfter === undefined
        ? {}
        : { interruptAfterMillis: Duration.toMillis(options.interruptAfter) })
    })
    const mismatch = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
    const outcome = Exit.isSuccess(exit)
      ? exit.value
      : Option.isSome(mismatch)
      ? Outcome.failed({ reason: mismatch.value.message })
      : Option.getOrElse(yield* Ref.get(interruptedWith), () => Outcome.failed({ reason: "interrupted" }))
    return {
      outcome,
      ...(Option.isSome(mismatch) ? { mismatch: mismatch.value } : {}),
      interrupted: Exit.isInterrupted(exit),
      world: yield* Ref.get(api.state),
      startMillis
    } satisfies Rehearsal
  })
