/** Recipes: the git clones of Co-op Cloud recipes that list versions and carry release notes. */
import type { Effect, Option } from "effect"
import { Context, Schema } from "effect"

export class RecipeError extends Schema.TaggedError<RecipeError>()("RecipeError", {
  recipe: Schema.String,
  operation: Schema.String,
  message: Schema.String,
  /** The tail of the failing command's stderr, when a command failed. */
  stderr: Schema.optional(Schema.String)
}) {}

export class Recipes extends Context.Tag("warm-reconcile/Recipes")<Recipes, {
  /** Clone or update the recipe (skipped when the operator asked to use the clone as it is). */
  readonly fetch: (recipe: string) => Effect.Effect<void, RecipeError>
  /** Every tag of the recipe, versions or not: the domain decides which are versions. */
  readonly tags: (recipe: string) => Effect.Effect<ReadonlyArray<string>, RecipeError>
  /**
   * When each tag was made, in epoch milliseconds: the tagger date of an annotated tag, else the
   * date of the commit it names. What a release's soak time (`minReleaseAge`) is counted from.
   */
  readonly tagDates: (recipe: string) => Effect.Effect<ReadonlyMap<string, number>, RecipeError>
  /** The release notes of one version, if it has any. */
  readonly releaseNotes: (recipe: string, version: string) => Effect.Effect<Option.Option<string>, RecipeError>
  /**
   * Fail when the clone's work tree has uncommitted or untracked changes, which a checkout would
   * overwrite (or carry into a deploy): the message lists git's whole report, uncut.
   */
  readonly checkClean: (recipe: string) => Effect.Effect<void, RecipeError>
  /** Put the recipe clone's work tree at a version, so a deploy uses that version's files. */
  readonly checkout: (recipe: string, version: string) => Effect.Effect<void, RecipeError>
}>() {}
