/** In-memory Recipes over the simulated world. */
import { Effect, Layer, Option } from "effect"
import { RecipeError, Recipes } from "../services/Recipes.js"
import { type InjectedFault, SimulatedWorld } from "./World.js"

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
