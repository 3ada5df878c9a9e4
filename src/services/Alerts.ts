/** Alerts: the records a person must read (holds, rollbacks, an app left unhealthy). */
import type { Effect } from "effect"
import { Context, Schema } from "effect"
import type { Alert } from "../domain/Alert.js"

export class AlertError extends Schema.TaggedError<AlertError>()("AlertError", {
  message: Schema.String
}) {}

export class Alerts extends Context.Tag("warm-reconcile/Alerts")<Alerts, {
  /** Store one alert durably; answers where it went (a path, or an id). */
  readonly write: (alert: Alert) => Effect.Effect<string, AlertError>
}>() {}
