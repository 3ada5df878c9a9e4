/**
 * `alerts` and `alerts ack <id>` as an operator runs them (the CLI entry point, a child process)
 * on a real state directory holding alerts written by the live Alerts layer, one in the Python
 * original's shape, and one that cannot be read.
 */
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Alert, ALERT_SCHEMA_VERSION, type AlertReason } from "../../src/domain/Alert.js"
import * as LiveAlerts from "../../src/live/Alerts.js"
import { cli } from "../support/cli.js"

const alert = (app: string, reason: AlertReason, ts: string, fields: Record<string, unknown>) =>
  new Alert({ schemaVersion: ALERT_SCHEMA_VERSION, app, reason, ts, fields })

/** The first column of each line of `alerts`: the ids, in the order listed. */
const ids = (stdout: string) => stdout.trim().split("\n").map((l) => l.split(/\s+/)[0])

// Each case starts the CLI; on a loaded machine that alone can take seconds.
describe("warm-reconcile alerts", { timeout: 120_000 }, () => {
  it.scopedLive("lists newest first, as text and JSON; ack moves one into acknowledged/; an unknown id is exit 1", () =>
    Effect.gen(function*() {
      const dir = yield* Effect.acquireRelease(
        Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "warm-reconcile-alerts-"))),
        (d) => Effect.sync(() => Fs.rmSync(d, { recursive: true, force: true }))
      )
      const stateDir = Path.join(dir, "state")
      const config = Path.join(dir, "config.json")
      Fs.writeFileSync(
        config,
        JSON.stringify({ stateDir, abraDir: dir, apps: { keycloak: { recipe: "keycloak", domain: "id.example.org" } } })
      )

      const empty = yield* cli(["alerts", "--config", config])
      expect(empty.code).toBe(0)
      expect(empty.stdout.trim()).toBe("no alerts")

      const write = (a: Alert) => LiveAlerts.write(stateDir, a).pipe(Effect.map((p) => Path.basename(p, ".json")))
      const major = yield* write(
        alert("keycloak", "held-major", "20261120T030000Z", { current: "1.0.0+1.0", latest: "2.0.0+2.0" })
      )
      const rollback = yield* write(
        alert("keycloak", "rollback", "20261122T030000Z", {
          attempted: "1.3.0+1.3",
          last_good: "1.2.0+1.2",
          recovered: true
        })
      )
      // Same second: written after the first, so newer, and named with -2.
      const again = yield* write(
        alert("keycloak", "rollback-failed", "20261122T030000Z", {
          attempted: "1.3.0+1.3",
          last_good: "1.2.0+1.2",
          recovered: false,
          failed_step: "restore"
        })
      )
      const alerts = LiveAlerts.alertsDir(stateDir)
      // The Python original's file: no schemaVersion.
      const original = "20261121T030000Z-nextcloud-unhealthy-on-latest"
      Fs.writeFileSync(
        Path.join(alerts, `${original}.json`),
        JSON.stringify({
          app: "nextcloud",
          reason: "unhealthy-on-latest",
          ts: "20261121T030000Z",
          version: "27.1.0+27.1"
        })
      )
      const broken = "20261123T030000Z-keycloak-rollback"
      Fs.writeFileSync(Path.join(alerts, `${broken}.json`), "{ not json")
      expect(again).toBe("20261122T030000Z-keycloak-rollback-failed")

      const listed = yield* cli(["alerts", "--config", config])
      expect(listed.code).toBe(0)
      expect(ids(listed.stdout)).toEqual([broken, again, rollback, original, major])
      const line = (id: string) => listed.stdout.split("\n").find((l) => l.startsWith(`${id} `)) ?? ""
      expect(line(broken)).toMatch(/unreadable: not a JSON object/)
      expect(line(again)).toMatch(/1\.3\.0\+1\.3 failed, NOT recovered \(restore failed\)$/)
      expect(line(rollback)).toMatch(/1\.3\.0\+1\.3 failed, back on 1\.2\.0\+1\.2$/)
      expect(line(original)).toMatch(/27\.1\.0\+27\.1 is not healthy$/)
      expect(line(major)).toMatch(/stays on 1\.0\.0\+1\.0, not upgrading to 2\.0\.0\+2\.0$/)

      const json = yield* cli(["alerts", "--config", config, "--json"])
      const objects = json.stdout.trim().split("\n").map((l) => JSON.parse(l))
      expect(objects.map((o) => o.id)).toEqual([broken, again, rollback, original, major])
      expect(objects[2]).toEqual({
        id: rollback,
        path: Path.join(alerts, `${rollback}.json`),
        app: "keycloak",
        reason: "rollback",
        ts: "20261122T030000Z",
        schemaVersion: 1,
        attempted: "1.3.0+1.3",
        last_good: "1.2.0+1.2",
        recovered: true
      })
      expect(objects[0]).toMatchObject({ id: broken, unreadable: expect.stringContaining("not a JSON object") })

      // ack after the subcommand, and with --config given to `alerts` before it.
      const ack = yield* cli(["alerts", "ack", rollback, "--config", config])
      expect(ack.code).toBe(0)
      expect(ack.stdout.trim()).toBe(
        `acknowledged ${rollback}: moved to ${Path.join(LiveAlerts.acknowledgedDir(stateDir), `${rollback}.json`)}`
      )
      const ack2 = yield* cli(["alerts", "--config", config, "ack", major])
      expect(ack2.code).toBe(0)
      expect(Fs.existsSync(Path.join(alerts, `${rollback}.json`))).toBe(false)
      expect(Fs.readdirSync(LiveAlerts.acknowledgedDir(stateDir)).sort()).toEqual([`${major}.json`, `${rollback}.json`])

      const after = yield* cli(["alerts", "--config", config])
      expect(ids(after.stdout)).toEqual([broken, again, original])
      const seen = yield* cli(["alerts", "--config", config, "--acknowledged"])
      expect(ids(seen.stdout)).toEqual([rollback, major])

      const unknown = yield* cli(["alerts", "ack", "20261124T000000Z-keycloak-rollback", "--config", config])
      expect(unknown.code).toBe(1)
      expect(unknown.stderr.trim().split("\n")).toHaveLength(1)
      expect(unknown.stderr).toContain("list the alerts to see their ids")
      expect(Fs.readdirSync(alerts).filter((f) => f.endsWith(".json")).sort()).toEqual(
        [again, original, broken].map((id) => `${id}.json`).sort()
      )
    }).pipe(Effect.provide(NodeContext.layer)))
})
