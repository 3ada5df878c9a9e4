/** Alerts: the original's shape (`app`, `reason`, `ts`, fields) plus `schemaVersion`. Pure. */
import { Schema } from "effect"

export const AlertReason = Schema.Literal(
  "held-major",
  "held-manual-migration",
  "held-policy",
  "held-unknown-version",
  "held-failed-release",
  "rollback",
  "rollback-failed",
  "recovered",
  "unhealthy-on-latest",
  "unhealthy-after-deploy"
)
export type AlertReason = typeof AlertReason.Type

export const ALERT_SCHEMA_VERSION = 1

export class Alert extends Schema.Class<Alert>("Alert")({
  schemaVersion: Schema.Literal(ALERT_SCHEMA_VERSION),
  app: Schema.String,
  reason: AlertReason,
  /** UTC `yyyymmddThhmmssZ`, as the original wrote it. */
  ts: Schema.String,
  fields: Schema.Record({ key: Schema.String, value: Schema.Unknown })
}) {}

/** `2026-11-25T20:15:35.123Z` becomes `20261125T201535Z`. */
export const timestamp = (millis: number): string =>
  new Date(millis).toISOString().replace(/\.\d{3}Z$/, "Z").replaceAll("-", "").replaceAll(":", "")

/** The alert as written to disk: the fields flattened next to app, reason and ts. */
export const toJson = (alert: Alert): Record<string, unknown> => ({
  ...alert.fields,
  app: alert.app,
  reason: alert.reason,
  ts: alert.ts,
  schemaVersion: alert.schemaVersion
})
