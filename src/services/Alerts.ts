/** Alerts: the records a person must read (holds, rollbacks, an app left unhealthy). */
import { Context, Effect, Layer, Ref, Schema } from "effect"
import type { Alert } from "../domain/Alert.js"
import { SimulatedWorld } from "../simulation/World.js"

export class AlertError extends Schema.TaggedError<AlertError>()("AlertError", {
  message: Schema.String
}) {}

export class Alerts extends Context.Tag("warm-reconcile/Alerts")<Alerts, {
  /** Store one alert durably; answers where it went (a path, or an id). */
  readonly write: (alert: Alert) => Effect.Effect<string, AlertError>
}>() {}

/** In-memory alerts, kept in the simulated world. */
export const layerTest: Layer.Layer<Alerts, never, SimulatedWorld> = Layer.effect(
  Alerts,
  Effect.gen(function*() {
    const world = yield* SimulatedWorld
    return Alerts.of({
      write: (alert) =>
        world.step("alert", alert.app, `alert ${alert.reason}`).pipe(
          Effect.mapError((fault) =>
            new AlertError({ message: `could not write the ${alert.reason} alert: ${fault.message}` })
          ),
          Effect.zipRight(Ref.modify(world.state, (s) => {
            const id = `${alert.ts}-${alert.app}-${alert.reason}`
            return [id, { ...s, alerts: [...s.alerts, alert] }] as const
          }))
        )
    })
  })
)
