/**
 * Log lines as operators read them: one line per event on stderr with `app` and `phase`, in
 * logfmt (default), JSON or pretty; and no secret value in a log line, an alert, the history or a
 * result line. The formatter and the redaction are driven directly; the whole path through a
 * reconcile whose failing deploy prints secrets runs the CLI as a child process on the live layers.
 */
import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Layer, Logger, Option, Ref } from "effect"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Os from "node:os"
import * as Path from "node:path"
import * as LogFormat from "../../src/cli/LogFormat.js"
import { Alert, ALERT_SCHEMA_VERSION } from "../../src/domain/Alert.js"
import type { AppName } from "../../src/domain/Config.js"
import type { InFlightPhase } from "../../src/domain/Phase.js"
import * as Redaction from "../../src/domain/Redaction.js"
import * as LiveRedaction from "../../src/live/Redaction.js"
import { timedPhase } from "../../src/reconcile/Steps.js"
import { Alerts } from "../../src/services/Alerts.js"
import { InFlight, RunRecord, State } from "../../src/services/State.js"
import { cli } from "../support/cli.js"
import { deployWithAbra, fakeAbraPath, makeAbraWorld, writeConfig } from "../support/fakeAbra.js"
import { fakeEngine, stackOf, stackVolume } from "../support/fakeEngine.js"

/** `key=value` and `key="quoted \"value\""` pairs of one logfmt line. */
const parseLogfmt = (line: string): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const m of line.matchAll(/([A-Za-z_][A-Za-z0-9_.-]*)=("(?:[^"\\]|\\.)*"|\S*)/g)) {
    out[m[1]!] = m[2]!.startsWith("\"") ? JSON.parse(m[2]!) : m[2]!
  }
  return out
}

/** Run `effect` with every log line rendered by the formatter collected. */
const capture = <A, E>(
  format: "logfmt" | "json",
  context: LogFormat.LogContext,
  effect: Effect.Effect<A, E>
) =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    const collect = Logger.map(LogFormat.formatter(format, context), (line) => {
      lines.push(line)
    })
    yield* effect.pipe(Effect.provide(Logger.replace(Logger.defaultLogger, collect)))
    return lines
  })

/** What the program does, in miniature: steps it marks with their phase, lines in between. */
const deploy = () => Effect.logInfo("inside the deploy step").pipe(timedPhase("deploy"))
const waitHealthy = () => Effect.logWarning("inside the health gate").pipe(timedPhase("health"))

const context = (values: ReadonlyArray<string> = []): LogFormat.LogContext => ({
  phases: new LogFormat.PhaseBook(),
  redactor: new Redaction.Redactor(values)
})

describe("log lines", () => {
  it.effect("logfmt: one line per event, each with app and phase", () =>
    Effect.gen(function*() {
      const ctx = context()
      const lines = yield* capture(
        "logfmt",
        ctx,
        Effect.gen(function*() {
          yield* Effect.logInfo("plan: Upgrade")
          yield* deploy()
          yield* waitHealthy()
          // The program wrote its in-flight record: lines between steps belong to that phase.
          ctx.phases.enter("kc", "snapshot")
          yield* Effect.logInfo("undeploy for a snapshot")
          ctx.phases.enter("kc", undefined)
          yield* Effect.logInfo("recovering").pipe(Effect.annotateLogs({ phase: "recover" }))
          yield* Effect.logError("two\nlines")
        }).pipe(Effect.annotateLogs({ app: "kc" }))
      )
      expect(lines).toHaveLength(6)
      for (const line of lines) expect(line).not.toContain("\n")
      const parsed = lines.map(parseLogfmt)
      expect(parsed.map((p) => p["app"])).toEqual(Array(6).fill("kc"))
      expect(parsed.map((p) => p["phase"])).toEqual([
        "reconcile",
        "deploy",
        "health",
        "snapshot",
        "recover",
        "reconcile"
      ])
      expect(parsed.map((p) => p["level"])).toEqual(["INFO", "INFO", "WARN", "INFO", "INFO", "ERROR"])
      expect(parsed[5]!["message"]).toBe("two\nlines")
      expect(Date.parse(parsed[0]!["timestamp"]!)).not.toBeNaN()
    }))

  it.effect("json: one object per line with timestamp, level, app, phase, message and the cause", () =>
    Effect.gen(function*() {
      const lines = yield* capture(
        "json",
        context(),
        Effect.gen(function*() {
          yield* deploy()
          yield* Effect.logError("deploy failed", Cause.fail(new Error("converge timeout")))
        }).pipe(Effect.annotateLogs({ app: "kc", alert: "/x.json" }))
      )
      expect(lines).toHaveLength(2)
      const [first, second] = lines.map((l) => JSON.parse(l))
      expect(first).toMatchObject({ level: "INFO", app: "kc", phase: "deploy", message: "inside the deploy step" })
      expect(Object.keys(first).slice(0, 5)).toEqual(["timestamp", "level", "app", "phase", "message"])
      expect(second).toMatchObject({ level: "ERROR", app: "kc", phase: "reconcile", alert: "/x.json" })
      expect(second.cause).toContain("converge timeout")
    }))

  it.effect("secret values never reach a line: known values (also escaped, in causes and annotations) and KEY=value", () =>
    Effect.gen(function*() {
      const secrets = ["hunter2-sekret", "quo\"te\\pass"]
      const program = Effect.gen(function*() {
        yield* Effect.logInfo(`login with hunter2-sekret failed; also tried quo"te\\pass`)
        yield* Effect.logWarning(
          "abra said: DB_PASSWORD=from-abra-only SMTP_PASS='x y z' SECRET_ADMIN_PASSWORD_VERSION=v1"
        )
        yield* Effect.logError("deploy failed", Cause.fail(new Error("stderr: {\"api_token\": \"tok-123456\"}")))
        yield* Effect.logInfo("fields", { password: "plain-field-pw", version: "1.2.0+1.2" })
        yield* Effect.logInfo("annotated").pipe(Effect.annotateLogs({ env: "ADMIN_PASSWORD=hunter2-sekret" }))
      }).pipe(Effect.annotateLogs({ app: "kc" }))
      for (const format of ["logfmt", "json"] as const) {
        const text = (yield* capture(format, context(secrets), program)).join("\n")
        for (const s of [...secrets, "from-abra-only", "x y z", "tok-123456", "plain-field-pw"]) {
          expect(text, `${format} leaks ${s}`).not.toContain(s)
          expect(text).not.toContain(JSON.stringify(s).slice(1, -1))
        }
        expect(text.split(Redaction.REDACTED).length - 1).toBeGreaterThanOrEqual(7)
        // What is not a secret stays readable.
        expect(text).toContain("SECRET_ADMIN_PASSWORD_VERSION=v1")
        expect(text).toContain("1.2.0+1.2")
        expect(text).toContain("login with")
      }
    }))

  it("secret keys: passwords, tokens, keys; not versions of Docker secrets nor words that merely contain KEY", () => {
    for (const key of ["ADMIN_PASSWORD", "SMTP_PASS", "API_KEY", "SECRET_KEY_BASE", "db-token", "password"]) {
      expect(Redaction.isSecretKey(key), key).toBe(true)
    }
    for (const key of ["SECRET_ADMIN_PASSWORD_VERSION", "KEYCLOAK_ADMIN", "DOMAIN", "TYPE", "PASSAGE"]) {
      expect(Redaction.isSecretKey(key), key).toBe(false)
    }
  })

  it.scopedLive("the secret values are read from the apps' env files, and only those of secret keys", () =>
    Effect.gen(function*() {
      const dir = yield* Effect.acquireRelease(
        Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "warm-reconcile-logs-"))),
        (d) => Effect.sync(() => Fs.rmSync(d, { recursive: true, force: true }))
      )
      const servers = Path.join(dir, "servers", "default")
      Fs.mkdirSync(servers, { recursive: true })
      Fs.writeFileSync(
        Path.join(servers, "id.example.org.env"),
        "TYPE=keycloak:1.1.0+1.1\nDOMAIN=id.example.org\nSECRET_ADMIN_PASSWORD_VERSION=v1\n" +
          "ADMIN_PASSWORD=\"hunter2 sekret\"\nKEYCLOAK_ADMIN=admin\nSMTP_PASS=mail-pass-1\n"
      )
      const app = (name: string, domain: string) =>
        ({ name: name as AppName, domain, server: "default", recipe: "keycloak" }) as never
      const values = yield* LiveRedaction.secretValues(dir, [
        app("kc", "id.example.org"),
        app("none", "no.example.org")
      ])
        .pipe(
          Effect.provide(NodeContext.layer)
        )
      expect([...values].sort()).toEqual(["hunter2 sekret", "mail-pass-1"])
    }))

  it.effect("under the CLI, State reports in-flight phases and scrubs run details; Alerts scrubs alert fields", () =>
    Effect.gen(function*() {
      const runs = yield* Ref.make<Array<RunRecord>>([])
      const alerts = yield* Ref.make<Array<Alert>>([])
      const state = Layer.succeed(
        State,
        State.of({
          lastGood: () => Effect.succeed(Option.none()),
          setLastGood: () => Effect.void,
          hold: () => Effect.succeed(Option.none()),
          setHold: () => Effect.void,
          recordRun: (run) => Ref.update(runs, (r) => [...r, run]),
          inFlight: () => Effect.succeed(Option.none()),
          setInFlight: () => Effect.void
        })
      )
      const alertsLayer = Layer.succeed(
        Alerts,
        Alerts.of({ write: (a) => Ref.update(alerts, (all) => [...all, a]).pipe(Effect.as("written")) })
      )
      const ctx = context(["hunter2-sekret"])
      const record = (phase: InFlightPhase) =>
        Option.some(
          new InFlight({ from: "1", to: "2", fromHealthy: true, snapshot: null, phase, pid: 1, startedAt: "t" })
        )
      const seen: Array<string | undefined> = []
      yield* Effect.gen(function*() {
        const s = yield* State
        yield* s.setInFlight("kc", record("deploy"))
        seen.push(ctx.phases.get("kc"))
        yield* s.setInFlight("kc", record("rollback"))
        seen.push(ctx.phases.get("kc"))
        yield* s.setInFlight("kc", Option.none())
        seen.push(ctx.phases.get("kc"))
        yield* s.recordRun(
          new RunRecord({
            app: "kc",
            outcome: "failed",
            detail: "abra said hunter2-sekret",
            startedAt: "a",
            endedAt: "b",
            interrupted: false
          })
        )
        yield* (yield* Alerts).write(
          new Alert({
            schemaVersion: ALERT_SCHEMA_VERSION,
            app: "kc",
            reason: "rollback",
            ts: "20261125T201535Z",
            fields: { cause: "login with hunter2-sekret", nested: ["TOKEN=abcdef"], recovered: true }
          })
        )
      }).pipe(
        LogFormat.observe(ctx),
        LiveRedaction.redactServices(ctx.redactor),
        Effect.provide(Layer.merge(state, alertsLayer))
      )
      expect(seen).toEqual(["deploy", "rollback", undefined])
      expect((yield* Ref.get(runs))[0]!.detail).toBe(`abra said ${Redaction.REDACTED}`)
      expect((yield* Ref.get(alerts))[0]!.fields).toEqual({
        cause: `login with ${Redaction.REDACTED}`,
        nested: [`TOKEN=${Redaction.REDACTED}`],
        recovered: true
      })
    }))
})

// ---------------------------------------------------------------------------------------------
// Through the CLI
// ---------------------------------------------------------------------------------------------

const DOMAIN = "id.example.org"
const STACK = stackOf(DOMAIN)
const PASSWORD = "hunter2-sekret"
/** Not in any env file: only the KEY=value rule can catch it. */
const ABRA_ONLY = "db-pass-from-abra"

const allFiles = (dir: string): Array<string> =>
  Fs.readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => Path.join(e.parentPath, e.name))

describe("logs of a reconcile through the CLI", () => {
  it.scopedLive(
    "a deploy that prints secrets: JSON lines with app and phase, and the secrets in no line, alert, history or result",
    () =>
      Effect.gen(function*() {
        const world = makeAbraWorld()
        yield* Effect.addFinalizer(() => Effect.sync(() => world.cleanup()))
        deployWithAbra(world, {
          recipe: "keycloak",
          domain: DOMAIN,
          versions: [{ tag: "1.1.0+1.1" }, { tag: "1.2.0+1.2", notes: "New." }],
          deployed: "1.1.0+1.1",
          generateSecrets: true
        })
        // An app setting that holds a password, next to the Docker secret's version.
        Fs.appendFileSync(world.envFile(DOMAIN), `ADMIN_PASSWORD=${PASSWORD}\n`)
        expect(Fs.readFileSync(world.envFile(DOMAIN), "utf8")).toContain("SECRET_ADMIN_PASSWORD_VERSION=v1")

        // abra in front of the fake: the deploy of 1.2.0 fails, and its error shows both secrets.
        const wrap = Path.join(world.root, "wrap")
        Fs.mkdirSync(wrap)
        Fs.writeFileSync(
          Path.join(wrap, "abra"),
          [
            "#!/bin/sh",
            "case \" $* \" in",
            `  *" app deploy "*" 1.2.0+1.2 "*)`,
            "    echo 'INFO deploying' >&2",
            `    echo 'FATA deploy failed: the database refused the password "${PASSWORD}" (DB_PASSWORD=${ABRA_ONLY})' >&2`,
            "    exit 1 ;;",
            "esac",
            `exec "${fakeAbraPath}" "$@"`,
            ""
          ].join("\n"),
          { mode: 0o755 }
        )

        const volume = Path.join(world.root, "volumes", `${STACK}_data`, "_data")
        Fs.mkdirSync(volume, { recursive: true })
        Fs.writeFileSync(Path.join(volume, "db"), "data\n")
        const engine = yield* fakeEngine({
          abraDir: world.abraDir,
          state: { volumes: [stackVolume(STACK, "data", volume)] }
        })
        const port = yield* Effect.acquireRelease(
          Effect.async<{ server: Http.Server; port: number }>((resume) => {
            const server = Http.createServer((_, res) => {
              res.writeHead(world.readState().deployed[DOMAIN] ? 200 : 404).end()
            })
            server.listen(0, "127.0.0.1", () => {
              const address = server.address()
              resume(Effect.succeed({ server, port: typeof address === "object" && address ? address.port : 0 }))
            })
          }),
          ({ server }) =>
            Effect.async<void>((resume) => {
              server.close(() => resume(Effect.void))
            })
        ).pipe(Effect.map((s) => s.port))

        const stateDir = Path.join(world.root, "state")
        const config = writeConfig(world, {
          keycloak: {
            recipe: "keycloak",
            domain: DOMAIN,
            health: { url: `http://127.0.0.1:${port}/`, timeout: "20 seconds", interval: 0.2 }
          }
        })
        const env = {
          ...world.env,
          PATH: [wrap, world.env.PATH].join(Path.delimiter),
          DOCKER_HOST: `unix://${engine.socket}`
        }
        const metrics = Path.join(world.root, "warm-reconcile.prom")

        const first = yield* cli(
          ["reconcile", "keycloak", "--config", config, "--log-format", "json", "--metrics-file", metrics],
          env
        )
        expect(first.stdout.trim()).toBe("RECONCILE RESULT: rolled-back:1.2.0+1.2->1.1.0+1.1")
        expect(first.code).toBe(0)
        const lines = first.stderr.trim().split("\n")
        const events = lines.map((line) => JSON.parse(line) as Record<string, unknown>)
        for (const e of events) {
          expect(e).toMatchObject({ app: "keycloak" })
          expect(typeof e["phase"]).toBe("string")
        }
        // The failure was logged (scrubbed), and the rollback's lines carry its phase.
        const failed = events.find((e) => String(e["message"]).includes("rolling back to 1.1.0+1.1"))
        expect(String(failed?.["message"])).toContain(`the password "${Redaction.REDACTED}"`)
        expect(String(failed?.["message"])).toContain(`DB_PASSWORD=${Redaction.REDACTED}`)
        const phases = new Set(events.map((e) => e["phase"]))
        expect(phases).toContain("rollback")
        expect(phases).toContain("deploy")

        const alertFiles = allFiles(Path.join(stateDir, "alerts"))
        expect(alertFiles).toHaveLength(1)
        const alert = JSON.parse(Fs.readFileSync(alertFiles[0]!, "utf8"))
        expect(alert.reason).toBe("rollback")
        expect(alert.cause).toContain(Redaction.REDACTED)

        // The second run holds the failed release: default logfmt, one line per event.
        const second = yield* cli(["reconcile", "keycloak", "--config", config], env)
        expect(second.stdout.trim()).toBe("RECONCILE RESULT: held-failed-release:1.1.0+1.1->1.2.0+1.2")
        const logfmt = second.stderr.trim().split("\n").map(parseLogfmt)
        expect(logfmt.length).toBeGreaterThan(0)
        for (const fields of logfmt) {
          expect(fields).toMatchObject({ app: "keycloak" })
          expect(fields["phase"]).toMatch(/^\S+$/)
          expect(fields["level"]).toMatch(/^(INFO|WARN|ERROR)$/)
        }

        for (const secret of [PASSWORD, ABRA_ONLY]) {
          for (const out of [first.stdout, first.stderr, second.stdout, second.stderr]) {
            expect(out).not.toContain(secret)
          }
          for (const file of allFiles(stateDir)) {
            expect(Fs.readFileSync(file, "utf8"), `${file} holds ${secret}`).not.toContain(secret)
          }
        }

        // The metrics file counted the rollback and kept its count over the second run (no --metrics-file there).
        const prom = Fs.readFileSync(metrics, "utf8")
        expect(prom).toContain("warm_reconcile_rollbacks_total{app=\"keycloak\"} 1\n")
        expect(prom).toContain("warm_reconcile_last_outcome{app=\"keycloak\",outcome=\"rolled-back\"} 1\n")
        // Timed from the real run: the snapshot, the failed deploy and the redeploy, the rollback's health gate, the restore.
        for (const phase of ["snapshot", "deploy", "health", "restore"]) {
          expect(prom).toMatch(
            new RegExp(`warm_reconcile_phase_duration_seconds\\{app="keycloak",phase="${phase}"\\} [0-9.]+\n`)
          )
        }
      }),
    { timeout: 240_000 }
  )

  it.scopedLive(
    "--log-format pretty: human lines on stderr with app and phase, the result alone on stdout",
    () =>
      Effect.gen(function*() {
        const dir = yield* Effect.acquireRelease(
          Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "warm-reconcile-pretty-"))),
          (d) => Effect.sync(() => Fs.rmSync(d, { recursive: true, force: true }))
        )
        const fs = yield* FileSystem.FileSystem
        const config = Path.join(dir, "config.json")
        // An abra directory (it has servers/), so that the run gets as far as calling abra.
        yield* fs.makeDirectory(Path.join(dir, "servers"))
        yield* fs.writeFileString(
          config,
          JSON.stringify({
            stateDir: Path.join(dir, "state"),
            abraDir: dir,
            apps: { kc: { recipe: "keycloak", domain: DOMAIN } }
          })
        )
        const socket = Path.join(dir, "no-docker.sock")
        const r = yield* cli(
          ["reconcile", "kc", "--config", config, "--skip-fetch", "--log-format", "pretty"],
          { DOCKER_HOST: `unix://${socket}`, PATH: process.env.PATH ?? "" }
        )
        expect(r.code).toBe(1)
        expect(r.stdout.trim()).toMatch(/^RECONCILE RESULT: failed:/)
        // Pretty: the message, then each annotation on a line of its own.
        expect(r.stderr).toMatch(/ERROR .*abra was not found on PATH/)
        expect(r.stderr).toMatch(/^ +app: kc$/m)
        expect(r.stderr).toMatch(/^ +phase: reconcile$/m)
        expect(r.stderr.split("\n").filter((l) => l.trim().length > 0).every((l) => !l.startsWith("timestamp="))).toBe(
          true
        )
      }).pipe(Effect.provide(NodeContext.layer)),
    { timeout: 120_000 }
  )
})
