/**
 * Named rehearsals: a world, an app, and the outcome the program must reach in it. `simulate`
 * runs them from the CLI; the test suite runs every one and checks its outcome.
 */
import { Duration } from "effect"
import { AppConfig, type AppName, type AppSpec, appSpec, HealthConfig } from "../domain/Config.js"
import type { Outcome } from "../domain/Outcome.js"
import type { UpgradePolicy } from "../domain/Policy.js"
import type { AppSetup, Files, RecipeSpec, WorldSetup } from "./World.js"

export interface Scenario {
  readonly name: string
  readonly description: string
  readonly setup: WorldSetup
  readonly app: AppSpec
  /** Interrupt the run at this virtual moment (as SIGTERM would). */
  readonly interruptAfter?: Duration.Duration
  readonly expect: Outcome["_tag"]
}

/**
 * The rehearsals' keycloak. An app warm-reconcile owns, as the original had it: created when it has
 * no env file and deployed when it is not (`create` and `keepDeployed`, both off in a config).
 */
export const demoApp = (
  options: { stateful?: boolean; upgrade?: UpgradePolicy; create?: boolean; keepDeployed?: boolean } = {}
): AppSpec =>
  appSpec(
    "keycloak" as AppName,
    new AppConfig({
      recipe: "keycloak",
      domain: "id.example.org",
      stateful: options.stateful ?? true,
      upgrade: options.upgrade ?? "minor",
      health: new HealthConfig({ path: "/realms/master" }),
      create: options.create ?? true,
      keepDeployed: options.keepDeployed ?? true
    })
  )

/** The data of a volume as 1.1.0+1.1 left it. */
export const DATA_BEFORE: Readonly<Record<string, string>> = {
  "db/schema": "schema 11\n",
  "db/users.json": "[{\"id\":1,\"name\":\"admin\"}]\n",
  "db/realms/master.json": "{\"realm\":\"master\",\"enabled\":true}\n"
}

/**
 * A forward migration that rewrites the data in place, as a database upgrade would. Like a real
 * one it checks the schema first: data already at schema 12 is left alone when 1.2.0 restarts.
 */
export const migrateTo12 = (_volume: string, files: Files): Files =>
  files.get("db/schema") === "schema 12\n" ? files : new Map([
    ...[...files].map(([path, content]) => [path, `${content.trim()} (migrated by 1.2.0)\n`] as const),
    ["db/schema", "schema 12\n"]
  ])

const NOTES: Readonly<Record<string, string>> = {
  "1.0.0+1.0": "First release.",
  "1.1.0+1.1": "Keycloak 1.1. Nothing to do.",
  "1.1.1+1.1.1": "Patch release: security fixes.",
  "1.2.0+1.2": "Keycloak 1.2: the database schema is upgraded on start.",
  "2.0.0+2.0": "Keycloak 2.0: new admin console; configuration keys renamed."
}

const recipe = (tags: ReadonlyArray<string>, more: Partial<RecipeSpec> = {}): RecipeSpec => ({
  tags,
  notes: { ...NOTES, ...more.notes },
  releases: more.releases ?? {}
})

/** An app deployed and healthy on `version`, with the data of 1.1.0 and its secrets generated. */
export const running = (version: string, app: AppSpec, more: Partial<AppSetup> = {}): AppSetup => ({
  spec: app,
  env: true,
  pinned: version,
  deployed: version,
  volumes: { data: DATA_BEFORE },
  secrets: ["admin_password_v1"],
  secretsGenerated: true,
  lastGood: version,
  ...more
})

const world = (app: AppSetup, r: RecipeSpec, faults: WorldSetup["faults"] = []): WorldSetup => ({
  recipes: { keycloak: r },
  apps: [app],
  servers: ["default"],
  faults
})

const make = (s: Omit<Scenario, "app"> & { app?: AppSpec }): Scenario => ({ app: demoApp(), ...s })

const app = demoApp()

export const scenarios: ReadonlyArray<Scenario> = [
  make({
    name: "broken-release",
    description: "1.2.0 migrates the data in the volume, then answers 500: rolled back, data restored",
    setup: world(
      running("1.1.0+1.1", app),
      recipe(["1.0.0+1.0", "1.1.0+1.1", "1.2.0+1.2"], {
        releases: { "1.2.0+1.2": { health: "never", migrate: migrateTo12 } }
      })
    ),
    expect: "rolled-back"
  }),
  make({
    name: "healthy-upgrade",
    description: "a minor upgrade 1.0.0 -> 1.1.0 that comes up healthy: last-good advances",
    setup: world(running("1.0.0+1.0", app), recipe(["1.0.0+1.0", "1.1.0+1.1"])),
    expect: "upgraded"
  }),
  make({
    name: "slow-start",
    description: "the new release needs 4 minutes to answer, well within the 15-minute deadline: upgraded",
    setup: world(
      running("1.0.0+1.0", app),
      recipe(["1.0.0+1.0", "1.1.0+1.1"], { releases: { "1.1.0+1.1": { health: { healthyAfter: "4 minutes" } } } })
    ),
    expect: "upgraded"
  }),
  make({
    name: "crash-loop",
    description: "1.2.0 exits at start; Swarm's failed tasks end the wait in seconds, not after 15 minutes",
    setup: world(
      running("1.1.0+1.1", app),
      recipe(["1.1.0+1.1", "1.2.0+1.2"], { releases: { "1.2.0+1.2": { health: "crash-loop" } } })
    ),
    expect: "rolled-back"
  }),
  make({
    name: "never-healthy",
    description: "1.2.0 answers 500 until the 15-minute deadline: rolled back",
    setup: world(
      running("1.1.0+1.1", app),
      recipe(["1.1.0+1.1", "1.2.0+1.2"], { releases: { "1.2.0+1.2": { health: "never" } } })
    ),
    expect: "rolled-back"
  }),
  make({
    name: "major-bump",
    description: "2.0.0 is a major bump: held, an alert with the notes, nothing touched",
    setup: world(running("1.1.0+1.1", app), recipe(["1.0.0+1.0", "1.1.0+1.1", "2.0.0+2.0"])),
    expect: "held-major"
  }),
  make({
    name: "app-major-bump",
    description: "the app version's major goes up (1.1.0+1.1 -> 1.2.0+2.0): held",
    setup: world(running("1.1.0+1.1", app), recipe(["1.1.0+1.1", "1.2.0+2.0"])),
    expect: "held-major"
  }),
  make({
    name: "manual-migration",
    description: "a skipped intermediate version (1.1.1) warns of a manual migration: held",
    setup: world(
      running("1.1.0+1.1", app),
      recipe(["1.1.0+1.1", "1.1.1+1.1.1", "1.2.0+1.2"], {
        notes: { "1.1.1+1.1.1": "ACTION REQUIRED: run `kc.sh migrate` by hand before starting 1.1.1." }
      })
    ),
    expect: "held-manual-migration"
  }),
  make({
    name: "policy-patch",
    description: "policy `patch`: the minor upgrade 1.1.0 -> 1.2.0 is held",
    app: demoApp({ upgrade: "patch" }),
    setup: world(running("1.1.0+1.1", demoApp({ upgrade: "patch" })), recipe(["1.1.0+1.1", "1.2.0+1.2"])),
    expect: "held-policy"
  }),
  make({
    name: "policy-none",
    description: "policy `none`: even a patch is held, with one alert per new version",
    app: demoApp({ upgrade: "none" }),
    setup: world(running("1.1.0+1.1", demoApp({ upgrade: "none" })), recipe(["1.1.0+1.1", "1.1.1+1.1.1"])),
    expect: "held-policy"
  }),
  make({
    name: "fresh-deploy",
    description: "nothing is set up: app new at the latest version, secrets, deploy, healthy",
    setup: world(
      { spec: app, volumes: { data: {} }, secrets: [] },
      recipe(["1.0.0+1.0", "1.1.0+1.1"])
    ),
    expect: "deployed-fresh"
  }),
  make({
    name: "noop",
    description: "already on the latest version and healthy: nothing to do",
    setup: world(running("1.1.0+1.1", app), recipe(["1.0.0+1.0", "1.1.0+1.1"])),
    expect: "noop-healthy"
  }),
  make({
    name: "redeploy-heals",
    description: "on the latest version but stuck; a redeploy brings it back",
    setup: world(running("1.1.0+1.1", app, { brokenUntilRedeploy: true }), recipe(["1.1.0+1.1"])),
    expect: "redeployed-healthy"
  }),
  make({
    name: "unhealthy-on-latest",
    description: "on the latest version, unhealthy, and a redeploy does not help: alert",
    setup: world(
      running("1.1.0+1.1", app, { brokenUntilRedeploy: true }),
      recipe(["1.1.0+1.1"], { releases: { "1.1.0+1.1": { health: "never" } } })
    ),
    expect: "unhealthy"
  }),
  make({
    name: "deploy-fails",
    description: "abra fails to deploy 1.2.0: rolled back to 1.1.0",
    setup: world(
      running("1.1.0+1.1", app),
      recipe(["1.1.0+1.1", "1.2.0+1.2"]),
      [{ step: "deploy", kind: "fail", version: "1.2.0+1.2" }]
    ),
    expect: "rolled-back"
  }),
  make({
    name: "deploy-hangs",
    description: "the deploy of 1.2.0 hangs; the deploy timeout ends it and the upgrade is rolled back",
    setup: world(
      running("1.1.0+1.1", app),
      recipe(["1.1.0+1.1", "1.2.0+1.2"]),
      [{ step: "deploy", kind: "hang", version: "1.2.0+1.2" }]
    ),
    expect: "rolled-back"
  }),
  make({
    name: "snapshot-fails",
    description: "the snapshot cannot be taken: no deploy of 1.2.0, 1.1.0 is brought back up",
    setup: world(
      running("1.1.0+1.1", app),
      recipe(["1.1.0+1.1", "1.2.0+1.2"]),
      [{ step: "snapshot", kind: "fail" }]
    ),
    expect: "rolled-back"
  }),
  make({
    name: "restore-fails",
    description: "1.2.0 breaks and the restore fails too: rollback-failed, an alert, exit 1",
    setup: world(
      running("1.1.0+1.1", app),
      recipe(["1.1.0+1.1", "1.2.0+1.2"], {
        releases: { "1.2.0+1.2": { health: "never", migrate: migrateTo12 } }
      }),
      [{ step: "restore", kind: "fail" }]
    ),
    expect: "rollback-failed"
  }),
  make({
    name: "interrupted",
    description: "SIGTERM arrives during the health wait of 1.2.0: the same rollback runs",
    setup: world(
      running("1.1.0+1.1", app),
      recipe(["1.1.0+1.1", "1.2.0+1.2"], {
        releases: { "1.2.0+1.2": { health: "never", migrate: migrateTo12 } }
      })
    ),
    interruptAfter: Duration.seconds(90),
    expect: "rolled-back"
  }),
  make({
    name: "junk-tags",
    description: "junk tags and a release candidate are ignored: upgraded to the newest real release",
    setup: world(
      running("1.0.0+1.0", app),
      recipe(["latest", "v2", "1.0.0+1.0", "nightly-2026", "1.1.0+1.1", "1.2.0-rc1+1.2", "not.a.tag", ""])
    ),
    expect: "upgraded"
  }),
  make({
    name: "stateless-broken-release",
    description: "a stateless app: no undeploy or snapshot; the broken release is replaced by last-good",
    app: demoApp({ stateful: false }),
    setup: world(
      running("1.1.0+1.1", demoApp({ stateful: false }), { volumes: {} }),
      recipe(["1.1.0+1.1", "1.2.0+1.2"], { releases: { "1.2.0+1.2": { health: "never" } } })
    ),
    expect: "rolled-back"
  })
]

export const DEFAULT_SCENARIO = "broken-release"

export const find = (name: string): Scenario | undefined => scenarios.find((s) => s.name === name)
