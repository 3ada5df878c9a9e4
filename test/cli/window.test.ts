/**
 * Maintenance windows and soak time through the CLI, with the fake abra and the fake Engine API:
 * `plan` shows the window and what soaks; `reconcile` outside the window changes nothing.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { cli } from "../support/cli.js"
import { deployWithAbra, makeAbraWorld } from "../support/fakeAbra.js"
import { fakeEngine } from "../support/fakeEngine.js"

const DOMAIN = "id.example.org"
const VERSIONS = [{ tag: "1.1.0+1.1" }, { tag: "1.2.0+1.2" }]
const pad = (n: number) => String(n).padStart(2, "0")
/** A one-hour window that opens two hours from now (UTC): closed now. */
const closedNow = () => {
  const hour = new Date().getUTCHours()
  return `${pad((hour + 2) % 24)}:00-${pad((hour + 3) % 24)}:00`
}

const setup = (app: Record<string, unknown>) =>
  Effect.gen(function*() {
    const world = makeAbraWorld()
    yield* Effect.addFinalizer(() => Effect.sync(() => world.cleanup()))
    deployWithAbra(world, { recipe: "keycloak", domain: DOMAIN, versions: VERSIONS, deployed: "1.1.0+1.1" })
    const engine = yield* fakeEngine({ abraDir: world.abraDir })
    const config = Path.join(world.root, "config.json")
    Fs.writeFileSync(
      config,
      JSON.stringify({
        stateDir: Path.join(world.root, "state"),
        abraDir: world.abraDir,
        apps: { kc: { recipe: "keycloak", domain: DOMAIN, ...app } }
      })
    )
    return { world, config, env: { ...world.env, DOCKER_HOST: `unix://${engine.socket}`, TZ: "UTC" } }
  })

describe("window and soak, through the CLI", () => {
  it.scopedLive(
    "outside the window: plan says when it opens; reconcile is held-window and deploys nothing",
    () =>
      Effect.gen(function*() {
        // The fake world answers no health probe: a short settle keeps the check quick.
        const { config, env, world } = yield* setup({ window: closedNow(), health: { settle: 1 } })
        const plan = yield* cli(["plan", "kc", "--config", config], env)
        expect(plan.code, plan.stderr).toBe(0)
        expect(plan.stdout).toContain("PLAN kc: upgrade 1.1.0+1.1 -> 1.2.0+1.2, health-gated")
        expect(plan.stdout).toMatch(
          / {2}maintenance window: closed; the next opens \w{3} \d{4}-\d\d-\d\d \d\d:00 \(UTC\)/
        )
        const calls = world.readCalls().length
        const r = yield* cli(["reconcile", "kc", "--config", config], env)
        expect(r.code, r.stderr).toBe(0)
        expect(r.stdout.trim()).toBe("RECONCILE RESULT: held-window:1.1.0+1.1->1.2.0+1.2")
        const deploys = world.readCalls().slice(calls).filter((c) =>
          c.argv.includes("deploy") || c.argv.includes("undeploy")
        )
        expect(deploys).toEqual([])
      }),
    { timeout: 120_000 }
  )

  it.scopedLive(
    "a release younger than minReleaseAge: plan shows it soaking; reconcile leaves 1.1",
    () =>
      Effect.gen(function*() {
        const { config, env } = yield* setup({ minReleaseAge: "3 days", window: closedNow(), health: { settle: 1 } })
        const plan = yield* cli(["plan", "kc", "--config", config], env)
        expect(plan.code, plan.stderr).toBe(0)
        // On the latest release that has aged (and not healthy in the fake world: a redeploy, not an upgrade).
        expect(plan.stdout).toContain("PLAN kc: redeploy 1.1.0+1.1")
        expect(plan.stdout).toContain("  1.2.0+1.2 soaks for 3 more days")
        const r = yield* cli(["reconcile", "kc", "--config", config], env)
        expect(r.stdout.trim()).toBe("RECONCILE RESULT: held-window:1.1.0+1.1->1.1.0+1.1")
      }),
    { timeout: 120_000 }
  )
})
