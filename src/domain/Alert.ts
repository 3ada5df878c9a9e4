/** Alerts: the original's shape (`app`, `reason`, `ts`, fields) plus `schemaVersion`. Pure. */
import { Schema } from "effect"
import { HeldReason } from "./Hold.js"

export const AlertReason = Schema.Literal(
  ...HeldReason.literals,
  "rollback",
  "rollback-failed",
  "recovered",
  "unhealthy-on-latest",
  "unhealthy-after-deploy",
  "state-unreadable",
  // An app on latest was redeployed because it was unhealthy, and is healthy again: never silently.
  "redeployed"
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

const text = (description: string) => Schema.optional(Schema.String.annotations({ description }))

/**
 * The alert file as {@link toJson} writes it: what a relay reads, and what `docs/alert.schema.json`
 * is generated from. Each reason carries some of the optional fields; more may be added, never renamed.
 */
export const AlertFile = Schema.Struct(
  {
    schemaVersion: Schema.Literal(ALERT_SCHEMA_VERSION).annotations({
      description: "The shape of this file. The Python original wrote none; a reader takes that as 1."
    }),
    app: Schema.String.annotations({ description: "The app's name in the config." }),
    reason: AlertReason.annotations({ description: "What happened; it decides which other fields are present." }),
    ts: Schema.String.pipe(Schema.pattern(/^\d{8}T\d{6}Z$/)).annotations({
      description: "When, in UTC: yyyymmddThhmmssZ, as the original wrote it. Also the start of the file name."
    }),
    current: text("held-*: the version that stays deployed."),
    latest: text("held-*: the version not upgraded to."),
    policy: text("held-policy: the app's upgrade policy (patch or none)."),
    versions: Schema.optional(
      Schema.Array(Schema.String).annotations({
        description: "held-manual-migration: the versions whose release notes ask for a manual step."
      })
    ),
    markers: Schema.optional(
      Schema.Array(Schema.String).annotations({
        description: "held-manual-migration: the words found in those notes, one per version."
      })
    ),
    release_notes: text(
      "held-*, rollback, rollback-failed: the release notes of the versions concerned, cut to a few thousand characters."
    ),
    last_good: text("rollback, rollback-failed, recovered: the version rolled back to."),
    attempted: text("rollback, rollback-failed, recovered: the version that failed (or was being installed)."),
    recovered: Schema.optional(
      Schema.Boolean.annotations({
        description: "rollback, rollback-failed, recovered: whether last-good runs healthy again."
      })
    ),
    cause: text("rollback, rollback-failed, redeployed: why the upgrade was rolled back (or the app redeployed)."),
    gate: text(
      "rollback, rollback-failed: the health gate's verdict when it failed the release: `timeout`, " +
        "`crash-loop`, `not-converged`, `unhealthy`, `swarm-rollback` or `swarm-paused`."
    ),
    failed_service: text(
      "rollback, rollback-failed: the service of the stack the gate failed on, `<stack>_<service>`."
    ),
    failed_step: text("rollback-failed: the step of the rollback that failed."),
    error: text("rollback-failed, unhealthy-*: the error."),
    snapshot_version: text("rollback, rollback-failed: the version whose data the restored snapshot held."),
    committed: Schema.optional(
      Schema.Boolean.annotations({
        description: "recovered: true when the interrupted upgrade had finished and was kept."
      })
    ),
    phase: text("recovered: the phase the interrupted run was in."),
    version: text("unhealthy-*: the version that is not healthy; redeployed: the version redeployed."),
    chaos_version: text("held-chaos: the `chaos-version` label of the chaos deploy that runs."),
    resume: text("held-chaos: how to hand the app back (deploy a release with abra).")
  },
  // Fields that a later version adds: a relay must accept what it does not know yet.
  Schema.Record({ key: Schema.String, value: Schema.Unknown })
).annotations({
  identifier: "AlertFile",
  title: "warm-reconcile alert",
  description: "One file <stateDir>/alerts/<ts>-<app>-<reason>.json, written atomically; " +
    "`alerts ack` moves it into alerts/acknowledged/."
})
