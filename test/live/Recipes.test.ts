/**
 * The live Recipes layer against the fake abra (first on PATH) and real git clones: fetch, tags,
 * release notes read from the tag itself, checkout, and the RecipeError each failure becomes.
 */
import { NodeFileSystem } from "@effect/platform-node"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { findMarker, migrationWarnings, NOTES_CUT_NOTICE, NOTES_MAX_BYTES } from "../../src/domain/ReleaseNotes.js"
import { sortTags } from "../../src/domain/Version.js"
import * as LiveProcessRunner from "../../src/live/ProcessRunner.js"
import * as LiveRecipes from "../../src/live/Recipes.js"
import { Recipes } from "../../src/services/Recipes.js"
import type { AbraWorld } from "../support/fakeAbra.js"
import { git, makeAbraWorld, makeRecipeRepo } from "../support/fakeAbra.js"

const v1 = "1.0.0+24.0.1"
const v2 = "1.1.0+25.0.0"
const v3 = "1.2.0+25.0.2"
const v4 = "1.3.0+26.0.0"
const v5 = "1.4.0+26.0.1"
// The last one ends in a no-break space: it must come back as written, not as a phantom 1.5.0.
const JUNK = ["latest", "backup-before-cleanup", "v2-old-scheme", "1.5.0\u00a0"]

// Each version's notes are distinct, so notes read from the wrong version show.
const NOTES: Record<string, string> = {
  [v1]: "Initial release of the recipe.\n",
  [v2]: "Keycloak 25 changes the database schema.\nManual migration: export the realm by hand before you deploy.\n",
  [v3]: "Maintenance release (kept as releaseNotes/<version>.md).\n",
  [v4]: "Keycloak 26 (kept as releaseNotes/<version>, no extension).\n"
}

const ENV_KNOBS = ["FAKE_ABRA_FAIL", "FAKE_ABRA_HANG", "FAKE_ABRA_DEPLOY_DELAY_MS", "FAKE_ABRA_RECIPES"] as const
const saved: Record<string, string | undefined> = {}
let world: AbraWorld
let clone: string

beforeAll(() => {
  world = makeAbraWorld()
  makeRecipeRepo(world.recipesSource, "keycloak", [
    { tag: v1, notes: NOTES[v1]! },
    { tag: v2, notes: NOTES[v2]! },
    { tag: v3, notes: NOTES[v3]!, notesPath: "releaseNotes-md" },
    { tag: v4, notes: NOTES[v4]!, notesPath: "releaseNotes" },
    { tag: v5 }
  ])
  const source = Path.join(world.recipesSource, "keycloak")
  for (const tag of JUNK) git(source, ["tag", tag])
  // Cloned directly: `abra recipe fetch` has its own tests below, and each abra call starts a node.
  Fs.mkdirSync(Path.join(world.abraDir, "recipes"))
  clone = Path.join(world.abraDir, "recipes", "keycloak")
  git(world.abraDir, ["clone", "--quiet", source, clone])

  // The layer's processes inherit the environment: the fake first on PATH, no knobs from outside.
  for (const name of [...ENV_KNOBS, "PATH"]) saved[name] = process.env[name]
  for (const name of ENV_KNOBS) delete process.env[name]
  process.env.PATH = world.env.PATH!
  process.env.FAKE_ABRA_RECIPES = world.recipesSource
})

afterAll(() => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name]
    else process.env[name] = value
  }
  world.cleanup()
})

const recipes = <A, E>(f: (recipes: Recipes["Type"]) => Effect.Effect<A, E>) =>
  Effect.flatMap(Recipes, f).pipe(
    Effect.provide(
      LiveRecipes.layer({ abraDir: world.abraDir }).pipe(
        Layer.provide(Layer.mergeAll(LiveProcessRunner.layerNode, NodeFileSystem.layer))
      )
    )
  )

const head = () => git(clone, ["rev-parse", "HEAD"]).trim()
const commitOf = (tag: string) => git(clone, ["rev-parse", `${tag}^{commit}`]).trim()
const newCalls = (before: number) => world.readCalls().slice(before)

describe("live Recipes: fetch", () => {
  it.live("clones the recipe from the source, then a later fetch sees a tag published since", () =>
    Effect.gen(function*() {
      makeRecipeRepo(world.recipesSource, "custom-html", [{ tag: "1.0.0+1.25.0" }, { tag: "1.1.0+1.27.0" }])
      const before = world.readCalls().length

      yield* recipes((r) => r.fetch("custom-html"))
      expect(Fs.existsSync(Path.join(world.abraDir, "recipes", "custom-html", ".git"))).toBe(true)
      expect([...yield* recipes((r) => r.tags("custom-html"))].sort()).toEqual(["1.0.0+1.25.0", "1.1.0+1.27.0"])

      makeRecipeRepo(world.recipesSource, "custom-html", [{ tag: "1.2.0+1.27.2" }])
      // Not fetched yet: the clone is what the layer reads.
      expect(yield* recipes((r) => r.tags("custom-html"))).not.toContain("1.2.0+1.27.2")
      yield* recipes((r) => r.fetch("custom-html"))
      expect([...yield* recipes((r) => r.tags("custom-html"))].sort()).toEqual([
        "1.0.0+1.25.0",
        "1.1.0+1.27.0",
        "1.2.0+1.27.2"
      ])

      expect(newCalls(before).map((c) => [c.argv, c.exitCode])).toEqual([
        [["recipe", "fetch", "custom-html", "-n"], 0],
        [["recipe", "fetch", "custom-html", "-n"], 0]
      ])
    }))

  it.live("fails with a RecipeError carrying abra's FATA text for a recipe that does not exist", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(recipes((r) => r.fetch("no-such-recipe")))
      expect(error._tag).toBe("RecipeError")
      expect(error.recipe).toBe("no-such-recipe")
      expect(error.operation).toBe("fetch")
      expect(error.stderr).toContain("FATA unable to fetch recipe no-such-recipe")
      expect(error.message).toContain("unable to fetch recipe no-such-recipe")
      expect(Fs.existsSync(Path.join(world.abraDir, "recipes", "no-such-recipe"))).toBe(false)
    }))
})

describe("live Recipes: tags", () => {
  it.live("lists exactly the clone's tags, junk included, and the domain keeps only the versions", () =>
    Effect.gen(function*() {
      const tags = yield* recipes((r) => r.tags("keycloak"))
      expect([...tags].sort()).toEqual([v1, v2, v3, v4, v5, ...JUNK].sort())
      expect(sortTags(tags).map((v) => v.tag)).toEqual([v1, v2, v3, v4, v5])
    }))

  it.live("fails with a RecipeError when the recipe was never fetched", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(recipes((r) => r.tags("never-fetched")))
      expect(error._tag).toBe("RecipeError")
      expect(error.recipe).toBe("never-fetched")
      expect(error.stderr).toContain("never-fetched")
    }))
})

describe("live Recipes: release notes", () => {
  const expected = (version: string) => Option.fromNullable(NOTES[version])

  it.live("reads every version's notes from its tag while the work tree is at the oldest version", () =>
    Effect.gen(function*() {
      yield* recipes((r) => r.checkout("keycloak", v1))
      // None of the newer notes is in the work tree: they can only come from the tags.
      expect(Fs.existsSync(Path.join(clone, "release", v2))).toBe(false)
      expect(Fs.existsSync(Path.join(clone, "releaseNotes"))).toBe(false)
      for (const version of [v1, v2, v3, v4, v5]) {
        expect(yield* recipes((r) => r.releaseNotes("keycloak", version))).toEqual(expected(version))
      }
    }))

  it.live("reads the same notes when the work tree is at the newest version (files in the tree)", () =>
    Effect.gen(function*() {
      yield* recipes((r) => r.checkout("keycloak", v5))
      expect(Fs.readFileSync(Path.join(clone, "releaseNotes", `${v3}.md`), "utf8")).toBe(NOTES[v3])
      for (const version of [v1, v2, v3, v4, v5]) {
        expect(yield* recipes((r) => r.releaseNotes("keycloak", version))).toEqual(expected(version))
      }
    }))

  it.live("answers None for a tag that does not exist", () =>
    Effect.gen(function*() {
      expect(yield* recipes((r) => r.releaseNotes("keycloak", "9.9.9+9.9"))).toEqual(Option.none())
    }))

  it.live("returns an intermediate version's manual-migration note, so the gate holds a jump over it", () =>
    Effect.gen(function*() {
      yield* recipes((r) => r.checkout("keycloak", v1))
      const skipped = sortTags(yield* recipes((r) => r.tags("keycloak"))).filter((v) => v.tag !== v1)
      const notes = new Map<string, string>()
      for (const v of skipped) {
        const text = yield* recipes((r) => r.releaseNotes("keycloak", v.tag))
        if (Option.isSome(text)) notes.set(v.tag, text.value)
      }
      const warnings = migrationWarnings(skipped, (tag) => notes.get(tag))
      expect(warnings.map((w) => [w.version, w.notes])).toEqual([[v2, NOTES[v2]]])
    }))
})

describe("live Recipes: checkout", () => {
  it.live("moves the clone's HEAD to the tag's commit, with that version's files", () =>
    Effect.gen(function*() {
      yield* recipes((r) => r.checkout("keycloak", v3))
      expect(head()).toBe(commitOf(v3))
      expect(Fs.readFileSync(Path.join(clone, "compose.yml"), "utf8")).toContain(`version=${v3}`)
      yield* recipes((r) => r.checkout("keycloak", v2))
      expect(head()).toBe(commitOf(v2))
      expect(commitOf(v2)).not.toBe(commitOf(v3))
    }))

  it.live("fails with a RecipeError naming the tag for an unknown one, leaving HEAD where it was", () =>
    Effect.gen(function*() {
      yield* recipes((r) => r.checkout("keycloak", v4))
      const error = yield* Effect.flip(recipes((r) => r.checkout("keycloak", "9.9.9+9.9")))
      expect(error._tag).toBe("RecipeError")
      expect(error.operation).toContain("9.9.9+9.9")
      expect(error.stderr).toContain("9.9.9+9.9")
      expect(head()).toBe(commitOf(v4))
    }))
})

describe("live Recipes: abra calls", () => {
  it.live("only fetch runs abra: tags, releaseNotes and checkout run git alone, never `abra recipe fetch`", () =>
    Effect.gen(function*() {
      const before = world.readCalls().length
      yield* recipes((r) => r.tags("keycloak"))
      yield* recipes((r) => r.checkout("keycloak", v1))
      yield* recipes((r) => r.releaseNotes("keycloak", v4))
      yield* recipes((r) => r.releaseNotes("keycloak", v5))
      yield* Effect.flip(recipes((r) => r.checkout("keycloak", "9.9.9+9.9")))
      expect(newCalls(before)).toEqual([])
      // The fake does record this world's calls, so the check above would have seen one.
      yield* recipes((r) => r.fetch("keycloak"))
      expect(newCalls(before).map((c) => c.argv)).toEqual([["recipe", "fetch", "keycloak", "-n"]])
    }))
})

describe("live Recipes: notes come from git objects only", () => {
  it.live("a symbolic link committed as notes is not followed; big notes are cut; the work tree is never read", () =>
    Effect.gen(function*() {
      const secret = Path.join(world.abraDir, "secret-key")
      Fs.writeFileSync(secret, "PRIVATE KEY MATERIAL\n")
      const source = Path.join(world.recipesSource, "evil")
      Fs.mkdirSync(Path.join(source, "release"), { recursive: true })
      git(source, ["init", "--quiet"])
      Fs.writeFileSync(Path.join(source, "compose.yml"), "version: '3.8'\n")
      Fs.symlinkSync(secret, Path.join(source, "release", "2.0.0+2.0"))
      git(source, ["add", "-A"])
      git(source, ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "-m", "linked notes"])
      git(source, ["tag", "2.0.0+2.0"])
      Fs.writeFileSync(Path.join(source, "release", "2.1.0+2.1"), "x".repeat(NOTES_MAX_BYTES + 5000))
      git(source, ["add", "-A"])
      git(source, ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "-m", "big notes"])
      git(source, ["tag", "2.1.0+2.1"])
      const evil = Path.join(world.abraDir, "recipes", "evil")
      git(world.abraDir, ["clone", "--quiet", source, evil])

      expect(yield* recipes((r) => r.releaseNotes("evil", "2.0.0+2.0"))).toEqual(Option.none())
      const big = yield* recipes((r) => r.releaseNotes("evil", "2.1.0+2.1"))
      // Cut, and said so with a marker: a warning past the cut must still hold the release.
      expect(Option.getOrThrow(big)).toBe(`${"x".repeat(NOTES_MAX_BYTES)}\n${NOTES_CUT_NOTICE}\n`)
      expect(findMarker(NOTES_CUT_NOTICE)).toBeDefined()

      // Notes written into the work tree by hand (or by a checkout of another version) are not the tag's.
      Fs.writeFileSync(Path.join(evil, "release", "2.1.0+2.1"), "Manual migration: not in the tag\n")
      Fs.mkdirSync(Path.join(evil, "releaseNotes"))
      Fs.writeFileSync(Path.join(evil, "releaseNotes", "2.0.0+2.0.md"), "only in the work tree\n")
      expect(Option.getOrThrow(yield* recipes((r) => r.releaseNotes("evil", "2.1.0+2.1")))).not.toContain("Manual")
      expect(yield* recipes((r) => r.releaseNotes("evil", "2.0.0+2.0"))).toEqual(Option.none())
    }))
})
