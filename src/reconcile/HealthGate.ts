/**
 * The health gate: probe until N consecutive answers are healthy, within a deadline; an answer
 * counts only once Swarm has converged on the release for every service of the stack (see
 * Convergence): until then it may come from the old task. Swarm rolling back or pausing the
 * update, or a crash loop in any service, ends the wait at once. With `health.http: false` the
 * gate is convergence and container health alone. Time is Effect's Clock only.
 */
import { Clock, Duration, Effect, Either, Option, Schema } from "effect"
import type { AppSpec } from "../domain/Config.js"
import { Docker } from "../services/Docker.js"
import { Health } from "../services/Health.js"
import { type Convergence, describe, judge } from "./Convergence.js"
import { withDeadline } from "./Deadline.js"

export class HealthGateFailed extends Schema.TaggedError<HealthGateFailed>()("HealthGateFailed", {
  app: Schema.String,
  version: Schema.String,
  /**
   * `timeout`: converged but the probes never passed; `not-converged`: a service never reached its
   * replicas on the new spec; `unhealthy`: a container's healthcheck failed; `crash-loop`: tasks of a
   * service kept failing; `swarm-rollback` / `swarm-paused`: Swarm's own verdict on the update.
   */
  reason: Schema.Literal("timeout", "crash-loop", "not-converged", "unhealthy", "swarm-rollback", "swarm-paused"),
  /** The service the failure is about, `<stack>_<service>`, when one is to blame. */
  service: Schema.optional(Schema.String),
  /** What the last probe saw: a status, or why there was no answer. */
  last: Schema.String,
  failedTasks: Schema.Number,
  waitedMillis: Schema.Number,
  message: Schema.String
}) {}

export interface HealthPassed {
  readonly probes: number
  readonly waitedMillis: number
}

export interface WaitOptions {
  readonly version: string
  /** How long to wait in all: convergence and probes together. */
  readonly timeout: Duration.DurationInput
  /** Failed tasks and updates before this moment (epoch ms) belong to an earlier deploy. */
  readonly since: number
  /**
   * Slow is not broken: while Swarm is still converging (and shows nothing failing) at `timeout`,
   * keep waiting up to this long in all. Absent: `timeout` decides.
   */
  readonly patience?: Duration.DurationInput
  /** The gate right after a deploy: an answer Docker cannot place never counts. */
  readonly afterDeploy?: boolean
}

/** A line in the log this often during a long wait. */
export const PROGRESS_EVERY = Duration.seconds(30)

/** What Swarm says, or why we cannot tell (the probes then decide alone, as before this gate). */
type Look = Either.Either<Convergence, string>

export const waitHealthy = Effect.fn("HealthGate.waitHealthy")(function*(app: AppSpec, options: WaitOptions) {
  const health = yield* Health
  const docker = yield* Docker
  const cfg = app.health
  const start = yield* Clock.currentTimeMillis
  const deadline = start + Duration.toMillis(options.timeout)
  const patient = start + Duration.toMillis(options.patience ?? options.timeout)
  let consecutive = 0
  let probes = 0
  let last = cfg.http ? "no answer yet" : "no look at Swarm yet"
  let lastProgress = start
  let swarm: Look = Either.left("not looked yet")
  let lastKnown: Convergence | undefined
  let extended = false
  const fail = (reason: HealthGateFailed["reason"], now: number, message: string, service?: string, tasks = 0) =>
    new HealthGateFailed({
      app: app.name,
      version: options.version,
      reason,
      ...(service === undefined || service === "" ? {} : { service }),
      last,
      failedTasks: tasks,
      waitedMillis: now - start,
      message
    })
  for (;;) {
    probes++
    // What Swarm said before this probe: an answer counts only between two looks that both saw the
    // stack converged. The look after alone would count an old task's answer that came just before
    // it exited (a start-first update); right after a deploy nothing was seen yet, so the first
    // probe never counts.
    const before = lastKnown
    let ok: boolean
    if (cfg.http) {
      // The deadline must hold inside a rollback too (a finalizer): see Deadline.
      const answer = yield* health.probe(app).pipe(
        withDeadline(
          cfg.attemptTimeout,
          () => ({ message: `no answer within ${Duration.format(cfg.attemptTimeout)}` })
        ),
        Effect.either
      )
      ok = Either.isRight(answer) && cfg.okStatus.includes(answer.right)
      last = Either.match(answer, { onLeft: (e) => e.message, onRight: (status) => `HTTP ${status}` })
    } else {
      ok = true
    }
    swarm = yield* docker.stackFacts(app.stack, options.since).pipe(
      withDeadline(cfg.attemptTimeout, () => ({ message: "the task list did not come in time" })),
      Effect.map((facts) =>
        judge(facts, { version: options.version, since: options.since, failedTasks: cfg.failedTasks })
      ),
      Effect.either,
      Effect.map(Either.mapLeft((e) => e.message))
    )
    const now = yield* Clock.currentTimeMillis
    if (Either.isLeft(swarm)) {
      // Docker cannot say. After a deploy an answer counts for nothing then: it may be an old task's,
      // or the old release's after Swarm rolled the update back since the last look (a release that
      // never answered was committed so). A look at a running app lets the probes decide, unless the
      // last look saw it unconverged.
      yield* Effect.logWarning(`cannot look at the services of ${app.stack}: ${swarm.left}`)
      if (!cfg.http || options.afterDeploy === true || (lastKnown !== undefined && lastKnown._tag !== "converged")) {
        ok = false
      }
    } else {
      lastKnown = swarm.right
      const seen = swarm.right
      if (seen._tag === "failed") {
        const what = seen.reason === "crash-loop" ? "is crash-looping" : "failed in Swarm"
        return yield* fail(
          seen.reason,
          now,
          `${app.name} ${options.version} ${what}: ${seen.why}; last probe: ${last}`,
          seen.service,
          seen.tasks
        )
      }
      if (seen._tag === "waiting") {
        if (ok && cfg.http) yield* Effect.logDebug(`${last} not counted: Swarm has not converged (${describe(seen)})`)
        ok = false
      } else if (before === undefined ? options.afterDeploy === true : before._tag !== "converged") {
        if (ok && cfg.http) yield* Effect.logDebug(`${last} not counted: Swarm converged only after it was sent`)
        ok = false
      }
      if (!cfg.http) last = describe(seen)
    }
    consecutive = ok ? consecutive + 1 : 0
    if (consecutive >= cfg.successes) return { probes, waitedMillis: now - start } satisfies HealthPassed
    if (now - lastProgress >= Duration.toMillis(PROGRESS_EVERY)) {
      lastProgress = now
      yield* Effect.logInfo(
        `health of ${options.version}: ${Math.round((now - start) / 1000)} s waited; last probe: ${last}; ` +
          `Swarm: ${Either.match(swarm, { onLeft: (why) => `unknown (${why})`, onRight: describe })}`
      )
    }
    const converging = Either.isRight(swarm) && swarm.right._tag === "waiting" && swarm.right.kind === "converging"
    // Once patience was granted, the probes after convergence get it too.
    extended ||= converging && now >= deadline
    const end = extended ? Math.max(deadline, patient) : deadline
    if (now >= end) {
      const seen = Either.getOrUndefined(swarm)
      if (seen !== undefined && seen._tag === "waiting") {
        const limit = Duration.format(Duration.millis(now - start))
        return yield* fail(
          seen.kind === "unhealthy" ? "unhealthy" : "not-converged",
          now,
          `${app.name} ${options.version} did not become healthy within ${limit}: ` +
            `${describe(seen)}${cfg.http ? `; last probe: ${last}` : ""}`,
          seen.service
        )
      }
      return yield* fail(
        "timeout",
        now,
        `${app.name} ${options.version} did not become healthy within ${Duration.format(options.timeout)}; ` +
          `last probe: ${last}`
      )
    }
    yield* Effect.sleep(Duration.min(cfg.interval, Duration.millis(Math.max(0, end - now))))
  }
})

/** The gate's verdict in the words of an outcome: `crash-loop in <service>`, or the reason alone. */
export const failureName = (e: HealthGateFailed): string =>
  Option.match(Option.fromNullable(e.service), { onNone: () => e.reason, onSome: (s) => `${e.reason} in ${s}` })
