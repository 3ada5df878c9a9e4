/**
 * Recipe version tags: `<recipe-semver>+<app-version>`, e.g. `10.7.1+26.6.2` or
 * `1.0.0+1.0.5-social-amd64`. Pure: no services.
 */
import type { Option } from "effect"
import { Array as Arr, Order, ParseResult, Schema } from "effect"

/** A decoded version tag. `recipe` and `app` are the numeric tuples the original sorted by. */
export class Version extends Schema.Class<Version>("Version")({
  tag: Schema.String,
  recipe: Schema.Array(Schema.Int),
  app: Schema.Array(Schema.Int),
  /** `1.2.0-rc1+...`: a pre-release recipe part. Never picked as latest. */
  prerelease: Schema.Boolean
}) {
  override toString() {
    return this.tag
  }
}

// Leading numeric semver, an optional pre-release suffix on the recipe part, an optional +app part.
// Only the characters a version needs: abra pins the tag into the app's env file, which people
// source as root, so `;`, `$(...)`, backticks, quotes and blanks make a tag junk.
const TAG = /^(\d+(?:\.\d+)*)(-[0-9A-Za-z.-]+)?(?:\+([0-9A-Za-z.+_-]+))?$/

/** The original's `_numtuple`: each dot-separated part's leading digits, or 0. */
const numbers = (s: string): Array<number> =>
  s.split(".").map((part) => {
    const m = /^\d+/.exec(part)
    // Very long digit runs would lose precision; cap them so the order stays total.
    return m ? Math.min(Number(m[0].slice(0, 15)), Number.MAX_SAFE_INTEGER) : 0
  })

const isAsciiBlank = (c: string | undefined) =>
  c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\v" || c === "\f"

/**
 * ASCII blanks only, where `String.trim` also takes a no-break space: a tag ending in one is another
 * tag than its trimmed text, and a version must name a tag that exists. A loop: linear on any input.
 */
export const trimAscii = (s: string): string => {
  let start = 0
  let end = s.length
  while (start < end && isAsciiBlank(s[start])) start++
  while (end > start && isAsciiBlank(s[end - 1])) end--
  return s.slice(start, end)
}

/** Decodes a git tag into a {@link Version}; fails for anything that is not a version tag. */
export const VersionFromTag = Schema.transformOrFail(Schema.String, Schema.typeSchema(Version), {
  strict: true,
  decode: (input, _, ast) => {
    const tag = trimAscii(input)
    const m = tag.length <= 256 ? TAG.exec(tag) : null
    if (m === null) {
      return ParseResult.fail(new ParseResult.Type(ast, input, `not a version tag: ${JSON.stringify(input)}`))
    }
    const [, recipe = "", pre, app = ""] = m
    return ParseResult.succeed(
      new Version({ tag, recipe: numbers(recipe), app: app ? numbers(app) : [], prerelease: pre !== undefined })
    )
  },
  encode: (version) => ParseResult.succeed(version.tag)
})

export const parse: (tag: string) => Option.Option<Version> = Schema.decodeUnknownOption(VersionFromTag)

/** Compares number tuples as Python compares tuples: element by element, a prefix first. */
const tupleOrder: Order.Order<ReadonlyArray<number>> = Order.make((a, b) => {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a[i]!
    const y = b[i]!
    if (x !== y) return x < y ? -1 : 1
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1
})

/** Ordering by (recipe numbers, app numbers), then pre-release before release, then the tag text. */
export const order: Order.Order<Version> = Order.combineAll([
  Order.mapInput(tupleOrder, (v: Version) => v.recipe),
  Order.mapInput(tupleOrder, (v: Version) => v.app),
  Order.mapInput(Order.reverse(Order.boolean), (v: Version) => v.prerelease),
  Order.mapInput(Order.string, (v: Version) => v.tag)
])

/** Every tag that is a version, ascending, without duplicates. Junk tags are dropped, never a crash. */
export const sortTags = (tags: Iterable<string>): Array<Version> =>
  Arr.dedupeWith(Arr.sort(Arr.filterMap(Arr.fromIterable(tags), parse), order), (a, b) => a.tag === b.tag)

/** The newest published release; pre-releases are never picked. */
export const latest = (versions: ReadonlyArray<Version>): Option.Option<Version> =>
  Arr.last(Arr.sort(versions.filter((v) => !v.prerelease), order))

const major = (numbers: ReadonlyArray<number>): number => numbers[0] ?? 0
const minor = (numbers: ReadonlyArray<number>): number => numbers[1] ?? 0

export type Bump = "major" | "minor" | "patch" | "none"

/**
 * How big the step from `from` to `to` is. Major when the major of the recipe semver OR of the app
 * version goes up (an app major is when manual database migrations happen); minor when either minor
 * goes up; any other forward step is a patch.
 */
export const bump = (from: Version, to: Version): Bump => {
  if (major(to.recipe) > major(from.recipe) || major(to.app) > major(from.app)) return "major"
  if (Order.lessThanOrEqualTo(order)(to, from)) return "none"
  const sameRecipeMajor = major(to.recipe) === major(from.recipe)
  const sameAppMajor = major(to.app) === major(from.app)
  if (
    (sameRecipeMajor && minor(to.recipe) > minor(from.recipe)) ||
    (sameAppMajor && minor(to.app) > minor(from.app))
  ) return "minor"
  return "patch"
}

export const isMajorBump = (from: Version, to: Version): boolean => bump(from, to) === "major"

/** The versions strictly after `from` up to and including `to`, pre-releases included. */
export const between = (
  versions: ReadonlyArray<Version>,
  from: Version,
  to: Version
): Array<Version> => versions.filter((v) => Order.greaterThan(order)(v, from) && Order.lessThanOrEqualTo(order)(v, to))
