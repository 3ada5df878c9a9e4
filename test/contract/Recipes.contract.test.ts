/**
 * Recipes, live (the fake abra's fetch and real git clones) and in memory: fetch, tags in git's
 * order with junk tags kept, release notes with and without, checkout, and each RecipeError.
 */
import { afterAll, beforeAll, expect } from "@effect/vitest"
import { Context, Effect, Layer, Option } from "effect"
import { execFileSync } from "node:child_process"
import * as Path from "node:path"
import * as LiveProcessRunner from "../../src/live/ProcessRunner.js"
import * as LiveRecipes from "../../src/live/Recipes.js"
import { Recipes } from "../../src/services/Recipes.js"
import * as SimulatedRecipes from "../../src/simulation/Recipes.js"
import { git, makeRecipeRepo } from "../support/fakeAbra.js"
import * as Contract from "./harness.js"

const [v1, v9, v10] = ["1.0.0+1.0", "1.9.0+1.9", "1.10.0+1.10"]
// Junk as real clones have it; the last ends in a no-break space and must come back as written.
const JUNK = ["latest", "v2-old-scheme", "1.5.0\u00a0"]
/** In the order they were made: git lists them in byte order of their names instead. */
const MADE = [v1, v9, v10, ...JUNK]
const GIT_ORDER = [v1, v10, "1.5.0\u00a0", v9, "latest", "v2-old-scheme"]
const NOTES: Record<string, string> = {
  [v1]: "First release.\n",
  [v9]: "Keycloak 1.9.\nManual migration: export the realm before you deploy.\n"
}

interface RecipesWorld {
  readonly recipes: Recipes["Type"]
  /** The tag the work tree of the keycloak clone is at. */
  readonly workTree: Effect.Effect<Option.Option<string>>
}

const abra = Contract.fakeAbraOnPath({ beforeAll, afterAll })
let source: string
beforeAll(() => {
  source = makeRecipeRepo(abra.get().recipesSource, "keycloak", [
    { tag: v1, notes: NOTES[v1]! },
    { tag: v9, notes: NOTES[v9]! },
    { tag: v10 }
  ])
  for (const tag of JUNK) git(source, ["tag", tag])
})

/**
 * A recipe whose tags have known dates: an annotated tag (its tagger date counts, not its commit's)
 * and a lightweight one (its commit's date counts).
 */
const DATED = { annotated: "1.0.0+1.0", lightweight: "1.1.0+1.1" }
const DATES: Record<string, number> = {
  [DATED.annotated]: Date.parse("2026-01-05T00:00:00Z"),
  [DATED.lightweight]: Date.parse("2026-02-01T00:00:00Z")
}
const gitAt = (cwd: string, iso: string, args: ReadonlyArray<string>) =>
  execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "tag.gpgsign=false", ...args], {
    cwd,
    env: { ...process.env, GIT_COMMITTER_DATE: iso, GIT_AUTHOR_DATE: iso }
  })
beforeAll(() => {
  const repo = makeRecipeRepo(abra.get().recipesSource, "dated", [])
  gitAt(repo, "2026-01-01T00:00:00Z", ["commit", "--quiet", "--allow-empty", "-m", "one"])
  gitAt(repo, "2026-01-05T00:00:00Z", ["tag", "-a", DATED.annotated, "-m", "release"])
  gitAt(repo, "2026-02-01T00:00:00Z", ["commit", "--quiet", "--allow-empty", "-m", "two"])
  gitAt(repo, "2026-03-01T00:00:00Z", ["tag", DATED.lightweight])
  git(abra.get().root, ["clone", "--quiet", repo, Path.join(abra.get().abraDir, "recipes", "dated")])
})

/** One clone for the file; each case starts with its work tree back on the newest version. */
let clone: string
beforeAll(() => {
  clone = Path.join(abra.get().abraDir, "recipes", "keycloak")
  git(abra.get().root, ["clone", "--quiet", source, clone])
})

const liveTwin = Contract.live<RecipesWorld>(Effect.gen(function*() {
  git(clone, ["checkout", "--quiet", "main"])
  const context = yield* Contract.layerContext(
    LiveRecipes.layer({ abraDir: abra.get().abraDir }).pipe(Layer.provide(LiveProcessRunner.layerNode))
  )
  return {
    recipes: Context.get(context, Recipes),
    workTree: Effect.sync(() => Option.some(git(clone, ["describe", "--tags", "--exact-match", "HEAD"]).trim()))
  } satisfies RecipesWorld
}))

const simulatedTwin = Contract.simulated<RecipesWorld>(Effect.gen(function*() {
  const app = Contract.contractApp()
  const { context, world } = yield* Contract.simulatedWorld({
    recipes: { keycloak: { tags: MADE, notes: NOTES }, dated: { tags: Object.keys(DATES), dates: DATES } },
    apps: [{ spec: app }]
  }, SimulatedRecipes.layerTest)
  return {
    recipes: Context.get(context, Recipes),
    workTree: Effect.map(world.app(app.name), (a) => a.checkout)
  } satisfies RecipesWorld
}))

Contract.suite("Recipes", [liveTwin, simulatedTwin], (test) => {
  test("fetch of a published recipe succeeds and its tags are there", (w) =>
    Effect.gen(function*() {
      yield* w.recipes.fetch("keycloak")
      expect(yield* w.recipes.tags("keycloak")).toContain(v10)
    }))

  test("a recipe that does not exist: fetch fails (fetch), tags fail (git tag)", (w) =>
    Effect.gen(function*() {
      for (const [operation, call] of [["fetch", w.recipes.fetch], ["git tag", w.recipes.tags]] as const) {
        const error = yield* Contract.failureOf(call("no-such-recipe"))
        expect(error).toMatchObject({ _tag: "RecipeError", recipe: "no-such-recipe", operation })
      }
    }))

  test("tags are every tag in git's order, junk included, as written", (w) =>
    Effect.gen(function*() {
      expect(yield* w.recipes.tags("keycloak")).toEqual(GIT_ORDER)
    }))

  test("releaseNotes of a version with notes are its text, as written", (w) =>
    Effect.gen(function*() {
      expect(yield* w.recipes.releaseNotes("keycloak", v1)).toEqual(Option.some(NOTES[v1]))
      expect(yield* w.recipes.releaseNotes("keycloak", v9)).toEqual(Option.some(NOTES[v9]))
    }))

  test("releaseNotes of a version without notes, or of no version at all, are none", (w) =>
    Effect.gen(function*() {
      expect(yield* w.recipes.releaseNotes("keycloak", v10)).toEqual(Option.none())
      expect(yield* w.recipes.releaseNotes("keycloak", "3.0.0+3.0")).toEqual(Option.none())
    }))

  test("tagDates: an annotated tag's tagger date, a lightweight tag's commit date; an unknown recipe fails", (w) =>
    Effect.gen(function*() {
      expect(yield* w.recipes.tagDates("dated")).toEqual(new Map(Object.entries(DATES)))
      expect([...(yield* w.recipes.tagDates("keycloak")).keys()].sort()).toEqual([...GIT_ORDER].sort())
      const error = yield* Contract.failureOf(w.recipes.tagDates("no-such-recipe"))
      expect(error).toMatchObject({ _tag: "RecipeError", recipe: "no-such-recipe", operation: "tag dates" })
    }))

  test("checkout puts the work tree at the version", (w) =>
    Effect.gen(function*() {
      yield* w.recipes.checkout("keycloak", v9)
      expect(yield* w.workTree).toEqual(Option.some(v9))
      yield* w.recipes.checkout("keycloak", v1)
      expect(yield* w.workTree).toEqual(Option.some(v1))
    }))

  test("checkout of a tag that does not exist fails (checkout <version>) and leaves the work tree", (w) =>
    Effect.gen(function*() {
      yield* w.recipes.checkout("keycloak", v9)
      const error = yield* Contract.failureOf(w.recipes.checkout("keycloak", "3.0.0+3.0"))
      expect(error).toMatchObject({ _tag: "RecipeError", recipe: "keycloak", operation: "checkout 3.0.0+3.0" })
      expect(yield* w.workTree).toEqual(Option.some(v9))
    }))
})
