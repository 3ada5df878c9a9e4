/** Recipes: the git clones of Co-op Cloud recipes that list versions and carry release notes. */
import { Context, Effect, Layer, Option, Schema } from "effect"
import { type InjectedFault, SimulatedWorld } from "../simulation/World.js"

export class RecipeError extends Schema.TaggedError<RecipeError>()("RecipeError", {
  recipe: Schema.String,
  operation: Schema.String,
  message: Schema.String
}) {}

export class Recipes extends Context.Tag("warm-reconcile/Recipes")<Recipes, {
  /** Clone or update the recipe (skipped when the operator asked to use the clone as it is). */
  readonly fetch: (recipe: string) => Effect.Effect<void, RecipeError>
  /** Every tag of the recipe, versions or not: the domain decides which are versions. */
  readonly tags: (recipe: string) => Effect.Effect<ReadonlyArray<string>, RecipeError>
  /** The release notes of one version, if it has any. */
  readonly releaseNotes: (recipe: string, version: string) => Effect.Effect<Option.Option<string>, RecipeError>
  /** Put the recipe clone's work tree at a version, so a deploy uses that version's files. */
  readonly checkout: (recipe: string, version: string) => Effect.Effect<void, RecipeError>
}>() {}

const fromFault = (recipe: string, operation: string) => (fault: InjectedFault) =>
  new RecipeError({ recipe, operation, message: `recipe ${recipe}: ${operation} failed: ${fault.message}` })

/** In-memory recipes from the simulated world. */
export const layerTest: Layer.Layer<Recipes, never, SimulatedWorld> = Layer.effect(
  Recipes,
  Effect.gen(function*() {
    const world = yield* SimulatedWorld
    const recipe = (name: string) =>
      world.state.get.pipe(Effect.flatMap((s) => {
        const found = s.recipes.get(name)
        return found
          ? Effect.succeed(found)
          : Effect.fail(
            new RecipeError({
              recipe: name,
              operation: "fetch",
              message: `recipe ${name} is unknown: check the recipe name in the config`
            })
          )
      }))
    return Recipes.of({
      fetch: (name) =>
        world.step("fetch", name, `recipe fetch ${name}`).pipe(
          Effect.mapError(fromFault(name, "fetch")),
          Effect.zipRight(recipe(name)),
          Effect.asVoid
        ),
      tags: (name) =>
        world.step("tags", name, `git tag (${name})`).pipe(
          Effect.mapError(fromFault(name, "tags")),
          Effect.zipRight(recipe(name)),
          Effect.map((r) => r.tags)
        ),
      releaseNotes: (name, version) =>
        world.step("notes", name, `release/${version}`, version).pipe(
          Effect.mapError(fromFault(name, "release notes")),
          Effect.zipRight(recipe(name)),
          Effect.map((r) => Option.fromNullable(r.notes?.[version]))
        ),
      checkout: (name, version) =>
        world.step("checkout", name, `git checkout ${version}`, version).pipe(
          Effect.mapError(fromFault(name, "checkout")),
          Effect.zipRight(recipe(name)),
          Effect.flatMap((r) =>
            r.tags.includes(version)
              ? Effect.void
              : Effect.fail(
                new RecipeError({
                  recipe: name,
                  operation: "checkout",
                  message: `recipe ${name} has no tag ${version}`
                })
              )
          )
        )
    })
  })
)
