/** Recipes on the real server: `abra recipe fetch`, and git on the clone in `$ABRA_DIR/recipes`. */
import { FileSystem } from "@effect/platform"
import { Effect, Layer, Option } from "effect"
import * as Path from "node:path"
import { trimAscii } from "../domain/Version.js"
import { type ProcessError, ProcessRunner } from "../services/ProcessRunner.js"
import { RecipeError, Recipes } from "../services/Recipes.js"
import { processFailure } from "./ProcessErrors.js"

export interface RecipesOptions {
  readonly abraDir: string
}

const fail = (recipe: string, operation: string) => (e: ProcessError) =>
  new RecipeError({ recipe, operation, ...processFailure(`recipe ${recipe}: ${operation}`, e) })

/** Where release notes live: `release/<version>` now, the original's `releaseNotes/` as a fallback. */
const notesPaths = (version: string) => [`release/${version}`, `releaseNotes/${version}.md`, `releaseNotes/${version}`]

export const make = (options: RecipesOptions) =>
  Effect.gen(function*() {
    const runner = yield* ProcessRunner
    const fs = yield* FileSystem.FileSystem
    const env = { ABRA_DIR: options.abraDir }
    const clone = (recipe: string) => Path.join(options.abraDir, "recipes", recipe)
    const git = (recipe: string, args: ReadonlyArray<string>) =>
      runner.run("git", ["-C", clone(recipe), ...args], { timeout: "2 minutes" })

    return Recipes.of({
      fetch: Effect.fn("Recipes.fetch")(function*(recipe) {
        yield* runner.run("abra", ["recipe", "fetch", recipe, "-n"], { env, timeout: "5 minutes" }).pipe(
          Effect.mapError(fail(recipe, "fetch"))
        )
      }),
      tags: Effect.fn("Recipes.tags")(function*(recipe) {
        const out = yield* git(recipe, ["tag", "--list"]).pipe(Effect.mapError(fail(recipe, "git tag")))
        // ASCII blanks only: a tag ending in a no-break space is not the tag without it.
        return out.stdout.split("\n").map(trimAscii).filter((t) => t.length > 0)
      }),
      releaseNotes: Effect.fn("Recipes.releaseNotes")(function*(recipe, version) {
        // A version's notes are committed with it, so read them from the tag itself: the work
        // tree may be checked out at an older version that does not have them yet.
        for (const path of notesPaths(version)) {
          const inTree = Path.join(clone(recipe), path)
          if (yield* fs.exists(inTree).pipe(Effect.orElseSucceed(() => false))) {
            const text = yield* fs.readFileString(inTree).pipe(Effect.option)
            if (Option.isSome(text)) return text
          }
        }
        for (const path of notesPaths(version)) {
          const shown = yield* runner.exec("git", ["-C", clone(recipe), "show", `${version}:${path}`]).pipe(
            Effect.mapError(fail(recipe, "release notes"))
          )
          if (shown.exitCode === 0) return Option.some(shown.stdout)
        }
        return Option.none()
      }),
      checkClean: Effect.fn("Recipes.checkClean")(function*(recipe) {
        const out = yield* git(recipe, ["status", "--porcelain", "--untracked-files=all"]).pipe(
          Effect.mapError(fail(recipe, "git status"))
        )
        const changes = out.stdout.split("\n").map(trimAscii).filter((l) => l.length > 0)
        if (changes.length === 0) return
        return yield* new RecipeError({
          recipe,
          operation: "git status",
          message: `recipe ${recipe}: the clone ${clone(recipe)} has local changes that a checkout would overwrite: ` +
            `${changes.join("; ")}; commit, stash or remove them (git -C ${clone(recipe)} status), ` +
            "or deploy them yourself with abra app deploy -C"
        })
      }),
      checkout: Effect.fn("Recipes.checkout")(function*(recipe, version) {
        yield* git(recipe, ["checkout", "--quiet", `refs/tags/${version}`]).pipe(
          // git's whole message, not its last line ("Aborting"): it names the files in the way.
          Effect.mapError((e) => {
            const failure = fail(recipe, `checkout ${version}`)(e)
            return e._tag === "CommandFailed" && e.stderrTail.trim() !== ""
              ? new RecipeError({
                ...failure,
                message: `recipe ${recipe}: checkout ${version} failed (exit ${e.exitCode}): ${
                  e.stderrTail.split("\n").map(trimAscii).filter((l) => l.length > 0).join(" ")
                }`
              })
              : failure
          })
        )
      })
    })
  })

/** Recipes through abra and git (needs a ProcessRunner) and the clone's files (a FileSystem). */
export const layer = (options: RecipesOptions): Layer.Layer<Recipes, never, ProcessRunner | FileSystem.FileSystem> =>
  Layer.effect(Recipes, make(options))
