/** In-memory Alerts over the simulated world. */
import { Effect, Layer, Ref } from "effect"
import { AlertError, Alerts } from "../services/Alerts.js"
import { SimulatedWorld } from "./World.js"

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
            // As the live file names: a second alert of the same app, reason and second is `-2`.
            const base = `${alert.ts}-${alert.app}-${alert.reason}`
            const same = s.alerts.filter((a) => a.ts === alert.ts && a.app === alert.app && a.reason === alert.reason)
            const id = same.length === 0 ? base : `${base}-${same.length + 1}`
            return [id, { ...s, alerts: [...s.alerts, alert] }] as const
          }))
        )
    })
  })
)
