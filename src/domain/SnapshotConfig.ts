/**
 * An app's `snapshot` settings (issue 17): which volumes are snapshotted, what is left out of
 * each, how many older snapshots are kept. Both snapshot stores read them through this module. Pure.
 *
 * A volume is named as the recipe's compose file names it (`app_data`), or by its whole Docker name
 * (`<stack>_app_data`).
 */
import { Either, Option, Schema } from "effect"
import { compile, type Pattern, UNSUPPORTED } from "./SnapshotExclude.js"

const VolumeName = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, { message: () => "expected a volume name such as app_data" })
)

const ExcludePattern = Schema.String.pipe(
  Schema.minLength(1),
  Schema.maxLength(1024),
  Schema.filter((s) =>
    // eslint-disable-next-line no-control-regex
    /[\u0000-\u001f\u007f]/.test(s)
      ? "an exclude pattern holds no control characters"
      : UNSUPPORTED.test(s)
      ? "an exclude pattern uses `*`, `**`, `?`, a leading `/` and a trailing `/` only (no `[`, `]` or `\\`)"
      : /^\/*$/.test(s)
      ? "an exclude pattern must name something below the volume's root"
      : true
  )
)

export class SnapshotConfig extends Schema.Class<SnapshotConfig>("SnapshotConfig")({
  volumes: Schema.optional(Schema.NonEmptyArray(VolumeName)).annotations({
    description: "The volumes snapshotted (and restored on a rollback), by their name in the recipe's compose " +
      "file (`app_data`) or their Docker name. Absent: all of the stack's volumes. A volume left out is left " +
      "as the failed release left it; a name the stack does not have stops the upgrade before anything changes."
  }),
  exclude: Schema.optional(
    Schema.Record({ key: VolumeName, value: Schema.Array(ExcludePattern) }).annotations({
      // Without it, a plain string (the commonest slip) is answered with the Schema's type dump.
      message: () => "expected patterns per volume, such as {\"app_data\": [\"cache/\"]}"
    })
  ).annotations({
    description: "Paths left out of the snapshot, per volume: `{\"app_data\": [\"appdata_*/preview\"]}` (rsync " +
      "`--exclude` patterns: `*`, `**`, `?`, a leading `/` anchors at the volume's root, a trailing `/` matches " +
      "directories only; a pattern without `/` matches a name at any depth). An excluded path is not copied and " +
      "not restored: a rollback leaves it as the failed release left it. Inherited per volume."
  }),
  keep: Schema.optional(Schema.Int.pipe(Schema.between(0, 100))).annotations({
    description: "Older snapshots kept besides the last one (`snapshot show` lists them), sharing unchanged files " +
      "with it (hard links or reflinks), so that keeping a week costs what changed. Absent: 0."
  })
}) {}

/** A volume's name in the config: its Docker name without the `<stack>_` prefix. */
export const shortName = (stack: string, volume: string): string =>
  volume.startsWith(`${stack}_`) ? volume.slice(stack.length + 1) : volume

interface Settings {
  readonly stack: string
  readonly snapshot?: SnapshotConfig | undefined
}

const names = (app: Settings, volume: string) => [...new Set([shortName(app.stack, volume), volume])]

/** Whether the config selects the volume (Docker name) for the snapshot. */
export const selects = (app: Settings, volume: string): boolean =>
  app.snapshot?.volumes === undefined || names(app, volume).some((n) => app.snapshot!.volumes!.includes(n))

/** The exclude patterns of one volume (Docker name), as written. */
export const excludesOf = (app: Settings, volume: string): ReadonlyArray<string> => {
  const table = app.snapshot?.exclude ?? {}
  return names(app, volume).flatMap((n) => Object.hasOwn(table, n) ? table[n]! : [])
}

export const compiled = (patterns: ReadonlyArray<string>): ReadonlyArray<Pattern> => patterns.map(compile)

export const keepOf = (app: Settings): number => app.snapshot?.keep ?? 0

/**
 * The stack's volumes the snapshot covers, or why the config cannot be applied to them: a volume
 * named in `snapshot.volumes` or `snapshot.exclude` that the stack does not have (a typo would
 * otherwise leave data out of the snapshot unseen).
 */
export const selectVolumes = <V extends { readonly name: string }>(
  app: Settings,
  volumes: ReadonlyArray<V>
): Either.Either<ReadonlyArray<V>, string> => {
  const known = new Set(volumes.flatMap((v) => names(app, v.name)))
  const named = [...(app.snapshot?.volumes ?? []), ...Object.keys(app.snapshot?.exclude ?? {})]
  const unknown = [...new Set(named.filter((n) => !known.has(n)))]
  if (unknown.length > 0) {
    const has = volumes.map((v) => shortName(app.stack, v.name)).join(", ") || "none"
    return Either.left(
      `the config's snapshot settings name volume(s) ${unknown.join(", ")} that stack ${app.stack} does not have ` +
        `(it has: ${has}); fix snapshot.volumes or snapshot.exclude`
    )
  }
  return Either.right(volumes.filter((v) => selects(app, v.name)))
}

/** What `plan` says about the snapshot's scope, when the config narrows it. */
export const describeScope = (app: Settings & { readonly stateful: boolean }): Option.Option<string> => {
  if (!app.stateful) return Option.none()
  const only = app.snapshot?.volumes
  const excluded = Object.entries(app.snapshot?.exclude ?? {}).filter(([, list]) => list.length > 0)
  if (only === undefined && excluded.length === 0) return Option.none()
  const parts = [
    ...(only === undefined ? [] : [`only volume(s) ${only.join(", ")}`]),
    ...(excluded.length === 0 ? [] : [
      `excluded ${excluded.map(([v, list]) => `${v}: ${list.join(", ")}`).join("; ")}`
    ])
  ]
  return Option.some(
    `snapshot: ${parts.join("; ")} (what is left out is not restored on a rollback: it stays as the failed ` +
      "release left it)"
  )
}
