/**
 * `status`: gathered on the live layers over the fake abra's files, real recipe clones, the fake
 * Engine API and a real state directory; checked for what it reports and for changing nothing.
 * The command itself runs as a child process, also with the Docker socket missing.
 */
import { NodeContext, NodeHttpClient } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option, Schedule } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Status from "../../src/cli/Status.js"
import { Alert, ALERT_SCHEMA_VERSION } from "../../src/domain/Alert.js"
import { AppConfig, type AppName, appSpec } from "../../src/domain/Config.js"
import { NotifyChannel } from "../../src/domain/Notify.js"
import * as LiveAlerts from "../../src/live/Alerts.js"
import * as DockerLive from "../../src/live/Docker.js"
import * as Live from "../../src/live/Live.js"
import * as LiveNotifier from "../../src/live/Notifier.js"
import { Redaction, SecretBook } from "../../src/live/Redaction.js"
import { recordRun, setHold, setInFlight, setLastGood } from "../../src/live/State.js"
import { deliverOutbox } from "../../src/reconcile/Deliver.js"
import { HoldRecord, InFlight, RunRecord } from "../../src/services/State.js"
import { cli } from "../support/cli.js"
import { type AbraWorld, deployWithAbra, git, makeAbraWorld, makeRecipeRepo, writeConfig } from "../support/fakeAbra.js"
import { fakeEngine } from "../support/fakeEngine.js"
import { tempDir } from "../support/files.js"
import { closedPort } from "../support/httpsServer.js"

const DOMAIN = "id.example.org"

/** Every file under `dir` with its content and modification time: any write shows. */
const snapshotTree = (dir: string): Record<string, string> =>
  Object.fromEntries(
    Fs.readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && !e.parentPath.includes(`${Path.sep}.git`))
      .map((e) => {
        const full = Path.join(e.parentPath, e.name)
        return [Path.relative(dir, full), `${Fs.statSync(full).mtimeMs} ${Fs.readFileSync(full, "utf8")}`]
      })
  )

/**
 * keycloak: 1.1.0 deployed and pinned, 1.2.0 published, last-good 1.1.0, a hold on 1.2.0, an
 * upgrade in flight and two runs recorded. nextcloud: configured, never set up (no env file, no
 * clone, not deployed).
 */
const setup = (world: AbraWorld) =>
  Effect.gen(function*() {
    deployWithAbra(world, {
      recipe: "keycloak",
      domain: DOMAIN,
      versions: [{ tag: "1.1.0+1.1" }, { tag: "1.2.0+1.2" }],
      deployed: "1.1.0+1.1"
    })
    // Published upstream after the last fetch: a status that fetched would report it as latest.
    makeRecipeRepo(world.recipesSource, "keycloak", [{ tag: "1.3.0+1.3" }])

    const stateDir = Path.join(world.root, "state")
    yield* setLastGood(stateDir, "keycloak", "1.1.0+1.1")
    yield* setHold(
      stateDir,
      "keycloak",
      Option.some(
        new HoldRecord({ reason: "held-failed-release", from: "1.1.0+1.1", to: "1.2.0+1.2", ts: "20261124T030000Z" })
      )
    )
    yield* setInFlight(
      stateDir,
      "keycloak",
      Option.some(
        new InFlight({
          from: "1.1.0+1.1",
          to: "1.2.0+1.2",
          fromHealthy: true,
          snapshot: "1.1.0+1.1",
          phase: "health",
          pid: 4242,
          startedAt: "2026-11-25T03:00:00.000Z"
        })
      )
    )
    for (
      const [outcome, endedAt] of [["upgraded", "2026-11-23T03:00:05.000Z"], [
        "rolled-back",
        "2026-11-24T03:01:00.000Z"
      ]]
    ) {
      yield* recordRun(
        stateDir,
        new RunRecord({
          app: "keycloak",
          outcome: outcome!,
          detail: "",
          startedAt: endedAt!,
          endedAt: endedAt!,
          interrupted: false
        })
      )
    }
    const config = writeConfig(world, {
      keycloak: { recipe: "keycloak", domain: DOMAIN },
      nextcloud: { recipe: "nextcloud", domain: "cloud.example.org" }
    })
    return { stateDir, config }
  }).pipe(Effect.provide(NodeContext.layer))

const spec = (name: string, recipe: string, domain: string) =>
  appSpec(name as AppName, AppConfig.make({ recipe, domain } as never))

describe("status", () => {
  it.scopedLive(
    "reports every fact of each app, and changes nothing: no abra call, no write, no fetch",
    () =>
      Effect.gen(function*() {
        const world = makeAbraWorld()
        yield* Effect.addFinalizer(() => Effect.sync(() => world.cleanup()))
        const { stateDir } = yield* setup(world)
        const engine = yield* fakeEngine({ abraDir: world.abraDir })
        const callsBefore = world.readCalls().length
        const before = { state: snapshotTree(stateDir), abra: snapshotTree(world.abraDir) }
        const clone = Path.join(world.abraDir, "recipes", "keycloak")
        const tagsBefore = git(clone, ["tag", "--list"])

        const statuses = yield* Status.gather(
          [spec("keycloak", "keycloak", DOMAIN), spec("nextcloud", "nextcloud", "cloud.example.org")],
          { stateDir, abraDir: world.abraDir }
        ).pipe(
          Effect.provide(
            Live.layer({ stateDir, abraDir: world.abraDir, docker: DockerLive.layerSocket(engine.socket) })
          )
        )

        expect(statuses[0]).toMatchObject({
          app: "keycloak",
          envFile: true,
          pinned: "1.1.0+1.1",
          deployed: true,
          running: "1.1.0+1.1",
          lastGood: "1.1.0+1.1",
          latest: "1.2.0+1.2",
          hold: { reason: "held-failed-release", to: "1.2.0+1.2" },
          inFlight: { phase: "health", from: "1.1.0+1.1", to: "1.2.0+1.2", pid: 4242 },
          lastRun: { outcome: "rolled-back", endedAt: "2026-11-24T03:01:00.000Z" },
          problems: {}
        })
        expect(statuses[1]).toMatchObject({
          app: "nextcloud",
          envFile: false,
          pinned: null,
          deployed: false,
          running: null,
          lastGood: null,
          latest: null,
          hold: null,
          inFlight: null,
          lastRun: null
        })
        expect(Object.keys(statuses[1]!.problems)).toEqual(["recipe"])
        expect(statuses[1]!.problems["recipe"]).toContain("no local clone of the recipe nextcloud")

        // Read-only: no abra at all, not one file written, the clone not fetched, only GETs to Docker.
        expect(world.readCalls()).toHaveLength(callsBefore)
        expect(snapshotTree(stateDir)).toEqual(before.state)
        expect(snapshotTree(world.abraDir)).toEqual(before.abra)
        expect(git(clone, ["tag", "--list"])).toBe(tagsBefore)
        expect(engine.requests.length).toBeGreaterThan(0)
        expect(engine.requests.every((r) => r.method === "GET")).toBe(true)

        const table = Status.renderTable(statuses).split("\n")
        expect(table[0]).toMatch(/^APP +DEPLOYED +PINNED +LAST-GOOD +LATEST +HOLD +IN-FLIGHT +LAST RUN$/)
        expect(table[1]!.split(/ {2,}/)).toEqual([
          "keycloak",
          "1.1.0+1.1",
          "1.1.0+1.1",
          "1.1.0+1.1",
          "1.2.0+1.2",
          "held-failed-release 1.2.0+1.2",
          "health 1.1.0+1.1->1.2.0+1.2",
          "rolled-back 2026-11-24T03:01:00.000Z"
        ])
        expect(table[2]!.split(/ {2,}/)).toEqual(["nextcloud", "no", "no env file", "-", "?", "-", "-", "never"])
        expect(table.slice(3)).toEqual([
          "",
          "could not read:",
          expect.stringMatching(/^ {2}recipe: no local clone of the recipe nextcloud .* \(nextcloud\)$/)
        ])
      }),
    { timeout: 120_000 }
  )

  it.scopedLive(
    "the command: a table, --json per app, Docker unreachable said once, an unknown app is exit 2",
    () =>
      Effect.gen(function*() {
        const world = makeAbraWorld()
        yield* Effect.addFinalizer(() => Effect.sync(() => world.cleanup()))
        const { config } = yield* setup(world)
        const engine = yield* fakeEngine({ abraDir: world.abraDir })

        const json = yield* cli(["status", "keycloak", "--config", config, "--json"], {
          ...world.env,
          DOCKER_HOST: `unix://${engine.socket}`
        })
        expect(json.code).toBe(0)
        const lines = json.stdout.trim().split("\n")
        expect(lines).toHaveLength(1)
        expect(JSON.parse(lines[0]!)).toMatchObject({
          app: "keycloak",
          deployed: true,
          running: "1.1.0+1.1",
          latest: "1.2.0+1.2",
          lastGood: "1.1.0+1.1",
          problems: {}
        })

        // No Docker: every other fact is still there, and the reason is given once for both apps.
        const socket = Path.join(world.root, "no-docker.sock")
        const down = yield* cli(["status", "--config", config], { ...world.env, DOCKER_HOST: `unix://${socket}` })
        expect(down.code).toBe(0)
        const out = down.stdout.trim().split("\n")
        expect(out[1]!.split(/ {2,}/).slice(0, 5)).toEqual(["keycloak", "?", "1.1.0+1.1", "1.1.0+1.1", "1.2.0+1.2"])
        expect(out[2]!.split(/ {2,}/).slice(0, 2)).toEqual(["nextcloud", "?"])
        const docker = out.filter((l) => l.includes(socket))
        expect(docker).toHaveLength(1)
        expect(docker[0]).toMatch(/^ {2}docker: cannot reach the Docker socket .*\(keycloak, nextcloud\)$/)

        const unknown = yield* cli(["status", "nope", "--config", config], world.env)
        expect(unknown.code).toBe(2)
        expect(unknown.stderr).toContain("no app \"nope\"")
      }),
    { timeout: 120_000 }
  )

  it.scopedLive(
    "snapshot take refuses while an unfinished upgrade waits for recovery: its snapshot is kept",
    () =>
      Effect.gen(function*() {
        const world = makeAbraWorld()
        yield* Effect.addFinalizer(() => Effect.sync(() => world.cleanup()))
        const { config, stateDir } = yield* setup(world)
        const engine = yield* fakeEngine({ abraDir: world.abraDir })
        const take = yield* cli(["snapshot", "take", "keycloak", "--config", config], {
          ...world.env,
          DOCKER_HOST: `unix://${engine.socket}`
        })
        expect(take.code).toBe(1)
        expect(take.stderr).toMatch(/unfinished upgrade 1\.1\.0\+1\.1 -> 1\.2\.0\+1\.2 .*recover it/)
        expect(Fs.existsSync(Path.join(stateDir, "keycloak", "snapshot"))).toBe(false)
        expect(Fs.existsSync(Path.join(stateDir, "keycloak", "in-flight.json"))).toBe(true)
      }),
    { timeout: 120_000 }
  )

  it.scopedLive(
    "with channels: each one's deliveries pending and its latest failure, in the table's output and --json",
    () =>
      Effect.gen(function*() {
        const root = yield* tempDir("warm-reconcile-status-channels-")
        const abraDir = Path.join(root, "abra")
        const stateDir = Path.join(root, "state")
        const port = yield* closedPort
        const notify = [
          { url: `ntfy://tok@127.0.0.1:${port}/ops?disabletls=yes` },
          { name: "mail", url: "smtp://127.0.0.1/?from=a@x.org&to=b@x.org", apps: ["nextcloud"] }
        ]
        const config = Path.join(root, "config.json")
        Fs.mkdirSync(Path.join(abraDir, "servers"), { recursive: true })
        Fs.writeFileSync(
          config,
          JSON.stringify({
            stateDir,
            abraDir,
            apps: { keycloak: { recipe: "keycloak", domain: DOMAIN } },
            notify
          })
        )
        yield* LiveAlerts.write(
          stateDir,
          new Alert({
            schemaVersion: ALERT_SCHEMA_VERSION,
            app: "keycloak",
            reason: "rollback",
            ts: "20261125T201535Z",
            fields: { attempted: "1.2", last_good: "1.1" }
          })
        )
        // A delivery that fails as a run's would (one attempt): it leaves the channel's failure record.
        const channels = notify.map((n) => new NotifyChannel(n))
        const report = yield* deliverOutbox({ host: "srv1", stateDir, retry: Schedule.recurs(0) }).pipe(
          Effect.provide(
            LiveNotifier.layer({ stateDir, channels }).pipe(
              Layer.provide(Layer.mergeAll(NodeHttpClient.layerUndici, Layer.succeed(Redaction, new SecretBook())))
            )
          )
        )
        expect(report.failed.map((f) => f.channel)).toEqual(["ntfy"])

        // The table's section, as the command prints it below the apps (one process saved: see --json below).
        expect(Status.renderChannels(yield* LiveNotifier.backlog(stateDir, channels)).split("\n")).toEqual([
          expect.stringMatching(
            /^ {2}ntfy: 1 pending; last failure \d{4}-\d\d-\d\dT[\d:.]+Z \(20261125T201535Z-keycloak-rollback\): ntfy: POST 127\.0\.0\.1:\d+: /
          ),
          // Its filter takes nextcloud's alerts only: nothing waits for it.
          "  mail: nothing pending"
        ])

        const env = { DOCKER_HOST: `unix://${Path.join(root, "no-docker.sock")}` }
        const json = yield* cli(["status", "--config", config, "--json"], env)
        expect(json.code).toBe(0)
        const objects = json.stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>)
        expect(objects.map((o) => o["app"] ?? o["channel"])).toEqual(["keycloak", "ntfy", "mail"])
        expect(objects[1]).toMatchObject({
          channel: "ntfy",
          pending: 1,
          lastFailure: { channel: "ntfy", id: "20261125T201535Z-keycloak-rollback" }
        })
        expect(objects[2]).toEqual({ channel: "mail", pending: 0, lastFailure: null })
      }).pipe(Effect.provide(NodeContext.layer)),
    { timeout: 120_000 }
  )
})
