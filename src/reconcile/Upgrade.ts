/**
 * The health-gated upgrade from the running version to the target, as a scoped transaction:
 * `acquireUseRelease` whose acquire records last-good and (for a stateful app) undeploys and
 * snapshots, and whose release, on a failed or interrupted Exit, rolls back. The typed failure
 * channel of the steps in between is what forces the rollback.
 */
import { type Cause, Effect, Exit, Option, Ref } from "effect"
import type { AppSpec } from "../domain/Config.js"
import { Outcome } from "../domain/Outcome.js"
import type * as Plan from "../domain/Plan.js"
import { Apps } from "../services/Apps.js"
import { Docker } from "../services/Docker.js"
import { Snapshots } from "../services/Snapshots.js"
import { State } from "../services/State.js"
import { releaseFailed, type RollbackCause } from "./Errors.js"
import { holdNoSpace } from "./Hold.js"
import { tracker } from "./InFlight.js"
import { type Progress, rollback } from "./Rollback.js"
import { deployAndWait, inStep, report, SHORT_STEP, SNAPSHOT_STEP, timedPhase, within } from "./Steps.js"

export const upgrade = (app: AppSpec, plan: Extract<Plan.Plan, { _tag: "Upgrade" }>, notes: string) =>
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
    const track = yield* tracker(app, from, to, plan.fromHealthy)
    // The rollback holds the target as a failed release only when the release itself failed.
    const undo = (cause: Cause.Cause<RollbackCause>) =>
      Ref.get(progress).pipe(
        Effect.flatMap((done) =>
          rollback(app, { from, to, notes }, done, cause, { tracker: track, remember: releaseFailed(cause, to) })
        ),
        Effect.tap((outcome) => Ref.set(rolledBack, Option.some(outcome))),
        Effect.tap(report)
      )

    // Before the first destructive step: the volumes, and whether their snapshot fits.
    const preflight = Effect.gen(function*() {
      if (!app.stateful) return Option.none<Outcome>()
      const volumes = yield* docker.stackVolumes(app.stack).pipe(within(app, "volume list", SHORT_STEP))
      yield* Ref.update(progress, (p) => ({ ...p, volumes }))
      const space = yield* snapshots.space(app, volumes).pipe(within(app, "snapshot space check", SNAPSHOT_STEP))
      return space.needed > space.free ? Option.some(yield* holdNoSpace(app, from, to, space)) : Option.none()
    })
    const stopped = yield* preflight.pipe(
      Effect.tap(Option.match({ onNone: () => Effect.void, onSome: report })),
      Effect.catchAll((e) =>
        Effect.succeed(Option.some(Outcome.failed({ reason: `upgrade ${from}->${to} not started: ${e.message}` })))
      )
    )
    if (Option.isSome(stopped)) return stopped.value

    // Acquire: record last-good, then (stateful) undeploy and snapshot. If it fails halfway it
    // undoes itself, since the release only runs after a successful acquire.
    const prepare = Effect.gen(function*() {
      yield* Effect.logInfo(`auto-upgrade ${from} -> ${to} (health-gated)`)
      // Before the first destructive step: a run killed from here on is recovered by the next one.
      yield* track.begin(app.stateful ? "undeploy" : "deploy")
      if (plan.fromHealthy) yield* state.setLastGood(app.name, from).pipe(within(app, "last-good write", SHORT_STEP))
      else yield* Effect.logWarning(`${from} was not healthy before the upgrade: last-good not advanced`)
      if (!app.stateful) return
      const { volumes } = yield* Ref.get(progress)
      // While the app still serves: the snapshot after the undeploy then copies only what changed.
      yield* snapshots.precopy(app, volumes).pipe(within(app, "snapshot pre-copy", SNAPSHOT_STEP))
      yield* Effect.logInfo(`undeploy for a snapshot of ${volumes.length} volume(s)`)
      yield* apps.undeploy(app).pipe(within(app, "undeploy", app.deployTimeout), inStep("undeploy"))
      yield* Ref.update(progress, (p) => ({ ...p, undeployed: true }))
      yield* track.advance("snapshot")
      const meta = yield* snapshots.take(app, from, volumes).pipe(
        within(app, "snapshot", SNAPSHOT_STEP),
        timedPhase("snapshot")
      )
      yield* Ref.update(progress, (p) => ({ ...p, snapshot: Option.some(meta) }))
      yield* track.advance("deploy", meta.version)
    }).pipe(Effect.tapErrorCause(undo))

    // Use: deploy the target and gate it; the release rolls back on any failure or interruption.
    const transaction = Effect.acquireUseRelease(
      prepare,
      () =>
        Effect.gen(function*() {
          yield* Ref.update(progress, (p) => ({ ...p, deployAttempted: true }))
          yield* deployAndWait(app, to, track.advance("health"))
          yield* state.setLastGood(app.name, to).pipe(within(app, "last-good write", SHORT_STEP))
          // Committed. A failure to remove the record is only logged: the next run would find the
          // target deployed and healthy, and commit again.
          yield* track.finish
          yield* Effect.logInfo(`upgrade healthy: committed last-good ${to}`)
        }),
      (_, exit) => Exit.isFailure(exit) ? undo(exit.cause) : Effect.void
    )
    return yield* transaction.pipe(
      Effect.as(Outcome.upgraded({ from, to })),
      Effect.catchAll((e) =>
        Ref.get(rolledBack).pipe(Effect.map(Option.getOrElse(() => Outcome.failed({ reason: e.message }))))
      )
    )
  })
