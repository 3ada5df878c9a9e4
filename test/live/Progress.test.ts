import { describe, expect, it } from "@effect/vitest"
import { Effect, Logger } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { reporter } from "../../src/live/snapshot/Progress.js"
import { app, world } from "../support/snapshotWorld.js"

/** Run `effect` with its log messages collected. */
const logged = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    const logger = Logger.make(({ message }) => {
      lines.push(Array.isArray(message) ? message.join(" ") : String(message))
    })
    const result = yield* effect.pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
    // Log lines are forked from the progress callbacks: let them run.
    yield* Effect.yieldNow()
    yield* Effect.sleep(10)
    return { result, lines }
  })

describe("snapshot progress", () => {
  it.live("under systemd (no terminal): a log line every interval, then one when done", () =>
    Effect.gen(function*() {
      let t = 0
      const { lines } = yield* logged(Effect.gen(function*() {
        const r = yield* reporter("snapshot of db", { every: "10 seconds", tty: false, now: () => t })
        for (const [at, bytes] of [[1_000, 10], [9_999, 20], [10_000, 30], [15_000, 40], [20_500, 50]] as const) {
          t = at
          r.update({ bytes: bytes * 2 ** 20, files: bytes, totalBytes: 100 * 2 ** 20, totalFiles: 100 })
        }
        t = 21_000
        yield* r.done
      }))
      expect(lines).toEqual([
        "snapshot of db: 30.0 MiB of 100.0 MiB (30%), 30 of 100 files, 3.0 MiB/s, 0:23 left",
        "snapshot of db: 50.0 MiB of 100.0 MiB (50%), 50 of 100 files, 2.4 MiB/s, 0:21 left",
        "snapshot of db: 50.0 MiB of 100.0 MiB (50%), 50 of 100 files, 2.4 MiB/s, 0:21 left (done)"
      ])
    }))

  it.live("on a terminal: a bar redrawn in place, at most five times a second, cleared at the end; no log lines", () =>
    Effect.gen(function*() {
      const written: Array<string> = []
      const write = process.stderr.write
      process.stderr.write = ((chunk: string) => written.push(chunk) > 0) as typeof process.stderr.write
      let t = 0
      const { lines } = yield* logged(
        Effect.gen(function*() {
          const r = yield* reporter("restore of db", { every: "10 seconds", tty: true, now: () => t })
          for (const at of [100, 250, 300, 500]) {
            t = at
            r.update({ bytes: at, files: 1, totalBytes: 1000 })
          }
          yield* r.done
        }).pipe(Effect.ensuring(Effect.sync(() => process.stderr.write = write)))
      )
      expect(lines).toEqual([])
      expect(written).toEqual([
        "\r[#####...............] restore of db: 250 B of 1000 B (25%), 1 files, 1000 B/s, 0:01 left\x1b[K",
        "\r[##########..........] restore of db: 500 B of 1000 B (50%), 1 files, 1000 B/s, 0:01 left\x1b[K",
        "\r\x1b[K"
      ])
    }))

  it.scopedLive("a take and a restore report their copies through the live layer", () =>
    Effect.gen(function*() {
      const w = yield* world({ progressEvery: 0 })
      const [db] = w.volumes
      for (let i = 0; i < 50; i++) Fs.writeFileSync(Path.join(db!.mountpoint, `f${i}`), Buffer.alloc(64 * 1024, i))
      const take = yield* logged(w.snapshots.take(app, "1.0.0", [db!]))
      expect(take.lines.some((l) => /^snapshot of \S+_db: [\d.]+ \S+ of [\d.]+ \S+ \(\d+%\), \d+ of 51 files/.test(l)))
        .toBe(true)
      expect(take.lines.some((l) => /^snapshot of \S+_db, hashing: [\d.]+ (KiB|MiB)/.test(l))).toBe(true)
      for (let i = 0; i < 10; i++) Fs.writeFileSync(Path.join(db!.mountpoint, `f${i}`), "changed")
      const restore = yield* logged(w.snapshots.restore(app, [db!]))
      expect(restore.lines.some((l) => /^restore of \S+_db: .* files/.test(l))).toBe(true)
    }))
})
