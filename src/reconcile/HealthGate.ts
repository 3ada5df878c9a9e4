/**
 * The health gate: probe until N consecutive answers are healthy, within a deadline; give up early
 * when Swarm reports that the release keeps crashing. Time is Effect's Clock only.
 */
import { Clock, Duration, Effect, Either, Schema } from "effect"
import type { AppSpec } from "../domain/Config.js"
import { Docker } from "../services/Docker.js"
import { Health } from "../services/Health.js"
import { withDeadline } from "./Deadline.js"

export class HealthGateFailed extends Schema.TaggedError<HealthGateFailed>()("HealthGateFailed", {
  app: Schema.String,
  version: Schema.String,
  reason: Schema.Literal("timeout", "crash-loop"),
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
  /** How long to wait in all. */
  readonly timeout: Duration.DurationInput
  /** Failed tasks created before this moment (epoch ms) belong to an earlier deploy. */
  readonly since: number
}

export const waitHealthy = Effect.fn("HealthGate.waitHealthy")(function*(app: AppSpec, options: WaitOptions) {
  const health = yield* Health
  const docker = yield* Docker
  const cfg = app.health
  const start = yield* Clock.currentTimeMillis
  const deadline = start + Duration.toMillis(options.timeout)
  let consecutive = 0
  let probes = 0
  let last = "no answer yet"
  for (;;) {
    probes++
    // The deadline must hold inside a rollback too (a finalizer): see Deadline.
    const answer = yield* health.probe(app).pipe(
      withDeadline(cfg.attemptTimeout, () => ({ message: `no answer within ${Duration.format(cfg.attemptTimeout)}` })),
      Effect.either
    )
    const ok = Either.isRight(answer) && cfg.okStatus.includes(answer.right)
    last = Either.match(answer, { onLeft: (e) => e.message, onRight: (status) => `HTTP ${status}` })
    consecutive = ok ? consecutive + 1 : 0
    const now = yield* Clock.currentTimeMillis
    if (consecutive >= cfg.successes) return { probes, waitedMillis: now - start } satisfies HealthPassed
    if (!ok) {
      // Only a hint that ends the wait early: if Docker cannot say, the deadline still decides.
      const failed = yield* docker.failedTasks(app.stack, options.since).pipe(
        withDeadline(cfg.attemptTimeout, () => ({ message: "the task list did not come in time" })),
        Effect.catchAll((e) =>
          Effect.logWarning(`cannot check ${app.stack}_app for failed tasks: ${e.message}`).pipe(Effect.as([]))
        )
      )
      if (failed.length >= cfg.failedTasks) {
        return yield* new HealthGateFailed({
          app: app.name,
          version: options.version,
          reason: "crash-loop",
          last,
          failedTasks: failed.length,
          waitedMillis: now - start,
          message:
            `${app.name} ${options.version} is crash-looping: ${failed.length} failed tasks of ${app.stack}_app ` +
            `(${failed[failed.length - 1]?.error ?? "no error text"}); last probe: ${last}`
        })
      }
    }
    if (now >= deadline) {
      return yield* new HealthGateFailed({
        app: app.name,
        version: options.version,
        reason: "timeout",
        last,
        failedTasks: 0,
        waitedMillis: now - start,
        message: `${app.name} ${options.version} did not become healthy within ${
          Duration.format(options.timeout)
        }; last probe: ${last}`
      })
    }
    yield* Effect.sleep(Duration.min(cfg.interval, Duration.millis(Math.max(0, deadline - now))))
  }
})
