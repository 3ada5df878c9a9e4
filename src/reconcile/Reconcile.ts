/**
 * The reconcile program: one app converges to the latest published recipe version, gated by the
 * safety gate before anything changes and by the health gate after the deploy. It only composes
 * services; every decision is a pure function of the domain.
 *
 * The upgrade is a scoped transaction: `acquireRelease` whose acquire records last-good and (for a
 * stateful app) undeploys and snapshots, and whose release, on a failed or interrupted Exit,
 * restores the snapshot, redeploys last-good and checks its health. The typed failure channel of
 * the steps in between is what forces the rollback.
 */
import { Cause, Clock, Duration, Effect, Exit, Option, Ref, Schedule, Schema } from "effect"
import { Alert, ALERT_SCHEMA_VERSION, type AlertReason, timestamp } from "../domain/Alert.js"
import type { AppSpec } from "../domain/Config.js"
import { Outcome } from "../domain/Outcome.js"
import * as Plan from "../domain/Plan.js"
import { truncate } from "../domain/ReleaseNotes.js"
import { missingSecrets } from "../domain/Secrets.js"
import { Alerts } from "../services/Alerts.js"
import { AbraError, Apps } from "../services/Apps.js"
import { Docker, type StackVolume } from "../services/Docker.js"
import type { Health } from "../services/Health.js"
import { Recipes } from "../services/Recipes.js"
import { type SnapshotMeta, Snapshots } from "../services/Snapshots.js"
import { HoldRecord, InFlight, RunRecord, State } from "../services/State.js"
import { formatLimit, withDeadline } from "./Deadline.js"
import { waitHealthy } from "./HealthGate.js"

export interface ReconcileOptions {
  /** Use the recipe clone as it is (`--skip-fetch`): lets a rehearsal stage a fake latest tag. */
  readonly skipFetch?: boolean
  /** Called when the run is interrupted, after any rollback has finished, with what it ended as. */
  readonly onInterrupted?: (outcome: Outcome) => Effect.Effect<void>
}

/** A step took longer than it may. */
export class StepTimedOut extends Schema.TaggedError<StepTimedOut>()("StepTimedOut", {
  app: Schema.String,
  step: Schema.String,
  message: Schema.String
}) {}

/** Everything the program needs from the world. */
export type Services = Apps | Alerts | Docker | Recipes | Snapshots | State

/** Read-only steps (fetch, tags, notes, env, Docker look-ups, state) may take this long. */
const SHORT_STEP = Duration.minutes(5)
/** Snapshot and restore copy whole volumes. */
const SNAPSHOT_STEP = Duration.hours(2)

/** Every step has a deadline, which holds inside the uninterruptible acquire and rollback too. */
const within = (app: AppSpec, step: string, limit: Duration.DurationInput) =>
  withDeadline(limit, () =>
    new StepTimedOut({
      app: app.name,
      step,
      message: `${step} for ${app.name} took longer than ${formatLimit(limit)}`
    }))

const notesText = (notes: ReadonlyArray<{ readonly version: string; readonly notes: string }>): string =>
  truncate(notes.map((n) => `## ${n.version}\n${n.notes.trim()}`).join("\n\n"))

/**
 * Steps that undo or record a change are retried: a Docker socket that hiccups or a full disk
 * that was just cleaned must not turn a rollback into a person's night. Three tries, 5 s then 25 s.
 */
const RETRY = Schedule.exponential(Duration.seconds(5), 5).pipe(Schedule.intersect(Schedule.recurs(2)))

const writeAlert = (app: AppSpec, reason: AlertReason, fields: Record<string, unknown>) =>
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

/** Deploy a published version: check out its tag, then a pinned redeploy. */
const deployVersion = (app: AppSpec, version: string) =>
  Effect.gen(function*() {
    const recipes = yield* Recipes
    const apps = yield* Apps
    yield* recipes.checkout(app.recipe, version).pipe(within(app, "checkout", SHORT_STEP))
    yield* Effect.logInfo(`deploy ${version}`)
    yield* apps.deploy(app, version).pipe(within(app, "deploy", app.deployTimeout))
  })

/** Deploy `version`, then wait for the health gate, counting crash-looping tasks since the deploy. */
const deployAndWait = (app: AppSpec, version: string) =>
  Effect.gen(function*() {
    const since = yield* Clock.currentTimeMillis
    yield* deployVersion(app, version)
    yield* Effect.logInfo(`health gate for ${version}: waiting up to ${Duration.format(app.health.timeout)}`)
    const passed = yield* waitHealthy(app, { version, timeout: app.health.timeout, since })
    yield* Effect.logInfo(`health gate passed for ${version} after ${passed.waitedMillis} ms`)
    return passed
  })

/** Keep the in-flight record current: a phase name, or `done` to remove it. Never fails. */
type Track = (phase: string, snapshot?: string | null) => Effect.Effect<void>

const tracker = (app: AppSpec, from: string, to: string, fromHealthy: boolean, snapshot: string | null = null) =>
  Effect.gen(function*() {
    const state = yield* State
    const startedAt = new Date(yield* Clock.currentTimeMillis).toISOString()
    const pid = yield* Effect.sync(() => process.pid)
    // A recovery carries the snapshot over: losing it would let a second crash skip the restore.
    const snapshotRef = yield* Ref.make<string | null>(snapshot)
    const write = (phase: string, snapshot?: string | null) =>
      Effect.gen(function*() {
        if (snapshot !== undefined) yield* Ref.set(snapshotRef, snapshot)
        const record = phase === "done"
          ? Option.none<InFlight>()
          : Option.some(
            new InFlight({ from, to, fromHealthy, snapshot: yield* Ref.get(snapshotRef), phase, pid, startedAt })
          )
        yield* state.setInFlight(app.name, record).pipe(within(app, "in-flight write", SHORT_STEP))
      })
    /** On the way back (rollback, recovery) a record that cannot be written must not stop the undo. */
    const track: Track = (phase, snapshot) =>
      write(phase, snapshot).pipe(
        Effect.catchAll((e) => Effect.logError(`could not write the in-flight record (${phase}): ${e.message}`))
      )
    /**
     * On the way forward it must: a kill after a snapshot the record does not name, or after a
     * deploy it does not know of, could not be recovered. Failing here rolls the upgrade back.
     */
    const advance = (phase: string, snapshot?: string | null) => write(phase, snapshot)
    /** The first write must succeed: without it a kill in the next step could not be recovered. */
    const begin = (phase: string) =>
      state.setInFlight(
        app.name,
        Option.some(new InFlight({ from, to, fromHealthy, snapshot: null, phase, pid, startedAt }))
      ).pipe(within(app, "in-flight write", SHORT_STEP))
    return { track, advance, begin }
  })

/** What the upgrade transaction has done so far: the release undoes exactly that. */
interface Progress {
  readonly undeployed: boolean
  readonly volumes: ReadonlyArray<StackVolume>
  readonly snapshot: Option.Option<SnapshotMeta>
  readonly deployAttempted: boolean
}

const describeCause = (cause: Cause.Cause<unknown>): string =>
  Cause.isInterruptedOnly(cause)
    ? "interrupted"
    : Option.match(Cause.failureOption(cause), {
      onNone: () => Cause.pretty(cause).split("\n")[0] ?? "unknown failure",
      onSome: (e) =>
        typeof e === "object" && e !== null && "message" in e && typeof e.message === "string" ? e.message : String(e)
    })

/**
 * Undo a failed or interrupted upgrade: undeploy the target, restore the snapshot, redeploy
 * last-good and check its health. Never fails: what it ends as is the outcome, and it writes
 * exactly one alert (`rollback`, or `rollback-failed` when any step of it failed).
 */
const rollback = (
  app: AppSpec,
  from: string,
  to: string,
  notes: string,
  progress: Ref.Ref<Progress>,
  cause: Cause.Cause<unknown>,
  options: {
    readonly track: Track
    readonly successAlert?: AlertReason
    /** Hold the target as a failed release (before the record goes, so that a kill cannot skip it). */
    readonly remember?: boolean
  } = { track: () => Effect.void }
) =>
  Effect.gen(function*() {
    const apps = yield* Apps
    const docker = yield* Docker
    const snapshots = yield* Snapshots
    const done = yield* Ref.get(progress)
    const reason = describeCause(cause)
    if (!done.undeployed && !done.deployAttempted) {
      // Nothing was changed yet (the upgrade failed while recording last-good): nothing to undo.
      yield* options.track("done")
      return Outcome.failed({ reason: `upgrade ${from}->${to} not started: ${reason}` })
    }
    yield* Effect.logWarning(`upgrade to ${to} failed (${reason}): rolling back to ${from}`)
    yield* options.track("rollback")
    const step = yield* Ref.make("undeploy")
    const undo = Effect.gen(function*() {
      if (app.stateful) {
        if (yield* docker.isDeployed(app.stack).pipe(within(app, "deployed check", SHORT_STEP))) {
          yield* apps.undeploy(app).pipe(within(app, "undeploy", app.deployTimeout))
        }
        if (Option.isSome(done.snapshot)) {
          yield* Ref.set(step, "restore")
          yield* Effect.logInfo(`restore snapshot of ${from}`)
          yield* snapshots.restore(app, done.volumes).pipe(within(app, "restore", SNAPSHOT_STEP))
        }
      }
      yield* Ref.set(step, "redeploy")
      const since = yield* Clock.currentTimeMillis
      yield* deployVersion(app, from)
      yield* Ref.set(step, "health")
      return yield* waitHealthy(app, { version: from, timeout: app.health.timeout, since })
    })
    const result = yield* Effect.either(undo.pipe(
      Effect.tapError((e) => Effect.logWarning(`rollback step ${"_tag" in e ? e._tag : ""} failed: ${e.message}`)),
      // Start over (each step is safe to repeat), but a last-good that stays unhealthy is final.
      Effect.retry({ schedule: RETRY, while: (e) => !("_tag" in e && e._tag === "HealthGateFailed") })
    ))
    const failedStep = yield* Ref.get(step)
    const outcome = result._tag === "Right"
      ? Outcome["rolled-back"]({ attempted: to, lastGood: from, reason })
      : Outcome["rollback-failed"]({
        attempted: to,
        lastGood: from,
        reason: `${failedStep} failed during rollback: ${result.left.message}`
      })
    const fields = {
      last_good: from,
      attempted: to,
      recovered: result._tag === "Right",
      cause: reason,
      release_notes: notes,
      ...(result._tag === "Left" ? { failed_step: failedStep, error: result.left.message } : {}),
      ...(Option.isSome(done.snapshot) ? { snapshot_version: done.snapshot.value.version } : {})
    }
    if (options.remember) yield* rememberFailedRelease(app, from, to)
    // After a failed rollback the record stays, so that the next run tries the rollback again
    // instead of starting anything new. After a good one it goes once the alert is written: an
    // alert that cannot be written leaves the record (phase `alert`) for the next run to write it.
    if (outcome._tag === "rollback-failed") yield* options.track("rollback-failed")
    else yield* options.track("alert")
    const alerted = yield* writeAlert(
      app,
      outcome._tag === "rolled-back" ? options.successAlert ?? "rollback" : "rollback-failed",
      fields
    ).pipe(
      Effect.as(true),
      Effect.catchAll((e) =>
        Effect.logError(`the rollback alert could not be written: ${e.message}`, fields).pipe(Effect.as(false))
      )
    )
    if (result._tag === "Left") yield* Effect.logError(`rollback to ${from} failed: ${result.left.message}`)
    else yield* Effect.logInfo(`rolled back to ${from}; healthy again`)
    if (!alerted && outcome._tag === "rolled-back") {
      return Outcome.failed({ reason: `rolled back ${to} -> ${from}, but the alert could not be written` })
    }
    if (outcome._tag === "rolled-back") yield* options.track("done")
    return outcome
  })

/** The health-gated upgrade from the running version to the target. */
const upgrade = (
  app: AppSpec,
  plan: Extract<Plan.Plan, { _tag: "Upgrade" }>,
  notes: string,
  report: Ref.Ref<Option.Option<Outcome>>
) =>
  Effect.gen(function*() {
    const apps = yield* Apps
    const docker = yield* Docker
    const snapshots = yield* Snapshots
    const state = yield* State
    const { from, to } = plan
    const progress = yield* Ref.make<Progress>({
      undeployed: false,
      volumes: [],
      snapshot: Option.none(),
      deployAttempted: false
    })
    const rolledBack = yield* Ref.make(Option.none<Outcome>())
    const { advance, begin, track } = yield* tracker(app, from, to, plan.fromHealthy)
    // The rollback holds the target as a failed release once it has undone anything.
    const undo = (cause: Cause.Cause<unknown>) =>
      rollback(app, from, to, notes, progress, cause, { track, remember: true }).pipe(
        Effect.tap((outcome) => Ref.set(rolledBack, Option.some(outcome))),
        Effect.tap((outcome) => Ref.set(report, Option.some(outcome)))
      )

    // Acquire: record last-good, then (stateful) undeploy and snapshot. If it fails halfway it
    // undoes itself, since the release only runs after a successful acquire.
    const prepare = Effect.gen(function*() {
      yield* Effect.logInfo(`auto-upgrade ${from} -> ${to} (health-gated)`)
      // Before the first destructive step: a run killed from here on is recovered by the next one.
      yield* begin(app.stateful ? "undeploy" : "deploy")
      if (plan.fromHealthy) yield* state.setLastGood(app.name, from).pipe(within(app, "last-good write", SHORT_STEP))
      else yield* Effect.logWarning(`${from} was not healthy before the upgrade: last-good not advanced`)
      if (!app.stateful) return
      const volumes = yield* docker.stackVolumes(app.stack).pipe(within(app, "volume list", SHORT_STEP))
      yield* Ref.update(progress, (p) => ({ ...p, volumes }))
      yield* Effect.logInfo(`undeploy for a snapshot of ${volumes.length} volume(s)`)
      yield* apps.undeploy(app).pipe(within(app, "undeploy", app.deployTimeout))
      yield* Ref.update(progress, (p) => ({ ...p, undeployed: true }))
      yield* advance("snapshot")
      const meta = yield* snapshots.take(app, from, volumes).pipe(within(app, "snapshot", SNAPSHOT_STEP))
      yield* Ref.update(progress, (p) => ({ ...p, snapshot: Option.some(meta) }))
      yield* advance("deploy", meta.version)
    }).pipe(Effect.tapErrorCause(undo))

    const transaction = Effect.scoped(
      Effect.gen(function*() {
        yield* Effect.acquireRelease(prepare, (_, exit) => Exit.isFailure(exit) ? undo(exit.cause) : Effect.void)
        yield* Ref.update(progress, (p) => ({ ...p, deployAttempted: true }))
        const since = yield* Clock.currentTimeMillis
        yield* deployVersion(app, to)
        yield* advance("health")
        yield* Effect.logInfo(`health gate for ${to}: waiting up to ${Duration.format(app.health.timeout)}`)
        const passed = yield* waitHealthy(app, { version: to, timeout: app.health.timeout, since })
        yield* Effect.logInfo(`health gate passed for ${to} after ${passed.waitedMillis} ms`)
        yield* state.setLastGood(app.name, to).pipe(within(app, "last-good write", SHORT_STEP))
        // Committed. A failure to remove the record is only logged: the next run would find the
        // target deployed and healthy, and commit again.
        yield* track("done")
        yield* Effect.logInfo(`upgrade healthy: committed last-good ${to}`)
      })
    )
    return yield* transaction.pipe(
      Effect.as(Outcome.upgraded({ from, to })),
      Effect.catchAll((e) =>
        Ref.get(rolledBack).pipe(Effect.map(Option.getOrElse(() => Outcome.failed({ reason: e.message }))))
      )
    )
  })

/**
 * Remember a release that was rolled back, so that the next runs hold it instead of failing on it
 * again every night. The rollback alert already told a person, so the hold counts as alerted.
 */
const rememberFailedRelease = (app: AppSpec, from: string, to: string) =>
  Effect.gen(function*() {
    const state = yield* State
    const now = yield* Clock.currentTimeMillis
    yield* state.setHold(
      app.name,
      Option.some(new HoldRecord({ reason: "held-failed-release", from, to, ts: timestamp(now) }))
    ).pipe(
      within(app, "hold write", SHORT_STEP),
      Effect.catchAll((e) => Effect.logError(`could not remember the failed release ${to}: ${e.message}`))
    )
  })

/** A hold: write the alert once per (reason, target), then stay put. */
const hold = (app: AppSpec, plan: Extract<Plan.Plan, { _tag: "Hold" }>, report: Ref.Ref<Option.Option<Outcome>>) =>
  Effect.gen(function*() {
    const state = yield* State
    const outcome = (() => {
      switch (plan.reason) {
        case "major":
          return Outcome["held-major"]({ from: plan.from, to: plan.to })
        case "manual-migration":
          return Outcome["held-manual-migration"]({
            from: plan.from,
            to: plan.to,
            versions: plan.warnings.map((w) => w.version)
          })
        case "policy":
          return Outcome["held-policy"]({ from: plan.from, to: plan.to, policy: plan.policy })
        case "unknown-version":
          return Outcome["held-unknown-version"]({ from: plan.from, to: plan.to })
        case "failed-release":
          return Outcome["held-failed-release"]({ from: plan.from, to: plan.to })
      }
    })()
    const previous = yield* state.hold(app.name).pipe(within(app, "hold read", SHORT_STEP))
    const already = Option.exists(
      previous,
      (h) => h.reason === outcome._tag && h.to === plan.to && h.from === plan.from
    )
    if (already) {
      yield* Effect.logInfo(`${outcome._tag} ${plan.from} -> ${plan.to}: already alerted, still holding`)
    } else {
      yield* alertHold(app, plan, outcome, report)
    }
    // Held does not mean unwatched: the version that stays must still answer, as on latest.
    if (plan.reason === "unknown-version" || (yield* settled(app, plan.from))) return outcome
    yield* Effect.logWarning(`held on ${plan.from}, which is unhealthy: redeploy it`)
    const passed = yield* deployAndWait(app, plan.from).pipe(Effect.either)
    if (passed._tag === "Right") return outcome
    yield* writeAlert(app, "unhealthy-after-deploy", {
      version: plan.from,
      held: outcome._tag,
      error: passed.left.message
    })
    return Outcome.unhealthy({ version: plan.from })
  })

const alertHold = (
  app: AppSpec,
  plan: Extract<Plan.Plan, { _tag: "Hold" }>,
  outcome: Extract<Outcome, { _tag: `held-${string}` }>,
  report: Ref.Ref<Option.Option<Outcome>>
) =>
  Effect.gen(function*() {
    const state = yield* State
    const notes = plan.reason === "manual-migration" ? plan.warnings : plan.notes
    // The alert, then the record that it was written, as one step a SIGTERM does not split: an
    // alert without its record would be written again the next night. (If the alert cannot be
    // written, no record is kept and the next night tries again: late beats lost.)
    yield* Effect.uninterruptible(Effect.gen(function*() {
      yield* writeAlert(app, outcome._tag, {
        current: plan.from,
        latest: plan.to,
        ...(plan.reason === "policy" ? { policy: plan.policy } : {}),
        ...(plan.reason === "manual-migration"
          ? { versions: plan.warnings.map((w) => w.version), markers: plan.warnings.map((w) => w.marker) }
          : {}),
        release_notes: notesText(notes)
      })
      const now = yield* Clock.currentTimeMillis
      yield* state.setHold(
        app.name,
        Option.some(new HoldRecord({ reason: outcome._tag, from: plan.from, to: plan.to, ts: timestamp(now) }))
      ).pipe(within(app, "hold write", SHORT_STEP), Effect.retry(RETRY))
      yield* Ref.set(report, Option.some(outcome))
    }))
  })

/** Forget an alerted hold once the app has moved past it. */
const clearHold = (app: AppSpec) =>
  Effect.gen(function*() {
    const state = yield* State
    const previous = yield* state.hold(app.name).pipe(within(app, "hold read", SHORT_STEP))
    if (Option.isSome(previous)) {
      yield* state.setHold(app.name, Option.none()).pipe(within(app, "hold write", SHORT_STEP))
    }
  })

/** Is the running app healthy within its settle time? (The original waited 60 s.) */
const settled = (app: AppSpec, version: string) =>
  Effect.gen(function*() {
    const since = yield* Clock.currentTimeMillis
    return yield* waitHealthy(app, { version, timeout: app.health.settle, since }).pipe(
      Effect.as(true),
      Effect.catchTag("HealthGateFailed", (e) => Effect.logWarning(e.message).pipe(Effect.as(false)))
    )
  })

/** What a reconcile saw before acting: the facts, the stage, the notes read, and the plan. */
export interface Observation {
  readonly facts: Plan.Facts
  readonly stage: Plan.Stage
  readonly notes: ReadonlyMap<string, string>
  /** Did the running app answer healthy (only probed when the plan depends on it)? */
  readonly healthy: boolean
  readonly plan: Plan.Plan
  /** Whether the app's env file existed (a read-only look does not create it). */
  readonly envExists: boolean
  readonly missingSecrets: ReadonlyArray<string>
}

/**
 * Gather the facts and plan. With `readOnly`, nothing is changed: no server is added, no env file
 * is created and no secret generated (what would be done is reported instead).
 */
export const observe = (app: AppSpec, options: ReconcileOptions & { readonly readOnly?: boolean } = {}) =>
  Effect.gen(function*() {
    const apps = yield* Apps
    const recipes = yield* Recipes
    const docker = yield* Docker
    const readOnly = options.readOnly ?? false

    if (!readOnly) yield* apps.ensureServer(app.server).pipe(within(app, "server", SHORT_STEP))
    if (options.skipFetch) yield* Effect.logInfo(`skip fetch: using the local ${app.recipe} recipe clone as it is`)
    else yield* recipes.fetch(app.recipe).pipe(within(app, "fetch", SHORT_STEP))
    const tags = yield* recipes.tags(app.recipe).pipe(within(app, "tags", SHORT_STEP))

    // The env file: created at the latest version when the app has never been set up.
    let env = yield* apps.readEnv(app).pipe(within(app, "env read", SHORT_STEP))
    const envExists = Option.isSome(env)
    if (Option.isNone(env) && !readOnly) {
      const first = Plan.classify({ deployed: false, current: Option.none(), tags, policy: app.upgrade })
      if (first._tag === "FreshDeploy") {
        yield* apps.create(app, first.version.tag).pipe(within(app, "app new", SHORT_STEP))
        env = yield* apps.readEnv(app).pipe(within(app, "env read", SHORT_STEP))
        if (Option.isNone(env)) {
          return yield* new AbraError({
            app: app.name,
            operation: "app new",
            message: `abra app new left no env file for ${app.domain}`
          })
        }
      }
    }
    const appEnv = Option.getOrElse(
      env,
      () => ({ pinned: Option.none<string>(), secrets: [] as ReadonlyArray<string> })
    )

    const present = yield* docker.secrets(app.stack).pipe(within(app, "secret list", SHORT_STEP))
    const missing = missingSecrets(app.stack, appEnv.secrets, present)
    if (missing.length > 0 && !readOnly) {
      yield* Effect.logInfo(`generate missing secrets: ${missing.join(", ")}`)
      yield* apps.generateSecrets(app).pipe(within(app, "secret generate", SHORT_STEP))
    }

    const deployed = yield* docker.isDeployed(app.stack).pipe(within(app, "deployed check", SHORT_STEP))
    const current = Option.isSome(appEnv.pinned) || !deployed
      ? appEnv.pinned
      : yield* docker.deployedVersion(app.stack).pipe(within(app, "deployed version", SHORT_STEP))
    const facts: Plan.Facts = { deployed, current, tags, policy: app.upgrade }
    const stage = Plan.classify(facts)

    // Read the notes of every version being skipped, not only the target's.
    const notes = new Map<string, string>()
    if (stage._tag === "Candidate") {
      for (const v of stage.skipped) {
        const text = yield* recipes.releaseNotes(app.recipe, v.tag).pipe(within(app, "release notes", SHORT_STEP))
        if (Option.isSome(text)) notes.set(v.tag, text.value)
      }
    }
    const previousHold = yield* (yield* State).hold(app.name).pipe(within(app, "hold read", SHORT_STEP))
    const failedRelease = Option.getOrUndefined(
      Option.flatMap(previousHold, (h) => h.reason === "held-failed-release" ? Option.some(h.to) : Option.none())
    )
    const healthy = Plan.needsHealth(facts, stage, notes, failedRelease)
      ? yield* settled(app, Option.getOrElse(current, () => "unknown"))
      : false
    const plan = Plan.plan(facts, stage, { healthy, notes, failedRelease })
    yield* Effect.logInfo(`plan: ${plan._tag}`)
    return { facts, stage, notes, healthy, plan, envExists, missingSecrets: missing } satisfies Observation
  })

/**
 * Reconcile one app. Fails (typed) only when something goes wrong before anything was changed;
 * everything after the first change ends as an {@link Outcome}.
 */
export const reconcile = (app: AppSpec, options: ReconcileOptions = {}, report?: Ref.Ref<Option.Option<Outcome>>) =>
  Effect.gen(function*() {
    const state = yield* State
    const reported = report ?? (yield* Ref.make(Option.none<Outcome>()))
    const { notes, plan } = yield* observe(app, options)

    return yield* Plan.Plan.$match(plan, {
      Fail: ({ reason }) => Effect.succeed(Outcome.failed({ reason: `recipe ${app.recipe}: ${reason}` })),
      Hold: (p) => hold(app, p, reported),
      Noop: ({ version }) =>
        Effect.gen(function*() {
          yield* state.setLastGood(app.name, version).pipe(within(app, "last-good write", SHORT_STEP))
          yield* clearHold(app)
          yield* Effect.logInfo(`already on latest ${version} and healthy: nothing to do`)
          return Outcome["noop-healthy"]({ version })
        }),
      FreshDeploy: ({ version }) =>
        Effect.gen(function*() {
          yield* Effect.logInfo(`not deployed: fresh deploy of ${version}`)
          const passed = yield* deployAndWait(app, version).pipe(Effect.either)
          if (passed._tag === "Left") {
            if (passed.left._tag !== "HealthGateFailed") return yield* passed.left
            yield* writeAlert(app, "unhealthy-after-deploy", { version, error: passed.left.message })
            return Outcome.unhealthy({ version })
          }
          yield* state.setLastGood(app.name, version).pipe(within(app, "last-good write", SHORT_STEP))
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
          yield* state.setLastGood(app.name, version).pipe(within(app, "last-good write", SHORT_STEP))
          yield* clearHold(app)
          return Outcome["redeployed-healthy"]({ version })
        }),
      Upgrade: (p) =>
        Effect.gen(function*() {
          const text = notesText([...notes].map(([version, n]) => ({ version, notes: n })))
          const outcome = yield* upgrade(app, p, text, reported)
          if (outcome._tag === "upgraded") yield* clearHold(app)

          return outcome
        })
    })
  }).pipe(Effect.annotateLogs({ app: app.name }), Effect.withSpan("reconcile", { attributes: { app: app.name } }))

/**
 * Recover from an upgrade that a killed run left half done: the target deployed and healthy means
 * commit; anything else means restore the snapshot and redeploy last-good. One `recovered` alert
 * (or `rollback-failed`).
 */
export const recover = (app: AppSpec, record: InFlight) =>
  Effect.gen(function*() {
    const docker = yield* Docker
    const snapshots = yield* Snapshots
    const state = yield* State
    const { from, to } = record
    yield* Effect.logWarning(
      `found an unfinished upgrade ${from} -> ${to} (phase ${record.phase}, pid ${record.pid}, ` +
        `started ${record.startedAt}): recovering before anything else`
    )
    const { track } = yield* tracker(app, from, to, record.fromHealthy, record.snapshot)
    const deployed = yield* docker.isDeployed(app.stack).pipe(within(app, "deployed check", SHORT_STEP))
    const running = deployed
      ? Option.getOrUndefined(
        yield* docker.deployedVersion(app.stack).pipe(within(app, "deployed version", SHORT_STEP))
      )
      : undefined
    const healthyNow = (version: string) =>
      Clock.currentTimeMillis.pipe(
        Effect.flatMap((since) => waitHealthy(app, { version, timeout: app.health.timeout, since })),
        Effect.as(true),
        Effect.catchTag("HealthGateFailed", (e) => Effect.logWarning(e.message).pipe(Effect.as(false)))
      )
    const settle = (lastGood: string, committed: boolean) =>
      Effect.gen(function*() {
        if (committed || record.fromHealthy) {
          yield* state.setLastGood(app.name, lastGood).pipe(within(app, "last-good write", SHORT_STEP))
        }
        // The record goes only once the alert is written, so that no recovery goes untold.
        const alerted = yield* writeAlert(app, "recovered", {
          last_good: lastGood,
          attempted: to,
          committed,
          phase: record.phase,
          recovered: true
        }).pipe(
          Effect.as(true),
          Effect.catchAll((e) =>
            Effect.logError(`the recovered alert could not be written: ${e.message}`).pipe(Effect.as(false))
          )
        )
        if (!alerted) return Outcome.failed({ reason: `recovered ${to}, but the alert could not be written` })
        yield* track("done")
        return Outcome.recovered({ attempted: to, lastGood, committed })
      })

    // The target runs: if it is healthy the upgrade had in fact succeeded; commit it. (Whatever the
    // phase says: the record may be behind, but the target only runs after its deploy.)
    if (running === to && (yield* healthyNow(to))) {
      yield* clearHold(app)
      return yield* settle(to, true)
    }
    // Killed before anything destructive (last-good still runs, its data untouched), or after a
    // finished rollback whose alert was not written yet: leave it be, and tell.
    const untouched = record.snapshot === null && record.phase !== "rollback"
    if (running === from && (untouched || record.phase === "alert") && (yield* healthyNow(from))) {
      if (record.phase === "alert") yield* rememberFailedRelease(app, from, to)
      return yield* settle(from, false)
    }
    // Otherwise roll back, from whatever state the killed run left.
    const snapshot = record.snapshot === null
      ? Option.none()
      : Option.filter(
        yield* snapshots.show(app).pipe(within(app, "snapshot show", SHORT_STEP)),
        (m) => m.version === record.snapshot
      )
    const volumes = app.stateful
      ? yield* docker.stackVolumes(app.stack).pipe(within(app, "volume list", SHORT_STEP))
      : []
    const progress = yield* Ref.make<Progress>({ undeployed: true, volumes, snapshot, deployAttempted: true })
    // The target is held only if it had its chance (the run died in or after its health gate); a
    // run killed while undeploying, snapshotting or deploying says nothing against the release.
    const judged = ["health", "rollback", "rollback-failed", "alert"].includes(record.phase)
    const outcome = yield* rollback(app, from, to, "", progress, Cause.fail({ message: "the run was killed" }), {
      track,
      successAlert: "recovered",
      remember: judged
    })
    return outcome._tag === "rolled-back"
      ? Outcome.recovered({ attempted: to, lastGood: from, committed: false })
      : outcome
  }).pipe(Effect.annotateLogs({ app: app.name, phase: "recover" }))

/**
 * One full run for one app: reconcile, turn a failure before any change into the `failed`
 * outcome, and record the run in the history, also when the run is interrupted.
 */
export const run = (app: AppSpec, options: ReconcileOptions = {}) =>
  Effect.gen(function*() {
    const state = yield* State
    const startedAt = yield* Clock.currentTimeMillis
    const report = yield* Ref.make(Option.none<Outcome>())
    const record = (outcome: Outcome, interrupted: boolean) =>
      Clock.currentTimeMillis.pipe(
        Effect.flatMap((endedAt) =>
          state.recordRun(
            new RunRecord({
              app: app.name,
              outcome: outcome._tag,
              detail: Outcome.$is("failed")(outcome) ? outcome.reason : "",
              startedAt: new Date(startedAt).toISOString(),
              endedAt: new Date(endedAt).toISOString(),
              interrupted
            })
          ).pipe(within(app, "history write", SHORT_STEP))
        ),
        Effect.catchAll((e) => Effect.logError(`could not record the run: ${e.message}`))
      )
    // A run killed in the middle of an upgrade left a record: recover before anything else.
    const pending = yield* state.inFlight(app.name).pipe(
      within(app, "in-flight read", SHORT_STEP),
      Effect.catchAll((e) => Effect.logError(e.message).pipe(Effect.as(Option.none<InFlight>())))
    )
    const work: Effect.Effect<Outcome, { readonly message: string }, Services | Health> = Option.match(pending, {
      onNone: () => reconcile(app, options, report),
      onSome: (record) => recover(app, record)
    })
    const outcome = yield* work.pipe(
      Effect.catchAll((e) => Effect.logError(e.message).pipe(Effect.as(Outcome.failed({ reason: e.message })))),
      Effect.tap((outcome) => Ref.set(report, Option.some(outcome))),
      Effect.onInterrupt(() =>
        Effect.gen(function*() {
          const last = Option.getOrElse(yield* Ref.get(report), () => Outcome.failed({ reason: "interrupted" }))
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
