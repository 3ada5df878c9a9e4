/** In-memory Health over the simulated world. */
import { Effect, Layer, Option } from "effect"
import { Health, HealthProbeError } from "../services/Health.js"
import { answeringAt, SimulatedWorld, statusAt } from "./World.js"

/**
 * In-memory health from the simulated world: what the deployed release answers at this moment of
 * the Clock (the old task during its grace period, or after Swarm rolled back). A stack that is not deployed is answered by the proxy with 404; a release that is
 * not up (starting, crash-looping) with 502.
 */
export const layerTest: Layer.Layer<Health, never, SimulatedWorld> = Layer.effect(
  Health,
  Effect.gen(function*() {
    const world = yield* SimulatedWorld
    return Health.of({
      probe: (app) =>
        Effect.gen(function*() {
          const a = yield* world.app(app.name)
          const deployment = Option.getOrUndefined(a.deployment)
          const now = yield* Effect.clockWith((c) => c.currentTimeMillis)
          const answering = deployment === undefined
            ? undefined
            : answeringAt(yield* world.release(app.recipe, deployment.version), deployment, now)
          const status = answering === undefined
            ? 404
            : statusAt(yield* world.release(app.recipe, answering.version), answering, now) ?? 502
          // An answer from another task than the deployment's says so (the oracles count it for nothing).
          const from = answering === undefined || answering === deployment
            ? ""
            : ` from the task of ${answering.version}`
          yield* world.step("health", app.name, `GET https://${app.domain}${app.health.path} -> ${status}${from}`).pipe(
            Effect.mapError((fault) => new HealthProbeError({ domain: app.domain, message: fault.message }))
          )
          return status
        })
    })
  })
)
