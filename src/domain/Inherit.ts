/**
 * What an app inherits (issue 13): the config's `defaults`, then its recipe's defaults, then what
 * the app itself says. Merged as written (JSON, before decoding), so that an app's own value and an
 * inherited one are decoded, and refused, by the same Schema. Pure.
 */

/** A JSON object as read from the config file. */
export type Raw = Readonly<Record<string, unknown>>

export const isObject = (value: unknown): value is Raw =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/**
 * `over` on top of `base`: an object (`health`) merged key by key, anything else (a list too)
 * replaced. Built with `Object.fromEntries`, so a `__proto__` key stays a key and sets no prototype.
 */
export const merge = (base: Raw, over: Raw): Raw => {
  const out = new Map(Object.entries(base))
  for (const [key, value] of Object.entries(over)) {
    const below = out.get(key)
    out.set(key, isObject(value) && isObject(below) ? merge(below, value) : value)
  }
  return Object.fromEntries(out)
}

/**
 * Built-in recipe defaults: the health endpoints of recipes whose `/` does not answer 200. They
 * fill in for apps found by discovery (which have no config of their own); the config's
 * `recipes` block overrides them key by key. A listed app keeps the values it always had unless
 * the config's `defaults` or `recipes` say otherwise.
 */
export const BUILT_IN_RECIPES: Readonly<Record<string, Raw>> = {
  keycloak: { health: { path: "/realms/master" } },
  nextcloud: { health: { path: "/status.php" } }
}

export interface Inheritance {
  /** The config's `defaults`, as written. */
  readonly defaults: Raw
  /** The config's `recipes`, as written. */
  readonly recipes: Readonly<Record<string, Raw>>
}

/**
 * `recipes` with the older `minReleaseAgeByRecipe` folded in: each recipe's soak time as its
 * block's `minReleaseAge`, unless the block sets its own.
 */
export const withRecipeSoak = (
  recipes: Readonly<Record<string, Raw>>,
  byRecipe: Readonly<Record<string, unknown>>
): Readonly<Record<string, Raw>> => {
  const out = new Map(Object.entries(recipes))
  for (const [recipe, age] of Object.entries(byRecipe)) {
    out.set(recipe, merge({ minReleaseAge: age }, out.get(recipe) ?? {}))
  }
  return Object.fromEntries(out)
}

/**
 * One app's settings as written after inheritance: `defaults`, then the built-in defaults of its
 * recipe (only with `builtIn`), `recipes.<recipe>`, then the app's own keys: the more specific wins. An app that is not an
 * object is returned as is: decoding refuses it with its own path.
 */
export const inherit = (inheritance: Inheritance, app: unknown, builtIn = false): unknown => {
  if (!isObject(app)) return app
  const recipe = typeof app["recipe"] === "string" ? app["recipe"] : undefined
  const own = (table: Readonly<Record<string, Raw>>) =>
    recipe !== undefined && Object.hasOwn(table, recipe) ? table[recipe]! : {}
  return [inheritance.defaults, builtIn ? own(BUILT_IN_RECIPES) : {}, own(inheritance.recipes), app].reduce(merge, {})
}
