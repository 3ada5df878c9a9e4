import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Path from "node:path"
import { Alert, type AlertReason } from "../../src/domain/Alert.js"
import * as LiveAlerts from "../../src/live/Alerts.js"
import { Alerts } from "../../src/services/Alerts.js"
import { failure, listDir, modeOf, tempDir } from "../support/files.js"

const alert = (app: string, reason: AlertReason, ts: string, fields: Record<string, unknown> = {}) =>
  new Alert({ schemaVersion: 1, app, reason, ts, fields })

/** Through the service, as the reconciler writes. */
const write = (stateDir: string, a: Alert) =>
  Effect.flatMap(Alerts, (alerts) => alerts.write(a)).pipe(Effect.provide(LiveAlerts.layer({ stateDir })))

/** Byte for byte what the original's `json.dump(rec, f, indent=2)` wrote (checked against python3). */
const pythonAlert = [
  "{",
  "  \"app\": \"keycloak\",",
  "  \"reason\": \"held-major\",",
  "  \"ts\": \"20260529T004202Z\",",
  "  \"current\": \"10.7.1+26.6.2\",",
  "  \"latest\": \"11.0.0+27.0.1\",",
  "  \"release_notes\": \"Breaking: run the migration by hand.\\n\"",
  "}"
].join("\n")

describe("Alerts.write", () => {
  it.scopedLive("writes <ts>-<app>-<reason>.json in the original's shape plus schemaVersion, 0600 in a 0700 dir", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const stateDir = Path.join(yield* tempDir("warm-reconcile-alerts-"), "state")
      const path = yield* write(
        stateDir,
        alert("keycloak", "rollback", "20261125T201535Z", { last_good: "10.7.1+26.6.2", recovered: true })
      )
      expect(path).toBe(Path.join(stateDir, "alerts", "20261125T201535Z-keycloak-rollback.json"))
      const text = yield* fs.readFileString(path)
      expect(JSON.parse(text)).toEqual({
        app: "keycloak",
        reason: "rollback",
        ts: "20261125T201535Z",
        last_good: "10.7.1+26.6.2",
        recovered: true,
        schemaVersion: 1
      })
      // Indented by two like the original's json.dump(indent=2).
      expect(text.split("\n")[1]).toBe("  \"last_good\": \"10.7.1+26.6.2\",")
      expect(yield* modeOf(path)).toBe(0o600)
      expect(yield* modeOf(stateDir)).toBe(0o700)
      expect(yield* modeOf(Path.join(stateDir, "alerts"))).toBe(0o700)
      expect(yield* listDir(Path.join(stateDir, "alerts"))).toEqual(["20261125T201535Z-keycloak-rollback.json"])
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.scopedLive("alerts in the same second get -2, -3 and never overwrite", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const stateDir = yield* tempDir("warm-reconcile-alerts-")
      const ts = "20261125T201535Z"
      const paths = yield* Effect.forEach(
        [1, 2, 3],
        (n) => write(stateDir, alert("keycloak", "held-major", ts, { attempt: n }))
      )
      expect(paths.map((p) => Path.basename(p))).toEqual([
        `${ts}-keycloak-held-major.json`,
        `${ts}-keycloak-held-major-2.json`,
        `${ts}-keycloak-held-major-3.json`
      ])
      for (const [i, path] of paths.entries()) {
        expect(JSON.parse(yield* fs.readFileString(path)).attempt).toBe(i + 1)
      }
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.scopedLive("12 concurrent same-second alerts end as 12 distinct complete files", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const stateDir = yield* tempDir("warm-reconcile-alerts-")
      const n = 12
      const paths = yield* Effect.forEach(
        Array.from({ length: n }, (_, i) => i),
        (i) => write(stateDir, alert("n8n", "rollback", "20261125T201535Z", { writer: i })),
        { concurrency: "unbounded" }
      )
      expect(new Set(paths).size).toBe(n)
      const writers = yield* Effect.forEach(paths, (p) => Effect.map(fs.readFileString(p), (t) => JSON.parse(t).writer))
      expect([...writers].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i))
      expect((yield* listDir(Path.join(stateDir, "alerts"))).length).toBe(n)
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.scopedLive("refuses app names with '/' or '..' and writes nothing", () =>
    Effect.gen(function*() {
      const root = yield* tempDir("warm-reconcile-alerts-")
      const stateDir = Path.join(root, "state")
      for (const app of ["../../etc", "a/b", ".."]) {
        const error = failure(yield* Effect.exit(write(stateDir, alert(app, "rollback", "20261125T201535Z"))))
        expect(error._tag).toBe("AlertError")
        expect(error.message).toContain(`could not write the rollback alert for ${app}: refusing the name`)
      }
      expect(yield* listDir(root)).toEqual(["state"])
      expect(yield* listDir(Path.join(stateDir, "alerts"))).toEqual([])
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.scopedLive("refuses a symlinked state directory or alerts directory", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const root = yield* tempDir("warm-reconcile-alerts-")
      const elsewhere = Path.join(root, "elsewhere")
      yield* fs.makeDirectory(elsewhere)
      const linkedState = Path.join(root, "state-link")
      yield* fs.symlink(elsewhere, linkedState)
      const error = failure(yield* Effect.exit(write(linkedState, alert("keycloak", "rollback", "20261125T201535Z"))))
      expect(error.message).toContain(`refusing ${linkedState}: it is a symbolic link (to ${elsewhere})`)
      expect(yield* listDir(elsewhere)).toEqual([])

      const stateDir = Path.join(root, "state")
      yield* fs.makeDirectory(stateDir)
      yield* fs.symlink(elsewhere, Path.join(stateDir, "alerts"))
      const inner = failure(yield* Effect.exit(write(stateDir, alert("keycloak", "rollback", "20261125T201535Z"))))
      expect(inner.message).toContain(`refusing ${Path.join(stateDir, "alerts")}: it is a symbolic link`)
      expect(yield* listDir(elsewhere)).toEqual([])
    }).pipe(Effect.provide(NodeFileSystem.layer)))
})

describe("Alerts.list and Alerts.ack", () => {
  it.scopedLive("lists newest first, reads the original's alerts, flags unreadable files, skips temp files", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const stateDir = yield* tempDir("warm-reconcile-alerts-")
      const alertsDir = Path.join(stateDir, "alerts")
      yield* write(stateDir, alert("keycloak", "rollback", "20260601T030000Z", { attempted: "10.8.0+26.7.0" }))
      yield* write(stateDir, alert("keycloak", "rollback", "20260601T030000Z", { attempted: "10.8.1+26.7.1" }))
      yield* write(stateDir, alert("n8n", "unhealthy-on-latest", "20260415T120000Z", { version: "3.2.0+2.20.6" }))
      yield* fs.writeFileString(Path.join(alertsDir, "20260529T004202Z-keycloak-held-major.json"), pythonAlert)
      yield* fs.writeFileString(Path.join(alertsDir, "20260530T000000Z-keycloak-rollback.json"), "{\"app\": \"keyc")
      // Temp files of ours and of the original, caught mid-write.
      yield* fs.writeFileString(Path.join(alertsDir, ".20260602T000000Z-x-rollback.json.tmp-0a1b2c"), "{")
      yield* fs.writeFileString(Path.join(alertsDir, "20260602T000000Z-x-rollback.json.tmp"), "{")

      const listed = yield* LiveAlerts.list(stateDir)
      expect(listed.map((x) => [x._tag, x.id])).toEqual([
        ["Alert", "20260601T030000Z-keycloak-rollback-2"],
        ["Alert", "20260601T030000Z-keycloak-rollback"],
        ["Unreadable", "20260530T000000Z-keycloak-rollback"],
        ["Alert", "20260529T004202Z-keycloak-held-major"],
        ["Alert", "20260415T120000Z-n8n-unhealthy-on-latest"]
      ])
      const python = listed[3]!
      if (python._tag !== "Alert") throw new Error("the original's alert did not decode")
      expect(python.alert.schemaVersion).toBe(1)
      expect(python.alert.app).toBe("keycloak")
      expect(python.alert.reason).toBe("held-major")
      expect(python.alert.ts).toBe("20260529T004202Z")
      expect(python.alert.fields).toEqual({
        current: "10.7.1+26.6.2",
        latest: "11.0.0+27.0.1",
        release_notes: "Breaking: run the migration by hand.\n"
      })
      const newest = listed[0]!
      expect(newest._tag === "Alert" && newest.alert.fields["attempted"]).toBe("10.8.1+26.7.1")
      expect(listed[2]!._tag === "Unreadable" && listed[2]!.problem).toContain("not a JSON object")
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.scopedLive("orders -10 after -9 and refuses a newer schemaVersion instead of guessing", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const stateDir = yield* tempDir("warm-reconcile-alerts-")
      for (let i = 0; i < 10; i++) yield* write(stateDir, alert("a", "rollback", "20260601T030000Z", { i }))
      yield* fs.writeFileString(
        Path.join(stateDir, "alerts", "20250101T000000Z-a-rollback.json"),
        JSON.stringify({ app: "a", reason: "rollback", ts: "20250101T000000Z", schemaVersion: 2 })
      )
      const listed = yield* LiveAlerts.list(stateDir)
      expect(listed.slice(0, 3).map((x) => x.id)).toEqual([
        "20260601T030000Z-a-rollback-10",
        "20260601T030000Z-a-rollback-9",
        "20260601T030000Z-a-rollback-8"
      ])
      expect(listed[9]!.id).toBe("20260601T030000Z-a-rollback")
      const newer = listed[10]!
      expect(newer._tag === "Unreadable" && newer.problem).toContain("schemaVersion 2 is not 1")
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.scopedLive("a missing alerts directory lists as empty", () =>
    Effect.gen(function*() {
      const stateDir = yield* tempDir("warm-reconcile-alerts-")
      expect(yield* LiveAlerts.list(stateDir)).toEqual([])
      expect(yield* LiveAlerts.list(Path.join(stateDir, "never-created"))).toEqual([])
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.scopedLive("ack moves one alert into acknowledged/ and a new alert of that name does not shadow it", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const stateDir = yield* tempDir("warm-reconcile-alerts-")
      const alertsDir = Path.join(stateDir, "alerts")
      const first = yield* write(stateDir, alert("keycloak", "held-major", "20260601T030000Z", { n: 1 }))
      yield* write(stateDir, alert("n8n", "rollback", "20260601T040000Z"))
      const content = yield* fs.readFileString(first)

      const moved = yield* LiveAlerts.ack(stateDir, "20260601T030000Z-keycloak-held-major")
      expect(moved).toBe(Path.join(alertsDir, "acknowledged", "20260601T030000Z-keycloak-held-major.json"))
      expect(yield* fs.readFileString(moved)).toBe(content)
      expect(yield* fs.exists(first)).toBe(false)
      expect(yield* modeOf(Path.join(alertsDir, "acknowledged"))).toBe(0o700)
      expect((yield* LiveAlerts.list(stateDir)).map((x) => x.id)).toEqual(["20260601T040000Z-n8n-rollback"])
      expect((yield* LiveAlerts.list(stateDir, { acknowledged: true })).map((x) => x.id)).toEqual([
        "20260601T030000Z-keycloak-held-major"
      ])

      // Same second, same app and reason as the acknowledged one: it must get a new name.
      const again = yield* write(stateDir, alert("keycloak", "held-major", "20260601T030000Z", { n: 2 }))
      expect(Path.basename(again)).toBe("20260601T030000Z-keycloak-held-major-2.json")
      expect(JSON.parse(yield* fs.readFileString(moved)).n).toBe(1)
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.scopedLive("ack of an unknown id or a path-like id fails and moves nothing", () =>
    Effect.gen(function*() {
      const stateDir = yield* tempDir("warm-reconcile-alerts-")
      const path = yield* write(stateDir, alert("keycloak", "rollback", "20260601T030000Z"))
      const unknown = failure(yield* Effect.exit(LiveAlerts.ack(stateDir, "20990101T000000Z-x-rollback")))
      expect(unknown.message).toContain("there is no")
      expect(unknown.message).toContain("list the alerts to see their ids")
      const escape = failure(
        yield* Effect.exit(LiveAlerts.ack(stateDir, "../alerts/20260601T030000Z-keycloak-rollback"))
      )
      expect(escape.message).toContain("refusing the name")
      expect(yield* listDir(Path.dirname(path))).toEqual([Path.basename(path)])
    }).pipe(Effect.provide(NodeFileSystem.layer)))
})
