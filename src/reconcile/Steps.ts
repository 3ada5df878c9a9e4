/**
 * What every stage uses: step deadlines, the retry schedule, phase marks, the alert write, the
 * deploy, the health gate after it and the plain "healthy within" check, and the reporter that
 * tells `run` what an interrupted run ended as.
 */
import { Clock, Context, Duration, Effect, FiberRef, HashMap, Metric, Option, Predicate, Ref, Schedule } from "effect"
import { Alert, ALERT_SCHEMA_VERSION, type AlertReason, timestamp } from "../domain/Alert.js"
import type { AppSpec } from "../domain/Config.js"
import type { Outcome } from "../domain/Outcome.js"
import { type LogPhase, PHASE_DURATION_METRIC, type TimedPhase } from "../domain/Phase.js"
import { truncate } from "../domain/ReleaseNotes.js"
import { Alerts } from "../services/Alerts.js"
import { Apps } from "../services/Apps.js"
import { Recipes } from "../services/Recipes.js"
import { formatLimit, withDeadline } from "./Deadline.js"
import { StepTimedOut } from "./Errors.js"
import { waitHealthy } from "./HealthGate.js"

/** Read-only steps (fetch, tags, notes, env, Docker look-ups, state) may take this long. */
export const SHORT_STEP = Duration.minutes(5)
/** Snapshot and restore copy whole volumes. */
export const SNAPSHOT_STEP = Duration.hours(2)

/** Every step has a deadline, which holds inside the uninterruptible acquire and rollback too. */
export const within = (app: AppSpec, step: string, limit: Duration.DurationInput) =>
  withDeadline(limit, () =>
    new StepTimedOut({
      app: app.name,
      step,
      message: `${step} for ${app.name} took longer than ${formatLimit(limit)}`
    }))

/**
 * Steps that undo or record a change are retried: a Docker socket that hiccups or a full disk
 * that was just cleaned must not turn a rollback into a person's night. Three tries, 5 s then 25 s.
 */
export const RETRY = Schedule.exponential(Duration.seconds(5), 5).pipe(Schedule.intersect(Schedule.recurs(2)))

/**
 * The lines of one app's run carry its name, and so do its phase timers (which read it from the
 * lines' annotations). Not `Effect.tagMetrics`: that would tag every metric inside the run, and a
 * counter read without the tag (the ProcessRunner's spawn count) would then read nothing.
 */
export const forApp =
  (app: { readonly name: string }) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.annotateLogs(self, { app: app.name })

/** The app whose run this is, as {@link forApp} marked it. */
const currentApp = Effect.map(
  FiberRef.get(FiberRef.currentLogAnnotations),
  (annotations) => Option.getOrUndefined(Option.filter(HashMap.get(annotations, "app"), Predicate.isString))
)

/**
 * Mark a stage (`recover`, `metrics`): every log line inside carries it as its `phase`, over the
 * in-flight record's phase and any step.
 */
export const inPhase = (phase: LogPhase) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.annotateLogs(self, { phase })

/**
 * Mark a step (undeploy, snapshot, deploy, health, restore): its lines carry it as their `step`,
 * which the log formats show as the phase when neither a stage nor an in-flight record names one
 * (inside a rollback the lines stay `rollback`, as the record says; the innermost step wins).
 */
export const inStep = (step: LogPhase) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.annotateLogs(self, { step })

const phaseDuration = Metric.timer(PHASE_DURATION_METRIC, "Time spent in a phase of an app's run.")

/**
 * Mark a timed step: its lines carry it, and its time is added to the app's duration of the phase
 * (a failed or interrupted step's time too: a failed deploy took the time it took, which is why
 * this is not `Metric.trackDuration`, which counts only a step that succeeds).
 */
export const timedPhase = (phase: TimedPhase) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(Clock.currentTimeNanos, (start) =>
    self.pipe(
      Effect.ensuring(Effect.gen(function*() {
        const end = yield* Clock.currentTimeNanos
        const app = yield* currentApp
        const timer = Metric.tagged(phaseDuration, "phase", phase)
        yield* Metric.update(app === undefined ? timer : Metric.tagged(timer, "app", app), Duration.nanos(end - start))
      })),
      inStep(phase)
    ))

/**
 * What the run ends as if it is interrupted now: a stage that has decided its outcome before its
 * last step (a finished rollback, a written hold alert) reports it, and `run` tells it on interrupt.
 */
export class Reported extends Context.Tag("warm-reconcile/reconcile/Reported")<
  Reported,
  Ref.Ref<Option.Option<Outcome>>
>() {}

export const report = (outcome: Outcome): Effect.Effect<void> =>
  Effect.serviceOption(Reported).pipe(
    Effect.flatMap(Option.match({ onNone: () => Effect.void, onSome: (ref) => Ref.set(ref, Option.some(outcome)) }))
  )

export const notesText = (notes: ReadonlyArray<{ readonly version: string; readonly notes: string }>): string =>
  truncate(notes.map((n) => `## ${n.version}\n${n.notes.trim()}`).join("\n\n"))

export const writeAlert = (app: AppSpec, reason: AlertReason, fields: Record<string, unknown>) =>
  Effect.gen(function*() {
    const alerts = yield* Alerts
    const now = yield* Clock.currentTimeMillis
    const alert = new Alert({ schemaVersion: ALERT_SCHEMA_VERSION, app: app.name, reason, ts: timestamp(now), fields })
    const where = yield* alerts.write(alert).pipe(
      within(app, "alert write", SHORT_STEP),
      Effect.tapError((e) => Effect.logWarning(`could not write the ${reason} alert (will retry): ${e.message}`)),
      Effect.retry(RETRY)
    )
    yield* Effect.logWarning(`ALERT[${reason}] ${app.name}`).pipe(Effect.annotateLogs({ alert: where }))
    return where
  })

/**
 * Write an alert whose failure must not stop what comes after (the caller keeps its record for the
 * next run instead): true when it was written; a failure after the retries is logged as `label`'s.
 */
export const tryAlert = (
  app: AppSpec,
  reason: AlertReason,
  fields: Record<string, unknown>,
  label: string,
  ...logged: ReadonlyArray<unknown>
) =>
  writeAlert(app, reason, fields).pipe(
    Effect.as(true),
    Effect.catchAll((e) =>
      Effect.logError(`the ${label} alert could not be written: ${e.message}`, ...logged).pipe(Effect.as(false))
    )
  )

/** Deploy a published version: check out its tag, then a pinned redeploy. */
export const deployVersion = (app: AppSpec, version: string) =>
  Effect.gen(function*() {
    const recipes = yield* Recipes
    const apps = yield* Apps
    yield* recipes.checkout(app.recipe, version).pipe(within(app, "checkout", SHORT_STEP))
    yield* Effect.logInfo(`deploy ${version}`)
    yield* apps.deploy(app, version).pipe(within(app, "deploy", app.deployTimeout), timedPhase("deploy"))
  }).pipe(inStep("deploy"))

/** The health gate after a deploy, counting crash-looping tasks since `since` (the deploy's start). */
export const healthGate = (app: AppSpec, version: string, since: number) =>
  waitHealthy(app, { version, timeout: app.health.timeout, since, afterDeploy: true }).pipe(timedPhase("health"))

/**
 * Deploy `version`, then wait for the health gate. `beforeGate` runs between the two (the upgrade
 * records that its target is deployed).
 */
export const deployAndWait = <E = never, R = never>(
  app: AppSpec,
  version: string,
  beforeGate: Effect.Effect<void, E, R> = Effect.void as Effect.Effect<void, E, R>
) =>
  Effect.gen(function*() {
    const since = yield* Clock.currentTimeMillis
    yield* deployVersion(app, version)
    yield* beforeGate
    yield* Effect.logInfo(`health gate for ${version}: waiting up to ${Duration.format(app.health.timeout)}`)
    const passed = yield* healthGate(app, version, since)
    yield* Effect.logInfo(`health gate passed for ${version} after ${passed.waitedMillis} ms`)
    return passed
  })

/**
 * Is the running app healthy within `timeout`? A look, not a gate after a deploy: its lines say
 * `health`, its time is not the health phase's. Used by the settle check and the recovery alike.
 */
export const healthyWithin = (
  app: AppSpec,
  version: string,
  timeout: Duration.DurationInput,
  patience?: Duration.DurationInput
) =>
  Clock.currentTimeMillis.pipe(
    Effect.flatMap((since) =>
      waitHealthy(app, { version, timeout, since, ...(patience === undefined ? {} : { patience }) })
    ),
    Effect.as(true),
    Effect.catchTag("HealthGateFailed", (e) => Effect.logWarning(e.message).pipe(Effect.as(false))),
    inStep("health")
  )

/**
 * Is the running app healthy within its settle time? (The original waited 60 s.) Slow is not
 * broken: while Swarm is still converging (after a boot, a Docker restart) it waits up to the
 * health timeout.
 */
export const settled = (app: AppSpec, version: string) =>
  healthyWithin(app, version, app.health.settle, app.health.timeout)
