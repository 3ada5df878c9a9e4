/**
 * A sweep of the live snapshot store's staged restore (issue 14 item 5: the live-code mutant
 * `restore-swaps-early` must be killed by a sweep): a restore of two volumes, failed at each rename
 * and at each fsync it makes in turn (counted first on an undisturbed restore). Every case states
 * its outcome: a restore that failed leaves both volumes as they were, or (a failed fsync after the
 * swap) both restored, never one of each; and the next, undisturbed restore brings back the
 * snapshot's data byte for byte.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Figures from "../support/figures.js"
import { app, faultyDisk, fingerprint, world } from "../support/snapshotWorld.js"

type Point = "rename" | "sync"
const POINTS: ReadonlyArray<Point> = ["rename", "sync"]

/** A disk that fails the `failAt`-th call of `point` (0: none), counting every call of each. */
const countingDisk = (point: Point, failAt: number) => {
  const seen: Record<Point, number> = { rename: 0, sync: 0 }
  const layer = faultyDisk({
    renameFails: () => ++seen.rename === failAt && point === "rename",
    syncFails: () => ++seen.sync === failAt && point === "sync"
  })
  return { seen, layer }
}

/**
 * A small tree per volume (files, a private one, a directory, a symlink): what the sweep checks is
 * all or nothing across volumes, which the example tests' every-kind-of-entry data need not slow.
 */
const seed = (dir: string, flavour: string) => {
  Fs.writeFileSync(Path.join(dir, "db.txt"), `rows of ${flavour}\n`)
  Fs.writeFileSync(Path.join(dir, "key"), `key ${flavour}`, { mode: 0o600 })
  Fs.mkdirSync(Path.join(dir, "uploads"))
  Fs.writeFileSync(Path.join(dir, "uploads", "a.bin"), Buffer.alloc(64 * 1024, flavour))
  Fs.symlinkSync("db.txt", Path.join(dir, "latest"))
}

/** What a failed release does to a volume: a rewrite, a new file, a removal. */
const migrate = (dir: string) => {
  Fs.writeFileSync(Path.join(dir, "db.txt"), "migrated\n")
  Fs.writeFileSync(Path.join(dir, "new"), "new\n")
  Fs.rmSync(Path.join(dir, "uploads"), { recursive: true })
}

/** Two volumes with data, their snapshot, then scribbled over as a failed release would. */
const arranged = (disk: ReturnType<typeof countingDisk>) =>
  Effect.gen(function*() {
    const w = yield* world({ fileSystem: disk.layer })
    w.volumes.forEach((v, i) => seed(v.mountpoint, `r${i}`))
    const snapshotted = w.volumes.map((v) => fingerprint(v.mountpoint))
    yield* w.snapshots.take(app, "1.0.0", w.volumes)
    w.volumes.forEach((v) => migrate(v.mountpoint))
    return { w, snapshotted }
  })

describe("restore sweep: a failure at each rename and fsync of a two-volume restore", () => {
  it.scopedLive(
    "no failed restore leaves the volumes half restored; the next one restores the snapshot exactly",
    () =>
      Effect.gen(function*() {
        // An undisturbed restore first: how many renames and fsyncs it makes.
        const counted = countingDisk("rename", 0)
        const plain = yield* Effect.scoped(Effect.gen(function*() {
          const { snapshotted, w } = yield* arranged(counted)
          const before = { ...counted.seen }
          yield* w.snapshots.restore(app, w.volumes)
          expect(w.volumes.map((v) => fingerprint(v.mountpoint))).toEqual(snapshotted)
          return { rename: counted.seen.rename - before.rename, sync: counted.seen.sync - before.sync, before }
        }))
        const failures: Array<string> = []
        let cases = 0
        for (const point of POINTS) {
          for (let k = 1; k <= plain[point]; k++) {
            cases++
            const problem = yield* Effect.scoped(Effect.gen(function*() {
              const disk = countingDisk(point, plain.before[point] + k)
              const { snapshotted, w } = yield* arranged(disk)
              const before = w.volumes.map((v) => fingerprint(v.mountpoint))
              const exit = yield* Effect.exit(w.snapshots.restore(app, w.volumes))
              if (Exit.isSuccess(exit)) return "the restore succeeded through the failure"
              // All or nothing: every volume as it was, or (a failure after the swap: an fsync of the
              // renames) every one restored; never some of each.
              const after = JSON.stringify(w.volumes.map((v) => fingerprint(v.mountpoint)))
              if (after !== JSON.stringify(before) && after !== JSON.stringify(snapshotted)) {
                return "a failed restore left the volumes neither all as they were nor all restored"
              }
              // Past the failure point now: the next restore runs undisturbed.
              yield* w.snapshots.restore(app, w.volumes)
              return JSON.stringify(w.volumes.map((v) => fingerprint(v.mountpoint))) === JSON.stringify(snapshotted)
                ? undefined
                : "the next restore did not bring back the snapshot"
            }))
            if (problem !== undefined) failures.push(`${point} #${k}: ${problem}`)
          }
        }
        console.log(
          `restore sweep: ${cases} cases (${plain.rename} renames, ${plain.sync} fsyncs), ${
            cases - failures.length
          } held`
        )
        Figures.record("restore-sweep", { cases, held: cases - failures.length })
        expect(failures).toEqual([])
        // A restore of two volumes renames each one away and its staging in: at least four points.
        expect(plain.rename).toBeGreaterThanOrEqual(4)
        expect(cases).toBe(plain.rename + plain.sync)
      }),
    300_000
  )
})
