/** `snapshot show`: the snapshots of an app as lines for a person. Pure. */
import { Duration, Option } from "effect"
import { escapeControls } from "../domain/Text.js"
import type { SnapshotSummary } from "../services/Snapshots.js"

/** `12.3 MiB`, and the exact count of bytes for a script. */
export const size = (n: number): string => {
  const power = Math.min(4, Math.floor(Math.log(Math.max(n, 1)) / Math.log(1024)))
  return power === 0
    ? `${n} bytes`
    : `${(n / 1024 ** power).toFixed(1)} ${["KiB", "MiB", "GiB", "TiB"][power - 1]} (${n} bytes)`
}

/** One snapshot as `snapshot show` lists it: a heading, then a line per volume. */
export const describeSummary = (s: SnapshotSummary, now: number): Array<string> => {
  const m = s.meta
  const taken = typeof m.ts === "number" ? m.ts * 1000 : Date.parse(m.ts)
  const minutes = Math.floor((now - taken) / 60_000)
  const age = Number.isNaN(taken)
    ? "age unknown"
    : minutes < 1
    ? "less than a minute ago"
    : `${Duration.format(Duration.minutes(minutes))} ago`
  const heading = s.kept ? "older snapshot (kept)" : "last snapshot (what a rollback restores)"
  const method = m.format === "tar" ? "tar archive (earlier format)" : `method ${m.method ?? "copy"}`
  return [
    // The version and time come from a file on disk (perhaps the Python original's): one line each.
    `${heading}: ${escapeControls(`${m.version}, taken ${m.ts}`)} (${age}), ${method}`,
    ...s.volumes.map((v) => {
      const excluded = m.exclude?.[v.name] ?? []
      return `  ${v.name}: ${
        Option.match(v.files, { onNone: () => "", onSome: (f) => `${f} file${f === 1 ? "" : "s"}, ` })
      }` +
        `${size(v.bytes)}${excluded.length > 0 ? `; excluded: ${excluded.join(", ")}` : ""}`
    })
  ]
}
