/** In-memory Recipes over the simulated world, following the live layer over git clones. */
import { Effect, Layer, Option, Ref } from "effect"
import { capNotes, NOTES_MAX_BYTES } from "../domain/ReleaseNotes.js"
import { RecipeError, Recipes } from "../services/Recipes.js"
import { type InjectedFault, SimulatedWorld } from "./World.js"

const fromFault = (recipe: string, operation: string) => (fault: InjectedFault) =>
  new RecipeError({ recipe, operation, message: `recipe ${recipe}: ${operation} failed: ${fault.message}` })

/** Git lists tags in byte order of their names, whatever order they were made in. */
const gitOrder = (tags: ReadonlyArray<string>): Array<string> =>
  [...tags].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))

/** In-memory recipes from the simulated world. */
export const layerTest: Layer.Layer<Recipes, never, SimulatedWorld> = Layer.effect(
  Recipes,
  Effect.gen(function*() {
    const world = yield* SimulatedWorld
    /** The recipe's clone; the operation names what failed, as the live layer's errors do. */
    const recipe = (name: string, operation: string) =>
      world.state.get.pipe(Effect.flatMap((s) => {
        const found = s.recipes.get(name)
        return found
          ? Effect.succeed(found)
          : Effect.fail(
            new RecipeError({
              recipe: name,
              operation,
              message: `recipe ${name} is unknown: check the recipe name in the config`
            })
          )
      }))
    return Recipes.of({
      fetch: (name) =>
        world.step("fetch", name, `recipe fetch ${name}`).pipe(
          Effect.mapError(fromFault(name, "fetch")),
          Effect.zipRight(recipe(name, "fetch")),
          Effect.asVoid
        ),
      tags: (name) =>
        world.step("tags", name, `git tag (${name})`).pipe(
          Effect.mapError(fromFault(name, "git tag")),
          Effect.zipRight(recipe(name, "git tag")),
          Effect.map((r) => gitOrder(r.tags))
        ),
      tagDates: (name) =>
        world.step("tags", name, `git for-each-ref refs/tags (${name})`).pipe(
          Effect.mapError(fromFault(name, "tag dates")),
          Effect.zipRight(recipe(name, "tag dates")),
          Effect.map((r) => new Map(r.tags.map((tag) => [tag, r.dates?.[tag] ?? 0])))
        ),
      releaseNotes: (name, version) =>
        world.step("notes", name, `release/${version}`, version).pipe(
          Effect.mapError(fromFault(name, "release notes")),
          Effect.zipRight(recipe(name, "release notes")),
          // As the live twin: read up to NOTES_MAX_BYTES, cut with the notice beyond.
          Effect.map((r) =>
            Option.map(Option.fromNullable(r.notes?.[version]), (text) => {
              const bytes = Buffer.from(text, "utf8")
              return capNotes(bytes.subarray(0, NOTES_MAX_BYTES).toString("utf8"), bytes.length)
            })
          )
        ),
      checkClean: (name) =>
        world.step("clone-status", name, `git status (${name})`).pipe(
          Effect.mapError(fromFault(name, "git status")),
          Effect.zipRight(recipe(name, "git status")),
          Effect.flatMap((r) =>
            r.localChanges === undefined || r.localChanges.trim() === ""
              ? Effect.void
              : Effect.fail(
                new RecipeError({
                  recipe: name,
                  operation: "git status",
                  message: `recipe ${name}: the clone has local changes that a checkout would overwrite: ` +
                    `${r.localChanges.trim().split("\n").join("; ")}; commit, stash or remove them`
                })
              )
          )
        ),
      checkout: (name, version) =>
        world.step("checkout", name, `git checkout ${version}`, version).pipe(
          Effect.mapError(fromFault(name, `checkout ${version}`)),
          Effect.zipRight(recipe(name, `checkout ${version}`)),
          Effect.flatMap((r) =>
            r.tags.includes(version)
              ? Ref.update(world.state, (s) => ({
                ...s,
                apps: new Map(
                  [...s.apps].map((
                    [n, a]
                  ) => [n, a.spec.recipe === name ? { ...a, checkout: Option.some(version) } : a])
                )
              }))
              : Effect.fail(
                new RecipeError({
                  recipe: name,
                  operation: `checkout ${version}`,
                  message: `recipe ${name} has no tag ${version}`
                })
              )
          )
        )
    })
  })
)
