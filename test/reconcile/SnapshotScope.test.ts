/**
 * `snapshot.volumes` and `snapshot.exclude` through a whole upgrade in the simulated world: a
 * broken release's rollback leaves what is excluded as the release left it, and settings naming a
 * volume the stack does not have stop the upgrade before anything is undeployed.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Option } from "effect"
import { type AppSpec, HealthConfig } from "../../src/domain/Config.js"
import * as Outcome from "../../src/domain/Outcome.js"
import { SnapshotConfig } from "../../src/domain/SnapshotConfig.js"
import { rehearse } from "../../src/simulation/Rehearsal.js"
import * as Scenarios from "../../src/simulation/Scenarios.js"
import { DATA_BEFORE, demoApp, migrateTo12 } from "../../src/simulation/Scenarios.js"
import type * as World from "../../src/simulation/World.js"

const [FROM, TO] = ["1.1.0+1.1", "1.2.0+1.2"]
// Short health deadlines keep the rollback to a few dozen steps; the logic is the same.
const withSnapshot = (snapshot: ConstructorParameters<typeof SnapshotConfig>[0]): AppSpec => ({
  ...demoApp(),
  health: new HealthConfig({ path: "/", timeout: Duration.seconds(20), interval: Duration.seconds(1) }),
  snapshot: SnapshotConfig.make(snapshot)
})

const broken = (app: AppSpec): World.WorldSetup => ({
  recipes: {
    keycloak: { tags: [FROM, TO], notes: {}, releases: { [TO]: { health: "never", migrate: migrateTo12 } } }
  },
  apps: [Scenarios.running(FROM, app)],
  servers: ["default"]
})

describe("snapshot scope through an upgrade", () => {
  it.effect("a broken release is rolled back; the excluded file stays as the release left it", () =>
    Effect.gen(function*() {
      const app = withSnapshot({ exclude: { data: ["db/users.json"] } })
      const r = yield* rehearse(app, broken(app))
      expect(Outcome.format(r.outcome)).toBe(`rolled-back:${TO}->${FROM}`)
      const data = Object.fromEntries(r.world.apps.get("keycloak")!.volumes.get("data")!)
      expect(data).toEqual({
        ...DATA_BEFORE,
        "db/users.json": `${DATA_BEFORE["db/users.json"]!.trim()} (migrated by 1.2.0)\n`
      })
    }))

  it.effect("settings naming a volume the stack lacks: not started, nothing undeployed or snapshotted", () =>
    Effect.gen(function*() {
      const app = withSnapshot({ volumes: ["data", "cache"] })
      const r = yield* rehearse(app, broken(app))
      expect(r.outcome._tag).toBe("failed")
      expect(Outcome.format(r.outcome)).toContain("not started")
      expect(Outcome.format(r.outcome)).toContain("volume(s) cache that stack id_example_org does not have")
      expect(r.world.trace.map((t) => t.step).filter((s) => ["undeploy", "snapshot", "deploy"].includes(s)))
        .toEqual([])
      expect(Option.map(r.world.apps.get("keycloak")!.deployment, (d) => d.version)).toEqual(Option.some(FROM))
      expect(r.world.snapshots.size).toBe(0)
    }))
})
