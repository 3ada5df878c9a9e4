/**
 * What `snapshot show` lists: the last snapshot and the kept ones, each with per volume its files
 * and bytes, read from its manifest. Reads only.
 */
import { FileSystem } from "@effect/platform"
import { Effect, Option } from "effect"
import * as NodePath from "node:path"
import type { SnapshotMeta, SnapshotSummary, SnapshotVolume } from "../../services/Snapshots.js"
import { io } from "./Failure.js"
import * as Manifest from "./Manifest.js"
import { archiveOf, keptOf, locate, manifestOf, readMeta } from "./StateDir.js"

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

const summarize = (dir: string, meta: SnapshotMeta, kept: boolean) =>
  Effect.map(
    Effect.forEach(meta.volumes, (name) => volumeOf(dir, meta, name)),
    (volumes): SnapshotSummary => ({ meta, volumes, kept })
  )

/** The last snapshot in `appDir`, then the kept ones, newest first; none without a last one. */
export const listSnapshots = (appDir: string) =>
  Effect.gen(function*() {
    const { broken, current } = yield* locate(appDir)
    if (Option.isSome(broken)) return yield* Effect.fail(broken.value)
    if (Option.isNone(current)) return []
    const kept = (yield* keptOf(appDir)).reverse()
    const older = yield* Effect.forEach(kept, (name) =>
      Effect.flatMap(
        readMeta(NodePath.join(appDir, name)),
        Option.match({
          onNone: () => Effect.succeed([]),
          onSome: (meta) => Effect.map(summarize(NodePath.join(appDir, name), meta, true), (s) => [s])
        })
      ).pipe(
        // An unreadable older snapshot does not hide the last one.
        Effect.catchAll((e) => Effect.logWarning(`${name} is not listed: ${e.message}`).pipe(Effect.as([])))
      ))
    const last = yield* summarize(NodePath.join(appDir, current.value.name), current.value.meta, false)
    return [last, ...older.flat()]
  })
