/** Recipes on the real server: `abra recipe fetch`, and git on the clone in `$ABRA_DIR/recipes`. */
import { Effect, Layer, Option } from "effect"
import * as Path from "node:path"
import { capNotes, NOTES_MAX_BYTES } from "../domain/ReleaseNotes.js"
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

interface TreeEntry {
  readonly mode: string
  readonly type: string
  readonly object: string
  readonly size: number
}

/** The entries of `git ls-tree -l -z <tree> -- <paths>`, each `<mode> <type> <object> <size>\t<path>\0`, by path. */
const parseTreeEntries = (stdout: string): Map<string, TreeEntry> => {
  const entries = new Map<string, TreeEntry>()
  for (const line of stdout.split("\0")) {
    const match = /^(\d{6}) (\w+) ([0-9a-f]{40,64}) +([-\d]+)\t(.*)$/s.exec(line)
    if (match === null) continue
    entries.set(match[5]!, { mode: match[1]!, type: match[2]!, object: match[3]!, size: Number(match[4]) })
  }
  return entries
}

/** A file as committed: not a symbolic link (120000), a submodule (160000) or a directory. */
const isRegularBlob = (entry: TreeEntry) =>
  entry.type === "blob" && (entry.mode === "100644" || entry.mode === "100755")

/**
 * `<tag>\t<tagger date>\t<committer date>\t<committer date of the tagged commit>` per line, in Unix
 * seconds, each empty where it does not apply: an annotated tag has a tagger date, a lightweight
 * tag's own object is the commit.
 */
const parseTagDates = (stdout: string): Map<string, number> => {
  const dates = new Map<string, number>()
  for (const line of stdout.split("\n")) {
    const [tag, ...fields] = line.split("\t")
    const seconds = fields.map((f) => trimAscii(f)).find((f) => /^\d+$/.test(f))
    if (tag !== undefined && tag !== "" && seconds !== undefined) dates.set(tag, Number(seconds) * 1000)
  }
  return dates
}

export const make = (options: RecipesOptions) =>
  Effect.gen(function*() {
    const runner = yield* ProcessRunner
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
      tagDates: Effect.fn("Recipes.tagDates")(function*(recipe) {
        // Tag names hold no tab or newline (git refuses control characters in ref names).
        const out = yield* git(recipe, [
          "for-each-ref",
          "--format=%(refname:strip=2)%09%(taggerdate:unix)%09%(committerdate:unix)%09%(*committerdate:unix)",
          "refs/tags"
        ]).pipe(Effect.mapError(fail(recipe, "tag dates")))
        return parseTagDates(out.stdout)
      }),
      releaseNotes: Effect.fn("Recipes.releaseNotes")(function*(recipe, version) {
        // A version's notes are committed with it, so they are read from the tag's git objects:
        // never from the work tree, which may be at another version and where a recipe can commit
        // a symbolic link to any file of the server.
        // One listing for every place notes may be (`-z`: entries end in NUL, names unquoted).
        const paths = notesPaths(version)
        const listed = yield* runner.exec("git", [
          "-C",
          clone(recipe),
          "ls-tree",
          "-l",
          "-z",
          `refs/tags/${version}`,
          "--",
          ...paths
        ])
          .pipe(Effect.mapError(fail(recipe, "release notes")))
        // No such tag: no notes.
        const entries = listed.exitCode === 0 ? parseTreeEntries(listed.stdout) : new Map<string, TreeEntry>()
        for (const path of paths) {
          const entry = entries.get(path)
          if (entry === undefined) continue
          if (!isRegularBlob(entry)) {
            yield* Effect.logWarning(
              `recipe ${recipe} ${version}: ${path} is not a regular file in git (mode ${entry.mode}, ${entry.type}); ` +
                "its release notes are not read"
            )
            continue
          }
          const blob = yield* runner.run("git", ["-C", clone(recipe), "cat-file", "blob", entry.object], {
            maxStdout: NOTES_MAX_BYTES
          }).pipe(Effect.mapError(fail(recipe, "release notes")))
          return Option.some(capNotes(blob.stdout, entry.size))
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

/** Recipes through abra and git (needs a ProcessRunner). */
export const layer = (options: RecipesOptions): Layer.Layer<Recipes, never, ProcessRunner> =>
  Layer.effect(Recipes, make(options))
