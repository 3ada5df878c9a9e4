/**
 * The reconcile program: one app converges to the latest published recipe version, gated by the
 * safety gate before anything changes and by the health gate after the deploy. It only composes
 * services; every decision is a pure function of the domain.
 *
 * One file per stage, each importing only those below it: `run` (here) recovers a killed run's
 * upgrade (Recover) or reconciles; `reconcile` observes (Observe) and acts on the plan: a hold
 * (Hold), a deploy, or the upgrade transaction (Upgrade), whose failure is undone by the rollback
 * (Rollback). The in-flight record (InFlight) and the shared steps (Steps) sit at the bottom.
 */
import { Clock, Effect, Option, Ref } from "effect"
import type { AppSpec } from "../domain/Config.js"
import { detail, Outcome } from "../domain/Outcome.js"
import * as Plan from "../domain/Plan.js"
import { isOpen, localTimeZone, windows } from "../domain/Window.js"
import { windowGate } from "../domain/WindowGate.js"
import type { Alerts } from "../services/Alerts.js"
import type { Apps } from "../services/Apps.js"
import type { Docker } from "../services/Docker.js"
import type { Health } from "../services/Health.js"
import type { Recipes } from "../services/Recipes.js"
import type { Snapshots } from "../services/Snapshots.js"
import { RunRecord, State } from "../services/State.js"
import type { ConfigMismatch, ReconcileError } from "./Errors.js"
import { clearHold, hold } from "./Hold.js"
import { observe, type ReconcileOptions } from "./Observe.js"
import { alertUnreadable, readRecords } from "./Records.js"
import { recover } from "./Recover.js"
import { deployAndWait, forApp, notesText, Reported, SHORT_STEP, tryAlert, within, writeAlert } from "./Steps.js"
import { upgrade } from "./Upgrade.js"

export { ConfigMismatch, type ReconcileError, RunKilled, StepTimedOut } from "./Errors.js"
export { type Observation, observe, type ReconcileOptions } from "./Observe.js"
export { recover } from "./Recover.js"

/** Everything the program needs from the world. */
export type Services = Apps | Alerts | Docker | Recipes | Snapshots | State

/**
 * Reconcile one app. Fails (typed) only when something goes wrong before anything was changed;
 * everything after the first change ends as an {@link Outcome}.
 */
export const reconcile = (
  app: AppSpec,
  options: ReconcileOptions = {}
): Effect.Effect<Outcome, ReconcileError | ConfigMismatch, Services | Health> =>
  Effect.gen(function*() {
    const state = yield* State
    // Outside the maintenance window a run plans, holds and alerts, and changes nothing: it only reads.
    const [now, timeZone] = [yield* Clock.currentTimeMillis, options.timeZone ?? localTimeZone()]
    const closed = !isOpen(windows(app.window), now, timeZone)
    const { notes, plan } = yield* observe(app, closed ? { ...options, readOnly: true } : options)
    const outsideWindow = windowGate(plan, app, now, timeZone)
    if (Option.isSome(outsideWindow)) {
      yield* Effect.logInfo(outsideWindow.value.reason)
      return outsideWindow.value
    }
    const setLastGood = (version: string) =>
      state.setLastGood(app.name, version).pipe(within(app, "last-good write", SHORT_STEP))

    return yield* Plan.Plan.$match(plan, {
      Fail: ({ reason }) => Effect.succeed(Outcome.failed({ reason: `recipe ${app.recipe}: ${reason}` })),
      Hold: (p) => hold(app, p),
      Undeployed: ({ version }) =>
        Effect.gen(function*() {
          yield* Effect.logInfo(
            `not deployed: left so (a person undeployed it; set "keepDeployed": true to have it deployed)`
          )
          return Outcome["held-undeployed"]({ version })
        }),
      Noop: ({ version }) =>
        Effect.gen(function*() {
          yield* setLastGood(version)
          yield* clearHold(app)
          yield* Effect.logInfo(`already on latest ${version} and healthy: nothing to do`)
          return Outcome["noop-healthy"]({ version })
        }),
      FreshDeploy: ({ version }) =>
        Effect.gen(function*() {
          yield* Effect.logInfo(`not deployed: fresh deploy of ${version}`)
          const healthy = yield* deployAndWait(app, version).pipe(
            Effect.as(true),
            Effect.catchTag(
              "HealthGateFailed",
              (e) => writeAlert(app, "unhealthy-after-deploy", { version, error: e.message }).pipe(Effect.as(false))
            )
          )
          if (!healthy) return Outcome.unhealthy({ version })
          yield* setLastGood(version)
          return Outcome["deployed-fresh"]({ version })
        }),
      Redeploy: ({ version }) =>
        Effect.gen(function*() {
          yield* Effect.logWarning(`on latest ${version} but unhealthy: redeploy`)
          const passed = yield* deployAndWait(app, version).pipe(Effect.either)
          if (passed._tag === "Left") {
            yield* writeAlert(app, "unhealthy-on-latest", { version, error: passed.left.message })
            return Outcome.unhealthy({ version })
          }
          yield* setLastGood(version)
          yield* clearHold(app)
          // Every redeploy of an app on latest is told (issue 15), also when it helped.
          yield* tryAlert(app, "redeployed", { version, cause: "unhealthy on the latest version" }, "redeployed")
          return Outcome["redeployed-healthy"]({ version })
        }),
      Upgrade: (p) =>
        Effect.gen(function*() {
          const text = notesText([...notes].map(([version, n]) => ({ version, notes: n })))
          const outcome = yield* upgrade(app, p, text)
          if (outcome._tag === "upgraded") yield* clearHold(app)
          return outcome
        })
    })
  }).pipe(forApp(app), Effect.withSpan("reconcile", { attributes: { app: app.name } }))

/**
 * One full run for one app: reconcile, turn a failure before any change into the `failed`
 * outcome, and record the run in the history, also when the run is interrupted.
 */
export const run = (
  app: AppSpec,
  options: ReconcileOptions = {}
): Effect.Effect<Outcome, ConfigMismatch, Services | Health> =>
  Effect.gen(function*() {
    // Paused by the operator (`"enabled": false`): nothing is read, changed, recorded or alerted.
    if (!app.enabled) {
      yield* Effect.logInfo(`paused ("enabled": false in the config): nothing to do`)
      return Outcome.paused()
    }
    const state = yield* State
    const startedAt = yield* Clock.currentTimeMillis
    // What the run ended as, also when it is interrupted: the stages report it as soon as they know.
    const reported = yield* Ref.make(Option.none<Outcome>())
    const record = (outcome: Outcome, interrupted: boolean) =>
      Clock.currentTimeMillis.pipe(
        Effect.flatMap((endedAt) =>
          state.recordRun(
            new RunRecord({
              app: app.name,
              outcome: outcome._tag,
              // The versions (or a failure's reason): what the metrics' counters tell a recovery by.
              detail: detail(outcome),
              startedAt: new Date(startedAt).toISOString(),
              endedAt: new Date(endedAt).toISOString(),
              interrupted
            })
          ).pipe(within(app, "history write", SHORT_STEP))
        ),
        Effect.catchAll((e) => Effect.logError(`could not record the run: ${e.message}`))
      )
    // A run killed in the middle of an upgrade left a record: recover before anything else. A record
    // that cannot be read stops the app (Records): it may hide exactly such an upgrade.
    const work: Effect.Effect<Outcome, ReconcileError | ConfigMismatch, Services | Health> = readRecords(app).pipe(
      Effect.flatMap(Option.match({
        onNone: () => reconcile(app, options),
        onSome: (record) => recover(app, record)
      }))
    )
    const outcome = yield* work.pipe(
      // A config that does not fit what abra has is not a run: nothing was written, nothing is recorded.
      Effect.catchAll((e) =>
        e._tag === "ConfigMismatch"
          ? Effect.fail(e)
          : Effect.logError(e.message).pipe(
            Effect.zipRight(e._tag === "StateUnreadable" ? alertUnreadable(app, e) : Effect.void),
            Effect.as(Outcome.failed({ reason: e.message }))
          )
      ),
      Effect.tap((outcome) => Ref.set(reported, Option.some(outcome))),
      Effect.provideService(Reported, reported),
      Effect.onInterrupt(() =>
        Effect.gen(function*() {
          const last = Option.getOrElse(yield* Ref.get(reported), () => Outcome.failed({ reason: "interrupted" }))
          yield* record(last, true)
          if (options.onInterrupted) yield* options.onInterrupted(last)
        })
      )
    )
    yield* record(outcome, false).pipe(
      // Interrupted while recording: the work is done, and what it ended as is the answer.
      Effect.onInterrupt(() =>
        record(outcome, true).pipe(Effect.zipRight(options.onInterrupted?.(outcome) ?? Effect.void))
      )
    )
    return outcome
  })
