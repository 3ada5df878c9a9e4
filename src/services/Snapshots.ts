/**
 * Snapshots: the last-good copy of a stateful app's volumes, taken while it is undeployed and
 * restored when an upgrade fails. One snapshot per app, replaced as a whole.
 */
import type { Effect, Option } from "effect"
import { Context, Schema } from "effect"
import type { AppSpec } from "../domain/Config.js"
import type { StackVolume } from "./Docker.js"

export class SnapshotError extends Schema.TaggedError<SnapshotError>()("SnapshotError", {
  app: Schema.String,
  operation: Schema.Literal("take", "restore", "show"),
  message: Schema.String
}) {}

/** `meta.json`, in the original's shape plus sha256 sums. */
export class SnapshotMeta extends Schema.Class<SnapshotMeta>("SnapshotMeta")({
  recipe: Schema.String,
  domain: Schema.String,
  version: Schema.String,
  /** The recipe commit, as the Python original's helper recorded it. */
  commit: Schema.optional(Schema.String),
  /** Ours write an ISO string; the original's helper may have written epoch seconds. */
  ts: Schema.Union(Schema.String, Schema.Number),
  volumes: Schema.Array(Schema.String),
  sha256: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.String }), { default: () => ({}) })
}) {}

export class Snapshots extends Context.Tag("warm-reconcile/Snapshots")<Snapshots, {
  /** Snapshot the volumes of an undeployed app as the data of `version`. */
  readonly take: (
    app: AppSpec,
    version: string,
    volumes: ReadonlyArray<StackVolume>
  ) => Effect.Effect<SnapshotMeta, SnapshotError>
  /** Bring the volumes back to the snapshot, all or nothing. The app must be undeployed. */
  readonly restore: (app: AppSpec, volumes: ReadonlyArray<StackVolume>) => Effect.Effect<SnapshotMeta, SnapshotError>
  readonly show: (app: AppSpec) => Effect.Effect<Option.Option<SnapshotMeta>, SnapshotError>
}>() {}
