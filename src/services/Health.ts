/** Health: one HTTP probe of an app's health endpoint. Waiting and deciding live in the program. */
import type { Effect } from "effect"
import { Context, Schema } from "effect"
import type { AppSpec } from "../domain/Config.js"

/** The probe got no HTTP answer at all (refused, reset, TLS failure, timeout). */
export class HealthProbeError extends Schema.TaggedError<HealthProbeError>()("HealthProbeError", {
  domain: Schema.String,
  message: Schema.String
}) {}

export class Health extends Context.Tag("warm-reconcile/Health")<Health, {
  /** One GET of the app's health endpoint: the HTTP status it answered. */
  readonly probe: (app: AppSpec) => Effect.Effect<number, HealthProbeError>
}>() {}
