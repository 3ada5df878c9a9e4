/**
 * Discovery and pausing (issue 13) through the CLI with the fake abra and the fake Engine API:
 * `"discover": true` manages the apps whose env file says `ENABLE_AUTO_UPDATE=true` and no other;
 * plan --all and status say why each app is managed; `"enabled": false` pauses an app: reconcile
 * runs no abra command and takes no lock, exit 0; plan and status say "paused".
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { cli } from "../support/cli.js"
import { deployWithAbra, makeAbraWorld } from "../support/fakeAbra.js"
import { fakeEngine } from "../support/fakeEngine.js"

const DOMAIN = "id.example.org"
const OTHER = "other.example.org"
const VERSIONS = [{ tag: "1.1.0+1.1" }, { tag: "1.2.0+1.2" }]
/** A probe that fails at once: plan only needs an answer, not a healthy one. */
const QUICK_HEALTH = { url: "http://127.0.0.1:9/", settle: 1, attemptTimeout: 1 }

const setup = (config: (stateDir: string, abraDir: string) => Record<string, unknown>) =>
  Effect.gen(function*() {
    const world = makeAbraWorld()
    yield* Effect.addFinalizer(() => Effect.sync(() => world.cleanup()))
    deployWithAbra(world, { recipe: "keycloak", domain: DOMAIN, versions: VERSIONS, deployed: "1.1.0+1.1" })
    // Another app abra knows, not opted in.
    Fs.writeFileSync(world.envFile(OTHER), "TYPE=keycloak:1.1.0+1.1\nDOMAIN=other.example.org\n")
    const engine = yield* fakeEngine({ abraDir: world.abraDir })
    const stateDir = Path.join(world.root, "state")
    const path = Path.join(world.root, "config.json")
    Fs.writeFileSync(path, JSON.stringify(config(stateDir, world.abraDir)))
    return { world, stateDir, config: path, env: { ...world.env, DOCKER_HOST: `unix://${engine.socket}` } }
  })

describe("discovery and pausing, through the CLI", () => {
  it.scopedLive(
    "discover: only the opted-in app is managed; plan --all and status say why",
    () =>
      Effect.gen(function*() {
        const { config, env, world } = yield* setup((stateDir, abraDir) => ({
          stateDir,
          abraDir,
          discover: true,
          defaults: { health: QUICK_HEALTH },
          apps: {}
        }))
        Fs.appendFileSync(world.envFile(DOMAIN), "ENABLE_AUTO_UPDATE=true\n")
        const plan = yield* cli(["plan", "--all", "--config", config, "--skip-fetch"], env)
        expect(plan.code, plan.stderr).toBe(0)
        const lines = plan.stdout.trim().split("\n").filter((l) => l.startsWith("PLAN "))
        expect(lines).toHaveLength(1)
        expect(lines[0]).toMatch(/^PLAN id\.example\.org: upgrade 1\.1\.0\+1\.1 -> 1\.2\.0\+1\.2/)
        expect(lines[0]).toContain("[opted in (ENABLE_AUTO_UPDATE=true)]")
        expect(plan.stdout).not.toContain(OTHER)

        const status = yield* cli(["status", "--config", config], env)
        expect(status.code, status.stderr).toBe(0)
        expect(status.stdout).toContain(`managed:\n  ${DOMAIN}: opted in (ENABLE_AUTO_UPDATE=true)`)
        expect(status.stdout).not.toContain(OTHER)

        // Not opted in any more: nothing is managed.
        Fs.writeFileSync(world.envFile(DOMAIN), Fs.readFileSync(world.envFile(DOMAIN), "utf8").replace("=true", "="))
        const none = yield* cli(["plan", "--all", "--config", config, "--skip-fetch"], env)
        expect(none.stdout.trim()).toBe("no apps configured or opted in")
      }),
    { timeout: 120_000 }
  )

  it.scopedLive(
    "enabled: false: reconcile runs no abra command and takes no lock, exit 0; plan and status say paused",
    () =>
      Effect.gen(function*() {
        const { config, env, stateDir, world } = yield* setup((stateDir, abraDir) => ({
          stateDir,
          abraDir,
          apps: { kc: { recipe: "keycloak", domain: DOMAIN, enabled: false } }
        }))
        const calls = world.readCalls().length
        const r = yield* cli(["reconcile", "kc", "--config", config], env)
        expect(r.code, r.stderr).toBe(0)
        expect(r.stdout.trim()).toBe("RECONCILE RESULT: paused:enabled=false")
        expect(world.readCalls().length).toBe(calls)
        expect(Fs.existsSync(Path.join(stateDir, "kc"))).toBe(false)
        const all = yield* cli(["reconcile", "--all", "--config", config], env)
        expect(all.code, all.stderr).toBe(0)
        expect(all.stdout).toContain("RECONCILE RESULT kc: paused:enabled=false")

        const plan = yield* cli(["plan", "kc", "--config", config], env)
        expect(plan.code, plan.stderr).toBe(0)
        expect(plan.stdout.trim()).toBe(`PLAN kc: paused ("enabled": false): reconcile does nothing`)
        const status = yield* cli(["status", "--config", config], env)
        expect(status.stdout.split("\n")[1]!.split(/ {2,}/)[5]).toBe("paused")
        expect(world.readCalls().length).toBe(calls)
      }),
    { timeout: 120_000 }
  )
})
