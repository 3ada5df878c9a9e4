/**
 * `snapshot show` (the listing's lines) and `snapshot export` (the tar archive, written atomically),
 * in process: over a snapshot dir written here as the tree store lays it out.
 */
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { describeSummary } from "../../src/cli/SnapshotListing.js"
import { AppConfig, AppName, appSpec } from "../../src/domain/Config.js"
import { exportTar } from "../../src/live/snapshot/Export.js"
import { SnapshotMeta } from "../../src/services/Snapshots.js"
import { tempDir } from "../support/files.js"

const VOLUME = "cloud_example_org_app_data"
const app = appSpec(AppName.make("nc"), new AppConfig({ recipe: "nextcloud", domain: "cloud.example.org" }))

const meta = (fields: Partial<ConstructorParameters<typeof SnapshotMeta>[0]>) =>
  new SnapshotMeta({
    recipe: "nextcloud",
    domain: "cloud.example.org",
    version: "2.0.0+30.0.1",
    ts: "2026-01-01T00:00:00.000Z",
    volumes: [VOLUME],
    sha256: {},
    format: "tree",
    ...fields
  })

describe("snapshot show", () => {
  it("lists each snapshot: version, time, age, method, then per volume files, size, excludes", () => {
    const now = Date.parse("2026-01-03T01:30:00.000Z")
    expect(describeSummary({
      meta: meta({ method: "reflink", exclude: { [VOLUME]: ["appdata_*/preview"] } }),
      volumes: [{ name: VOLUME, files: Option.some(1), bytes: 3 * 1024 * 1024 }],
      kept: false
    }, now)).toEqual([
      "last snapshot (what a rollback restores): 2.0.0+30.0.1, taken 2026-01-01T00:00:00.000Z (2d 1h 30m ago), " +
      "method reflink",
      `  ${VOLUME}: 1 file, 3.0 MiB (3145728 bytes); excluded: appdata_*/preview`
    ])
    // The earlier tar format (epoch seconds, as the original wrote them), kept.
    expect(describeSummary({
      meta: meta({ format: "tar", ts: now / 1000 - 30, version: "1.0.0\n" }),
      volumes: [{ name: VOLUME, files: Option.none(), bytes: 10 }],
      kept: true
    }, now)).toEqual([
      "older snapshot (kept): 1.0.0\\n, taken 1767403770 (less than a minute ago), tar archive (earlier format)",
      `  ${VOLUME}: 10 bytes`
    ])
  })
})

describe("snapshot export", () => {
  it.scopedLive("writes a tar of the last snapshot to a file, and nothing half-written when it fails", () =>
    Effect.gen(function*() {
      const root = yield* tempDir("warm-export-")
      const stateDir = Path.join(root, "state")
      const missing = yield* Effect.flip(exportTar(stateDir, app, Option.some(Path.join(root, "none.tar"))))
      expect(missing.message).toBe(`snapshot export for nc: there is no snapshot in ${stateDir}/nc/snapshot`)
      const dir = Path.join(stateDir, "nc", "snapshot")
      Fs.mkdirSync(Path.join(dir, "volumes", VOLUME), { recursive: true })
      Fs.writeFileSync(Path.join(dir, "volumes", VOLUME, "a"), "aaaa")
      Fs.writeFileSync(Path.join(dir, "meta.json"), JSON.stringify(meta({})))
      const file = Path.join(root, "out", "nc.tar")
      Fs.mkdirSync(Path.dirname(file))
      expect(yield* exportTar(stateDir, app, Option.some(file))).toBe(file)
      expect(execFileSync("tar", ["-tf", file], { encoding: "utf8" }).split("\n").sort()).toEqual(
        ["", "./", "./meta.json", "./volumes/", `./volumes/${VOLUME}/`, `./volumes/${VOLUME}/a`]
      )
      // A target that cannot be replaced (a directory): refused, and no partial file left beside it.
      const blocked = Path.join(root, "out", "blocked")
      Fs.mkdirSync(Path.join(blocked, "inside"), { recursive: true })
      const failed = yield* Effect.flip(exportTar(stateDir, app, Option.some(blocked)))
      expect(failed).toMatchObject({ _tag: "SnapshotError", operation: "export" })
      expect(failed.message).toMatch(/^snapshot export for nc: rename \S+ to \S+blocked: /)
      expect(Fs.readdirSync(Path.join(root, "out")).sort()).toEqual(["blocked", "nc.tar"])
    }).pipe(Effect.provide(NodeContext.layer)))
})
