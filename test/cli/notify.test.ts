/**
 * `notify` and `notify test` as an operator runs them (the CLI entry point, a child process)
 * against a local Gotify endpoint and a port nothing listens on: the backlog is delivered once, the
 * secret comes from the environment and the app's env-file secrets stay out, `notify test` prints
 * each channel's result (exit 1 if one failed), and a bad channel URL is a config error (exit 2).
 */
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Alert, ALERT_SCHEMA_VERSION } from "../../src/domain/Alert.js"
import * as LiveAlerts from "../../src/live/Alerts.js"
import { cli } from "../support/cli.js"
import { closedPort } from "../support/httpsServer.js"
import { HTTP_CASES, notifyServer, smtpServer } from "../support/notifyServers.js"

const SECRET = "kc-admin-pa55word-value"

/** A config with one app (whose env file holds a secret) and these channels, in a temp dir. */
const configWith = (notify: ReadonlyArray<Record<string, unknown>>) =>
  Effect.gen(function*() {
    const dir = yield* Effect.acquireRelease(
      Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "warm-reconcile-notify-cli-"))),
      (d) => Effect.sync(() => Fs.rmSync(d, { recursive: true, force: true }))
    )
    const abraDir = Path.join(dir, "abra")
    Fs.mkdirSync(Path.join(abraDir, "servers", "default"), { recursive: true })
    Fs.writeFileSync(Path.join(abraDir, "servers", "default", "id.example.org.env"), `ADMIN_PASSWORD=${SECRET}\n`)
    const stateDir = Path.join(dir, "state")
    const config = Path.join(dir, "config.json")
    Fs.writeFileSync(
      config,
      JSON.stringify({
        stateDir,
        abraDir,
        apps: { keycloak: { recipe: "keycloak", domain: "id.example.org" } },
        notify
      })
    )
    return { config, stateDir }
  })

describe("warm-reconcile notify", { timeout: 120_000 }, () => {
  it.scopedLive("delivers the backlog once (`alerts` shows pending, then delivered); the app's secrets stay out; `notify test` says ok", () =>
    Effect.gen(function*() {
      const gotify = yield* notifyServer("gotify", { secret: "AppToken" })
      const { config, stateDir } = yield* configWith([
        { url: `gotify://127.0.0.1:${gotify.port}?disabletls=yes`, secretEnv: "GOTIFY_TOKEN" }
      ])
      yield* LiveAlerts.write(
        stateDir,
        new Alert({
          schemaVersion: ALERT_SCHEMA_VERSION,
          app: "keycloak",
          reason: "rollback-failed",
          ts: "20261125T201535Z",
          fields: { attempted: "1.2", last_good: "1.1", failed_step: "restore", error: `tar: ${SECRET}: no such file` }
        })
      )
      const env = { GOTIFY_TOKEN: "AppToken" }
      const pending = yield* cli(["alerts", "--config", config])
      expect(pending.stdout.trim()).toMatch(/^20261125T201535Z-keycloak-rollback-failed .* {2}\[pending: gotify\]$/)
      const first = yield* cli(["notify", "--config", config], env)
      expect(first.stderr).not.toContain(SECRET)
      expect(first.code).toBe(0)
      expect(first.stdout).toContain("1 delivered, 0 failed")
      expect(gotify.accepted).toHaveLength(1)
      const body = gotify.accepted[0]!.json
      expect(body["title"]).toMatch(/^\[warm-reconcile\] .+: keycloak is DOWN: the rollback 1\.2 -> 1\.1 failed$/)
      expect(body["priority"]).toBe(8)
      expect(gotify.accepted[0]!.body).not.toContain(SECRET)
      expect(gotify.accepted[0]!.body).toContain("[redacted]")

      const listed = yield* cli(["alerts", "--json", "--config", config])
      expect(JSON.parse(listed.stdout).deliveries).toEqual({ gotify: "delivered" })
      const again = yield* cli(["notify", "--config", config], env)
      expect(again.stdout).toContain("0 delivered, 0 failed")
      expect(gotify.accepted).toHaveLength(1)

      const test = yield* cli(["notify", "test", "--config", config], env)
      expect(test.code).toBe(0)
      expect(test.stdout.trim()).toBe("gotify: ok")
      expect(String(gotify.accepted[1]!.json["title"])).toMatch(/test message$/)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scopedLive("`notify test` reaches each kind of channel's server: one test message each, `<name>: ok` per line", () =>
    Effect.gen(function*() {
      const entries: Array<Record<string, unknown>> = []
      const env: Record<string, string> = {}
      const received: Array<{ readonly name: string; readonly texts: () => ReadonlyArray<string> }> = []
      for (const c of HTTP_CASES) {
        const server = yield* notifyServer(c.kind, { secret: c.secret })
        env[`SECRET_${c.kind.toUpperCase()}`] = c.secret
        entries.push({ name: c.kind, url: c.url(server.port), secretEnv: `SECRET_${c.kind.toUpperCase()}` })
        received.push({ name: c.kind, texts: () => server.accepted.map((r) => c.text(r.json)) })
      }
      const smtp = yield* smtpServer("warm", "mail-pa55")
      env["SECRET_MAIL"] = "mail-pa55"
      entries.push({
        name: "mail",
        url: `smtp://warm@127.0.0.1:${smtp.port}/?from=warm@example.org&to=ops@example.org&tlsverify=no`,
        secretEnv: "SECRET_MAIL"
      })
      received.push({ name: "mail", texts: () => smtp.mails.map((m) => m.raw) })
      const { config } = yield* configWith(entries)
      const test = yield* cli(["notify", "test", "--config", config], env)
      expect(test.code, test.stderr).toBe(0)
      expect(test.stdout.trim().split("\n")).toEqual(received.map((r) => `${r.name}: ok`))
      for (const r of received) {
        expect(r.texts(), r.name).toHaveLength(1)
        expect(r.texts()[0], r.name).toMatch(/test message/)
      }
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scopedLive("`notify test` with a channel down prints each channel's result and why, and exits 1", () =>
    Effect.gen(function*() {
      const ntfy = yield* notifyServer("ntfy", { secret: "tok" })
      const port = yield* closedPort
      const { config } = yield* configWith([
        { url: `ntfy://tok@127.0.0.1:${ntfy.port}/alerts?disabletls=yes` },
        { name: "pager", url: `ntfy://tok@127.0.0.1:${port}/alerts?disabletls=yes` }
      ])
      const test = yield* cli(["notify", "test", "--config", config])
      expect(test.code).toBe(1)
      const lines = test.stdout.trim().split("\n")
      expect(lines[0]).toBe("ntfy: ok")
      expect(lines[1]).toMatch(/^pager: FAILED: pager: POST 127\.0\.0\.1:\d+: Transport/)
      expect(test.stdout).not.toContain("tok@")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scopedLive("a bad channel URL is a config error naming the entry: exit 2", () =>
    Effect.gen(function*() {
      const { config } = yield* configWith([{ url: "ntfy://ntfy.sh/ok" }, { url: "matrix://m.example.org" }])
      const r = yield* cli(["notify", "--config", config])
      expect(r.code).toBe(2)
      expect(r.stderr).toContain("notify[1].url")
      expect(r.stderr).toContain("matrix:// needs room=")
    }).pipe(Effect.provide(NodeContext.layer)))
})
