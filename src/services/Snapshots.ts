/**
 * Snapshots: the last-good copy of a stateful app's volumes, taken while it is undeployed and
 * restored when an upgrade fails. One snapshot per app, replaced as a whole (older ones kept with
 * `snapshot.keep` are only listed). What it covers follows the app's `snapshot.volumes` and
 * `snapshot.exclude` (../domain/SnapshotConfig.ts); a volume or path left out is left as the failed
 * release left it on a restore. A pre-copy while the app still runs makes the take after the
 * undeploy copy only what changed since.
 */
import type { Effect, Option } from "effect"
import { Context, Schema } from "effect"
import type { AppSpec } from "../domain/Config.js"
import type { StackVolume } from "./Docker.js"

export class SnapshotError extends Schema.TaggedError<SnapshotError>()("SnapshotError", {
  app: Schema.String,
  operation: Schema.Literal("space", "precopy", "take", "restore", "show", "export"),
  message: Schema.String
}) {}

/** How a snapshot's trees were copied: by rsync (`copy`) or as reflinks (`reflink`, metadata only). */
export const SnapshotMethod = Schema.Literal("copy", "reflink")
export type SnapshotMethod = typeof SnapshotMethod.Type

/**
 * `meta.json`, in the original's shape plus sha256 sums: of each volume's archive (`tar`, the
 * original's and earlier versions'), or of each volume's manifest (`tree`).
 */
export class SnapshotMeta extends Schema.Class<SnapshotMeta>("SnapshotMeta")({
  recipe: Schema.String,
  domain: Schema.String,
  version: Schema.String,
  /** The recipe commit, as the Python original's helper recorded it. */
  commit: Schema.optional(Schema.String),
  /** Ours write an ISO string; the original's helper may have written epoch seconds. */
  ts: Schema.Union(Schema.String, Schema.Number),
  volumes: Schema.Array(Schema.String),
  sha256: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.String }), { default: () => ({}) }),
  /** Absent in snapshots written before the tree store: those are tar archives. */
  format: Schema.optionalWith(Schema.Literal("tar", "tree"), { default: () => "tar" as const }),
  method: Schema.optional(SnapshotMethod),
  /** The exclude patterns per volume the take left out (`snapshot.exclude`); only volumes that have some. */
  exclude: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Array(Schema.String) }))
}) {}

/** One volume of a snapshot as `snapshot show` lists it. */
export interface SnapshotVolume {
  readonly name: string
  /** Regular files; none for an archive (the earlier tar format), which is not read to count them. */
  readonly files: Option.Option<number>
  /** The data's size (of an archive: the archive's). */
  readonly bytes: number
}

/** A snapshot with what it holds: the last one (`kept: false`, what a rollback restores) or an older one kept. */
export interface SnapshotSummary {
  readonly meta: SnapshotMeta
  readonly volumes: ReadonlyArray<SnapshotVolume>
  readonly kept: boolean
}

/** Bytes free on the snapshot's filesystem, and bytes the next snapshot would add to it. */
export interface SnapshotSpace {
  readonly free: number
  readonly needed: number
}

export class Snapshots extends Context.Tag("warm-reconcile/Snapshots")<Snapshots, {
  /**
   * What the next snapshot of these volumes would add (their data minus what the last snapshot
   * already holds; nothing for a reflink copy), against the free space where it goes. Reads only.
   */
  readonly space: (app: AppSpec, volumes: ReadonlyArray<StackVolume>) => Effect.Effect<SnapshotSpace, SnapshotError>
  /**
   * While the app still runs: bring a working copy of its volumes up to date, so that the take
   * after the undeploy copies only what changed since. Changes no volume and no snapshot.
   */
  readonly precopy: (app: AppSpec, volumes: ReadonlyArray<StackVolume>) => Effect.Effect<void, SnapshotError>
  /** Snapshot the volumes of an undeployed app as the data of `version`. */
  readonly take: (
    app: AppSpec,
    version: string,
    volumes: ReadonlyArray<StackVolume>
  ) => Effect.Effect<SnapshotMeta, SnapshotError>
  /** Bring the volumes back to the snapshot, all or nothing. The app must be undeployed. */
  readonly restore: (app: AppSpec, volumes: ReadonlyArray<StackVolume>) => Effect.Effect<SnapshotMeta, SnapshotError>
  readonly show: (app: AppSpec) => Effect.Effect<Option.Option<SnapshotMeta>, SnapshotError>
  /** The last snapshot, then the older ones kept (`snapshot.keep`), newest first. Reads only. */
  readonly list: (app: AppSpec) => Effect.Effect<ReadonlyArray<SnapshotSummary>, SnapshotError>
}>() {}
