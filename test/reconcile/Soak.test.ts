/**
 * Soak time on the simulated world and the virtual clock: an aged older release is taken while a
 * newer one soaks; once the newer one has aged, it is taken too; the tag dates are read only when
 * a soak time is set.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Option } from "effect"
import { type AppSpec, configuredApp, decodeConfig } from "../../src/domain/Config.js"
import * as Outcome from "../../src/domain/Outcome.js"
import { rehearse } from "../../src/simulation/Rehearsal.js"
import * as Scenarios from "../../src/simulation/Scenarios.js"
import * as World from "../../src/simulation/World.js"

const DAY = 86_400_000
const NOW = Date.parse("2026-06-10T12:00:00Z")
const soaked = (minReleaseAge: Duration.Duration | undefined): AppSpec => ({ ...Scenarios.demoApp(), minReleaseAge })
const world = (app: AppSpec) => ({
  recipes: {
    keycloak: {
      tags: ["1.1.0+1.1", "1.2.0+1.2", "1.3.0+1.3"],
      dates: { "1.1.0+1.1": NOW - 60 * DAY, "1.2.0+1.2": NOW - 10 * DAY, "1.3.0+1.3": NOW - DAY }
    }
  },
  apps: [Scenarios.running("1.1.0+1.1", app)],
  servers: ["default"],
  faults: []
})

describe("minReleaseAge on the simulated world", () => {
  it.effect("an aged older release is taken while a newer one soaks; once aged, the newer one follows", () =>
    Effect.gen(function*() {
      const app = soaked(Duration.days(3))
      const api = yield* World.make(world(app))
      const first = yield* rehearse(app, api, { startMillis: NOW })
      expect(Outcome.format(first.outcome)).toBe("upgraded:1.1.0+1.1->1.2.0+1.2")
      // A day later 1.3 is still soaking (a day left): nothing to do.
      const second = yield* rehearse(app, api, { startMillis: NOW + DAY })
      expect(second.outcome._tag).toBe("noop-healthy")
      // Three days after its tag, 1.3 has aged.
      const third = yield* rehearse(app, api, { startMillis: NOW + 2 * DAY })
      expect(Outcome.format(third.outcome)).toBe("upgraded:1.2.0+1.2->1.3.0+1.3")
    }))

  it.effect("without a soak time the newest is taken at once, and no tag dates are read", () =>
    Effect.gen(function*() {
      const app = soaked(undefined)
      const r = yield* rehearse(app, world(app), { startMillis: NOW })
      expect(Outcome.format(r.outcome)).toBe("upgraded:1.1.0+1.1->1.3.0+1.3")
      expect(r.world.trace.filter((t) => t.step === "tags")).toHaveLength(1)
    }))

  it.effect("every newer release soaking: nothing to do, the app stays on 1.1", () =>
    Effect.gen(function*() {
      const app = soaked(Duration.days(30))
      const r = yield* rehearse(app, world(app), { startMillis: NOW })
      expect(r.outcome._tag).toBe("noop-healthy")
      expect(Option.map(r.world.apps.get("keycloak")!.deployment, (d) => d.version)).toEqual(Option.some("1.1.0+1.1"))
    }))
})

it("the config: an app's own minReleaseAge, else its recipe's, else the global one", () => {
  const config = Effect.runSync(decodeConfig({
    minReleaseAge: "3 days",
    minReleaseAgeByRecipe: { keycloak: "7 days" },
    apps: {
      kc: { recipe: "keycloak", domain: "id.example.org" },
      kc2: { recipe: "keycloak", domain: "id2.example.org", minReleaseAge: "1 day" },
      wiki: { recipe: "mediawiki", domain: "wiki.example.org" }
    }
  }))
  const age = (name: string) => Duration.toMillis(configuredApp(config, name as never).minReleaseAge!)
  expect([age("kc"), age("kc2"), age("wiki")]).toEqual([7 * DAY, DAY, 3 * DAY])
})

it("the config: recipes.<name>.minReleaseAge is the place for a recipe's soak time; minReleaseAgeByRecipe says the same", () => {
  const apps = {
    kc: { recipe: "keycloak", domain: "id.example.org" },
    kc2: { recipe: "keycloak", domain: "id2.example.org", minReleaseAge: "1 day" },
    wiki: { recipe: "mediawiki", domain: "wiki.example.org" }
  }
  const ages = (input: Record<string, unknown>) => {
    const config = Effect.runSync(decodeConfig({ ...input, apps }))
    return Object.keys(apps).map((name) => Duration.toMillis(configuredApp(config, name as never).minReleaseAge!))
  }
  const expected = [7 * DAY, DAY, 3 * DAY]
  expect(ages({ minReleaseAge: "3 days", recipes: { keycloak: { minReleaseAge: "7 days" } } })).toEqual(expected)
  expect(ages({ minReleaseAge: "3 days", minReleaseAgeByRecipe: { keycloak: "7 days" } })).toEqual(expected)
  // A recipe's soak time is more specific than `defaults`, whichever spelling names it.
  expect(ages({ defaults: { minReleaseAge: "3 days" }, minReleaseAgeByRecipe: { keycloak: "7 days" } }))
    .toEqual(expected)
  // Both spellings for one recipe: `recipes` wins.
  expect(
    ages({
      minReleaseAge: "3 days",
      recipes: { keycloak: { minReleaseAge: "7 days" } },
      minReleaseAgeByRecipe: { keycloak: "30 days" }
    })
  ).toEqual(expected)
})
