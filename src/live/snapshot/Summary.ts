/** What `snapshot show` lists of one snapshot dir: per volume its files and bytes, read from its manifest. */
import { FileSystem } from "@effect/platform"
import { Effect, Option } from "effect"
import type { SnapshotMeta, SnapshotSummary, SnapshotVolume } from "../../services/Snapshots.js"
import { io } from "./Failure.js"
import * as Manifest from "./Manifest.js"
import { archiveOf, manifestOf } from "./StateDir.js"

const volumeOf = (dir: string, meta: SnapshotMeta, name: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    if (meta.format === "tar") {
      const info = yield* fs.stat(archiveOf(dir, name)).pipe(io(`stat the archive of ${name}`))
      return { name, files: Option.none(), bytes: Number(info.size) } satisfies SnapshotVolume
    }
    const file = manifestOf(dir, name)
    const entries = yield* fs.readFileString(file).pipe(
      io(`read ${file}`),
      Effect.flatMap((text) => Manifest.parse(text, file))
    )
    const files = [...entries.values()].filter((e) => e.type === "file")
    return {
      name,
      files: Option.some(files.length),
      bytes: files.reduce((sum, e) => sum + e.size, 0)
    } satisfies SnapshotVolume
  })

export const summarize = (dir: string, meta: SnapshotMeta, kept: boolean) =>
  Effect.map(
    Effect.forEach(meta.volumes, (name) => volumeOf(dir, meta, name)),
    (volumes): SnapshotSummary => ({ meta, volumes, kept })
  )
