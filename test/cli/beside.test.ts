/**
 * Living beside the people who run the server (issue 13), through the CLI with the fake abra and
 * the fake Engine API: a domain typo and a wrong abraDir stop with exit 2 before abra changes
 * anything; an app a person undeployed stays so; a chaos deploy is held, alerted once, untouched.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { cli } from "../support/cli.js"
import { type AbraWorld, deployWithAbra, git, makeAbraWorld, runAbra } from "../support/fakeAbra.js"
import { fakeEngine } from "../support/fakeEngine.js"

const DOMAIN = "id.example.org"
const VERSIONS = [{ tag: "1.1.0+1.1" }, { tag: "1.2.0+1.2" }]

/** Commands of the fake abra that change something (`server ls`, `app ls` only read). */
const changing = (world: AbraWorld, since = 0) =>
  world.readCalls().slice(since).map((c) => c.argv.filter((a) => !a.startsWith("-")).slice(0, 2).join(" "))
    .filter((c) => c !== "server ls" && c !== "app ls")

const setup = (domain = DOMAIN, more: Record<string, unknown> = {}) =>
  Effect.gen(function*() {
    const world = makeAbraWorld()
    yield* Effect.addFinalizer(() => Effect.sync(() => world.cleanup()))
    deployWithAbra(world, { recipe: "keycloak", domain: DOMAIN, versions: VERSIONS, deployed: "1.1.0+1.1" })
    const engine = yield* fakeEngine({ abraDir: world.abraDir })
    const stateDir = Path.join(world.root, "state")
    const config = Path.join(world.root, "config.json")
    Fs.writeFileSync(
      config,
      JSON.stringify({ stateDir, abraDir: world.abraDir, apps: { kc: { recipe: "keycloak", domain, ...more } } })
    )
    const env = { ...world.env, DOCKER_HOST: `unix://${engine.socket}` }
    return { world, stateDir, config, env }
  })

const alertFiles = (stateDir: string) => {
  const dir = Path.join(stateDir, "alerts")
  return Fs.existsSync(dir) ? Fs.readdirSync(dir).filter((f) => f.endsWith(".json")) : []
}

describe("beside the operator, through the CLI", () => {
  it.scopedLive(
    "a domain typo: exit 2, one line naming the env file's path and the right domain; abra changes nothing",
    () =>
      Effect.gen(function*() {
        const { config, env, stateDir, world } = yield* setup("id.exmaple.org")
        const calls = world.readCalls().length
        const r = yield* cli(["reconcile", "kc", "--config", config], env)
        expect(r.code, r.stderr).toBe(2)
        expect(r.stdout).toBe("")
        const lines = r.stderr.split("\n").filter((l) => l.includes("no env file"))
        expect(lines).toHaveLength(1)
        expect(lines[0]).toContain(Path.join(world.abraDir, "servers", "default", "id.exmaple.org.env"))
        expect(lines[0]).toContain(`did you mean ${DOMAIN}?`)
        expect(changing(world, calls)).toEqual([])
        expect(Fs.existsSync(world.envFile("id.exmaple.org"))).toBe(false)
        expect(alertFiles(stateDir)).toEqual([])

        const plan = yield* cli(["plan", "kc", "--config", config], env)
        expect(plan.code).toBe(2)
        expect(plan.stderr).toContain(`did you mean ${DOMAIN}?`)
      }),
    { timeout: 120_000 }
  )

  it.scopedLive("an abraDir without servers/: exit 2 before abra is run at all", () =>
    Effect.gen(function*() {
      const { env, world } = yield* setup()
      const wrong = Path.join(world.root, "not-abra")
      Fs.mkdirSync(wrong)
      const stateDir = Path.join(world.root, "state2")
      const config = Path.join(world.root, "config2.json")
      Fs.writeFileSync(
        config,
        JSON.stringify({ stateDir, abraDir: wrong, apps: { kc: { recipe: "keycloak", domain: DOMAIN } } })
      )
      const calls = world.readCalls().length
      for (const command of ["reconcile", "plan"]) {
        const r = yield* cli([command, "kc", "--config", config], env)
        expect(r.code, r.stderr).toBe(2)
        expect(r.stderr).toContain(`${wrong} (abraDir) is not an abra directory: it has no servers/`)
      }
      expect(world.readCalls().length).toBe(calls)
      expect(Fs.readdirSync(wrong)).toEqual([])
      expect(Fs.existsSync(stateDir)).toBe(false)
    }), { timeout: 120_000 })

  it.scopedLive("an env file of another recipe: exit 2 naming both", () =>
    Effect.gen(function*() {
      const { config, env, world } = yield* setup()
      Fs.writeFileSync(
        config,
        Fs.readFileSync(config, "utf8").replace("\"recipe\":\"keycloak\"", "\"recipe\":\"nextcloud\"")
      )
      const calls = world.readCalls().length
      const r = yield* cli(["reconcile", "kc", "--config", config], env)
      expect(r.code).toBe(2)
      expect(r.stderr).toContain("is for the recipe keycloak, the config says nextcloud")
      expect(changing(world, calls)).toEqual([])
    }), { timeout: 120_000 })

  it.scopedLive(
    "undeployed by hand: held-undeployed, exit 0, no alert, not deployed again; keepDeployed deploys it",
    () =>
      Effect.gen(function*() {
        const { config, env, stateDir, world } = yield* setup()
        expect(runAbra(world, ["app", "undeploy", DOMAIN, "-n"]).code).toBe(0)
        const calls = world.readCalls().length
        const r = yield* cli(["reconcile", "kc", "--config", config, "--skip-fetch"], env)
        expect(r.code, r.stderr).toBe(0)
        expect(r.stdout.trim()).toBe("RECONCILE RESULT: held-undeployed:1.1.0+1.1")
        expect(changing(world, calls)).toEqual([])
        expect(world.readState().deployed[DOMAIN]).toBeUndefined()
        expect(alertFiles(stateDir)).toEqual([])
        const plan = yield* cli(["plan", "kc", "--config", config, "--skip-fetch"], env)
        expect(plan.stdout).toContain("PLAN kc: leave undeployed")
      }),
    { timeout: 120_000 }
  )

  it.scopedLive(
    "a chaos deploy: held-chaos naming its chaos version, one alert, nothing deployed or checked out",
    () =>
      Effect.gen(function*() {
        const { config, env, stateDir, world } = yield* setup()
        // The operator's hotfix: an uncommitted edit in the clone, deployed with -C.
        const clone = Path.join(world.abraDir, "recipes", "keycloak")
        Fs.appendFileSync(Path.join(clone, "compose.yml"), "# hotfix\n")
        expect(runAbra(world, ["app", "deploy", DOMAIN, "-C", "-o", "-n", "-f"]).code).toBe(0)
        const chaosVersion = world.readState().deployed[DOMAIN]!.chaosVersion!
        expect(chaosVersion).toMatch(/^[0-9a-f]{7,}\+U$/)
        const head = git(clone, ["rev-parse", "HEAD"])
        const calls = world.readCalls().length

        for (const night of [1, 2]) {
          const r = yield* cli(["reconcile", "kc", "--config", config], env)
          expect(r.code, r.stderr).toBe(0)
          expect(r.stdout.trim()).toBe(`RECONCILE RESULT: held-chaos:${chaosVersion}`)
          expect(alertFiles(stateDir), `night ${night}`).toHaveLength(1)
        }
        const alert = JSON.parse(Fs.readFileSync(Path.join(stateDir, "alerts", alertFiles(stateDir)[0]!), "utf8"))
        expect(alert).toMatchObject({ reason: "held-chaos", chaos_version: chaosVersion })
        expect(alert.resume).toContain(`abra app deploy ${DOMAIN}`)
        expect(changing(world, calls)).toEqual([])
        expect(git(clone, ["rev-parse", "HEAD"])).toBe(head)
        expect(Fs.readFileSync(Path.join(clone, "compose.yml"), "utf8")).toContain("# hotfix")
        const plan = yield* cli(["plan", "kc", "--config", config], env)
        expect(plan.stdout).toContain(`PLAN kc: hold (chaos): a chaos deploy of ${chaosVersion} runs`)
      }),
    { timeout: 120_000 }
  )

  it.scopedLive(
    "a dirty recipe clone: failed with git's whole report before anything is undeployed, exit 1",
    () =>
      Effect.gen(function*() {
        const { config, env, stateDir, world } = yield* setup(DOMAIN, {
          health: { url: "http://127.0.0.1:9/", settle: 1, attemptTimeout: 1 }
        })
        expect(runAbra(world, ["app", "secret", "generate", DOMAIN, "--all", "-n"]).code).toBe(0)
        const clone = Path.join(world.abraDir, "recipes", "keycloak")
        Fs.appendFileSync(Path.join(clone, "compose.yml"), "# an edit by hand\n")
        Fs.writeFileSync(Path.join(clone, "notes.txt"), "todo\n")
        const calls = world.readCalls().length
        const r = yield* cli(["reconcile", "kc", "--config", config, "--skip-fetch"], env)
        expect(r.code, r.stderr).toBe(1)
        expect(r.stdout).toContain("RECONCILE RESULT: failed:recipe keycloak: the clone")
        expect(r.stdout).toContain("M compose.yml; ?? notes.txt")
        expect(changing(world, calls)).toEqual([])
        expect(world.readState().deployed[DOMAIN]?.version).toBe("1.1.0+1.1")
        expect(Fs.existsSync(Path.join(stateDir, "kc", "hold.json"))).toBe(false)
        expect(alertFiles(stateDir)).toEqual([])
      }),
    { timeout: 120_000 }
  )

  it.scopedLive("unhold clears a hold; plan and status print how next to the hold", () =>
    Effect.gen(function*() {
      const { config, env, stateDir } = yield* setup()
      Fs.mkdirSync(Path.join(stateDir, "kc"), { recursive: true, mode: 0o700 })
      Fs.writeFileSync(
        Path.join(stateDir, "kc", "hold.json"),
        JSON.stringify({ reason: "held-failed-release", from: "1.1.0+1.1", to: "1.2.0+1.2", ts: "20261124T030000Z" })
      )
      const status = yield* cli(["status", "--config", config], env)
      expect(status.stdout).toContain("kc: held-failed-release 1.2.0+1.2; warm-reconcile unhold kc clears it")
      const plan = yield* cli(["plan", "kc", "--config", config, "--skip-fetch"], env)
      expect(plan.stdout).toContain("warm-reconcile unhold kc clears it")
      const r = yield* cli(["unhold", "kc", "--config", config], env)
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout.trim()).toBe(
        "kc: cleared the hold held-failed-release 1.1.0+1.1 -> 1.2.0+1.2; the next run decides afresh"
      )
      expect(Fs.existsSync(Path.join(stateDir, "kc", "hold.json"))).toBe(false)
      const again = yield* cli(["unhold", "kc", "--config", config], env)
      expect(again.stdout.trim()).toBe("kc: no hold")
      expect((yield* cli(["unhold", "nope", "--config", config], env)).code).toBe(2)
    }), { timeout: 120_000 })
})
