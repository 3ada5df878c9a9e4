/**
 * `warm-reconcile reconcile` as operators run it (the CLI entry point, a child process), on the
 * live layers: the fake abra on PATH with real git recipes, a fake Engine API on a unix socket that
 * follows the fake abra's deployments, a local HTTP health endpoint, real volume files, real state.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Os from "node:os"
import * as Path from "node:path"
import { cli } from "../support/cli.js"
import { type AbraWorld, deployWithAbra, makeAbraWorld, makeRecipeRepo, writeConfig } from "../support/fakeAbra.js"
import { fakeEngine, stackOf, stackVolume } from "../support/fakeEngine.js"
import { notifyServer } from "../support/notifyServers.js"

const DOMAIN = "id.example.org"
const STACK = stackOf(DOMAIN)
const BROKEN = "1.3.0+1.3"

/** Answers like the app would: the deployed version decides; the broken one migrates the data, then 500s. */
const healthServer = (world: AbraWorld, volume: string) =>
  Effect.acquireRelease(
    Effect.async<{ server: Http.Server; port: number; hosts: Array<string> }>((resume) => {
      const hosts: Array<string> = []
      const server = Http.createServer((req, res) => {
        hosts.push(req.headers.host ?? "")
        const deployed = world.readState().deployed[DOMAIN]
        if (!deployed) {
          res.writeHead(404).end()
        } else if (deployed.version === BROKEN) {
          Fs.writeFileSync(Path.join(volume, "schema"), "schema 13 (migrated by 1.3.0)\n")
          res.writeHead(500).end("broken")
        } else {
          res.writeHead(200).end("ok")
        }
      })
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        resume(Effect.succeed({ server, port: typeof address === "object" && address ? address.port : 0, hosts }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.close(() => resume(Effect.void))
      })
  )

const listing = (dir: string): Record<string, string> =>
  Object.fromEntries(
    Fs.readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => {
        const full = Path.join(e.parentPath, e.name)
        return [Path.relative(dir, full), Fs.readFileSync(full, "utf8")]
      })
  )

describe("reconcile on the live layers", () => {
  it.scopedLive(
    "upgrades when healthy, then rolls a broken release back with its data restored",
    () =>
      Effect.gen(function*() {
        const world = makeAbraWorld()
        yield* Effect.addFinalizer(() => Effect.sync(() => world.cleanup()))
        // The app as an operator left it: 1.1.0 deployed with abra.
        deployWithAbra(world, {
          recipe: "keycloak",
          domain: DOMAIN,
          versions: [{ tag: "1.1.0+1.1", notes: "First." }, { tag: "1.2.0+1.2", notes: "Faster login." }],
          deployed: "1.1.0+1.1",
          generateSecrets: true
        })

        const volume = Path.join(world.root, "volumes", `${STACK}_data`, "_data")
        Fs.mkdirSync(Path.join(volume, "realms"), { recursive: true })
        Fs.writeFileSync(Path.join(volume, "schema"), "schema 11\n")
        Fs.writeFileSync(Path.join(volume, "realms", "master.json"), "{\"realm\":\"master\"}\n")
        const engine = yield* fakeEngine({
          abraDir: world.abraDir,
          state: { volumes: [stackVolume(STACK, "data", volume)] }
        })
        const health = yield* healthServer(world, volume)
        // A channel that asked for upgrades (issue 16): it hears of the healthy one, and of the rollback.
        const ntfy = yield* notifyServer("ntfy", { secret: "tok" })

        const stateDir = Path.join(world.root, "state")
        const config = writeConfig(world, {
          keycloak: {
            recipe: "keycloak",
            domain: DOMAIN,
            stateful: true,
            // The broken release waits out the whole deadline: short, yet ample for the healthy ones.
            health: { url: `http://127.0.0.1:${health.port}/health`, timeout: "5 seconds", interval: 0.2 }
          }
        }, { notify: [{ url: `ntfy://tok@127.0.0.1:${ntfy.port}/ops?disabletls=yes`, successes: ["upgraded"] }] })
        const env = { ...world.env, DOCKER_HOST: `unix://${engine.socket}` }

        // 1. A healthy minor upgrade.
        const first = yield* cli(["reconcile", "keycloak", "--config", config], env)
        expect(first.stdout.trim()).toBe("RECONCILE RESULT: upgraded:1.1.0+1.1->1.2.0+1.2")
        expect(first.code).toBe(0)
        expect(world.readState().deployed[DOMAIN]?.version).toBe("1.2.0+1.2")
        expect(Fs.readFileSync(Path.join(stateDir, "keycloak", "last_good"), "utf8")).toBe("1.2.0+1.2")
        expect(Fs.readFileSync(world.envFile(DOMAIN), "utf8")).toContain("TYPE=keycloak:1.2.0+1.2")
        // Always -n; the deploy is pinned and forced, as abra.md says.
        const calls = world.readCalls().map((c) => c.argv)
        expect(calls.filter((a) => a[0] === "app" || a[0] === "recipe").every((a) => a.includes("-n"))).toBe(true)
        expect(calls).toContainEqual(["app", "deploy", DOMAIN, "1.2.0+1.2", "-o", "-n", "-f"])
        const snapshotMeta = JSON.parse(
          Fs.readFileSync(Path.join(stateDir, "keycloak", "snapshot", "meta.json"), "utf8")
        )
        expect(snapshotMeta.version).toBe("1.1.0+1.1")
        // The health server saw the app's domain as Host.
        expect(health.hosts.every((h) => h === DOMAIN)).toBe(true)
        const titles = () =>
          ntfy.accepted.map((r) => String(r.json["title"]).replace(/^\[warm-reconcile\] [^:]+: /, ""))
        expect(titles()).toEqual(["keycloak upgraded 1.1.0+1.1 -> 1.2.0+1.2"])

        // 2. A broken release that migrates the data and then fails.
        makeRecipeRepo(world.recipesSource, "keycloak", [{ tag: BROKEN, notes: "Schema 13." }])
        const before = listing(volume)
        const second = yield* cli(["reconcile", "keycloak", "--config", config], env)
        expect(second.stdout.trim()).toBe(`RECONCILE RESULT: rolled-back:${BROKEN}->1.2.0+1.2`)
        expect(second.code).toBe(0)
        expect(listing(volume)).toEqual(before)
        expect(world.readState().deployed[DOMAIN]?.version).toBe("1.2.0+1.2")
        expect(Fs.readFileSync(Path.join(stateDir, "keycloak", "last_good"), "utf8")).toBe("1.2.0+1.2")
        const alerts = Fs.readdirSync(Path.join(stateDir, "alerts")).filter((f) => f.endsWith(".json"))
        expect(alerts).toHaveLength(1)
        expect(alerts[0]).toMatch(/^\d{8}T\d{6}Z-keycloak-rollback\.json$/)
        const alert = JSON.parse(Fs.readFileSync(Path.join(stateDir, "alerts", alerts[0]!), "utf8"))
        expect(alert).toMatchObject({ app: "keycloak", reason: "rollback", attempted: BROKEN, last_good: "1.2.0+1.2" })
        expect(alert.release_notes).toContain("Schema 13.")
        expect(titles()).toEqual([
          "keycloak upgraded 1.1.0+1.1 -> 1.2.0+1.2",
          `keycloak rolled back ${BROKEN} -> 1.2.0+1.2`
        ])
        // The broken version really did run and migrate before the restore.
        expect(world.readCalls().map((c) => c.argv)).toContainEqual(["app", "deploy", DOMAIN, BROKEN, "-o", "-n", "-f"])
      }),
    { timeout: 240_000 }
  )

  it.scopedLive(
    "an unreachable Docker socket is one clear line and exit 1, nothing changed",
    () =>
      Effect.gen(function*() {
        const world = makeAbraWorld()
        yield* Effect.addFinalizer(() => Effect.sync(() => world.cleanup()))
        makeRecipeRepo(world.recipesSource, "keycloak", [{ tag: "1.0.0+1.0" }])
        Fs.mkdirSync(Path.join(world.abraDir, "servers"))
        const stateDir = Path.join(world.root, "state")
        const config = Path.join(world.root, "config.json")
        // An app warm-reconcile sets up itself (issue 13: only when the config says so).
        Fs.writeFileSync(
          config,
          JSON.stringify({
            stateDir,
            abraDir: world.abraDir,
            apps: { kc: { recipe: "keycloak", domain: DOMAIN, create: true, keepDeployed: true } }
          })
        )
        const socket = Path.join(Os.tmpdir(), `no-such-docker-${process.pid}.sock`)
        const r = yield* cli(["reconcile", "kc", "--config", config], { ...world.env, DOCKER_HOST: `unix://${socket}` })
        expect(r.code).toBe(1)
        expect(r.stdout.trim()).toBe(
          `RECONCILE RESULT: failed:cannot reach the Docker socket ${socket} (ENOENT): is dockerd running?`
        )
        expect(world.readCalls().map((c) => c.argv.slice(0, 2))).not.toContainEqual(["app", "deploy"])
      }),
    { timeout: 120_000 }
  )
})
