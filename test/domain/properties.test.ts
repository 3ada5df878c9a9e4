import { describe, expect, it } from "@effect/vitest"
import { Option } from "effect"
import fc from "fast-check"
import { classify, needsHealth, plan } from "../../src/domain/Plan.js"
import { bump, latest, order, parse, sortTags, type Version } from "../../src/domain/Version.js"

const RUNS = { numRuns: 1000 }

interface Generated {
  readonly tag: string
  readonly recipe: ReadonlyArray<number>
  readonly app: ReadonlyArray<number>
  readonly prerelease: boolean
}

// Small numbers so that ties, prefixes and equal majors are common; sometimes a leading zero, so that
// distinct tags with equal numbers occur too.
const part = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 3 }).map((n) => [n, String(n)] as const) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 3 }).map((n) => [n, `0${n}`] as const) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 99_999 }).map((n) => [n, String(n)] as const) }
)
const parts = (max: number) => fc.array(part, { minLength: 1, maxLength: max })

const versionTag: fc.Arbitrary<Generated> = fc
  .record({
    recipe: parts(4),
    pre: fc.option(fc.constantFrom("-rc1", "-beta.2", "-alpha-1"), { nil: undefined }),
    app: fc.option(fc.tuple(parts(3), fc.constantFrom("", "-social-amd64", "-alpine")), { nil: undefined })
  })
  .map(({ app, pre, recipe }) => ({
    tag: recipe.map(([, s]) => s).join(".") + (pre ?? "") +
      (app === undefined ? "" : `+${app[0].map(([, s]) => s).join(".")}${app[1]}`),
    recipe: recipe.map(([n]) => n),
    app: app === undefined ? [] : app[0].map(([n]) => n),
    prerelease: pre !== undefined
  }))

const toVersion = (g: Generated): Version =>
  Option.getOrThrowWith(parse(g.tag), () => new Error(`generated tag ${g.tag} must parse`))

const anyString = fc.oneof(
  fc.string({ unit: "binary" }),
  fc.string({ unit: "grapheme" }),
  fc.string({ unit: fc.constantFrom("1", "0", ".", "+", "-", "r", "c", " ", "\u0000", "١") }),
  fc.constantFrom("latest", "v2", "", " ", "1.0.0+", "x".repeat(300))
)
const anyTag = fc.oneof(versionTag.map((g) => g.tag), versionTag.map((g) => `  ${g.tag}\n`), anyString)

// Python compares tuples element by element, a strict prefix first. Python's _numtuple("") is (0,).
const pyTuple = (s: string): Array<number> => s.split(".").map((p) => Number(/^\d+/.exec(p)?.[0] ?? 0))
const pyCompare = (a: ReadonlyArray<number>, b: ReadonlyArray<number>): number => {
  if (a.length === 0 || b.length === 0) return Math.sign(a.length - b.length)
  if (a[0] !== b[0]) return a[0]! < b[0]! ? -1 : 1
  return pyCompare(a.slice(1), b.slice(1))
}
const pyKeyCompare = (a: string, b: string): number => {
  const [ar = "", aa = ""] = a.split(/\+(.*)/s)
  const [br = "", ba = ""] = b.split(/\+(.*)/s)
  return pyCompare(pyTuple(ar), pyTuple(br)) || pyCompare(pyTuple(aa), pyTuple(ba))
}
const majorOf = (numbers: ReadonlyArray<number>) => numbers[0] ?? 0

describe("Version properties", () => {
  it("parse reads every generated tag as generated", () => {
    fc.assert(
      fc.property(versionTag, (g) => {
        const v = toVersion(g)
        expect([v.tag, v.recipe, v.app, v.prerelease]).toEqual([g.tag, g.recipe, g.app, g.prerelease])
      }),
      RUNS
    )
  })

  it("order is a total order: antisymmetric, transitive, total, 0 only for the same tag", () => {
    fc.assert(
      fc.property(versionTag, versionTag, versionTag, (ga, gb, gc) => {
        const [a, b, c] = [toVersion(ga), toVersion(gb), toVersion(gc)]
        for (const [x, y] of [[a, b], [b, c], [a, c]] as const) {
          expect([-1, 0, 1]).toContain(order(x, y))
          // `+ 0` folds -0 into 0: antisymmetry is about the sign, not IEEE's signed zero.
          expect(order(x, y) + 0).toBe(-order(y, x) + 0)
          expect(order(x, y) === 0).toBe(x.tag === y.tag)
        }
        if (order(a, b) <= 0 && order(b, c) <= 0) expect(order(a, c)).toBeLessThanOrEqual(0)
        if (order(a, b) >= 0 && order(b, c) >= 0) expect(order(a, c)).toBeGreaterThanOrEqual(0)
      }),
      RUNS
    )
  })

  // The original has no pre-releases (it drops them as non-version tags), so only releases are compared.
  it("order agrees with Python's (recipe tuple, app tuple) sort key on releases wherever that key is not a tie", () => {
    const release = versionTag.filter((g) => !g.prerelease)
    fc.assert(
      fc.property(release, release, (ga, gb) => {
        const expected = pyKeyCompare(ga.tag, gb.tag)
        if (expected !== 0) expect(order(toVersion(ga), toVersion(gb))).toBe(expected)
      }),
      RUNS
    )
  })

  it("sortTags never throws and returns exactly the parseable tags, sorted, without duplicates", () => {
    fc.assert(
      fc.property(fc.array(anyTag, { maxLength: 30 }), (input) => {
        const sorted = sortTags(input)
        for (const v of sorted) expect(Option.getOrThrow(parse(v.tag))).toEqual(v)
        for (let i = 1; i < sorted.length; i++) expect(order(sorted[i - 1]!, sorted[i]!)).toBe(-1)
        const parseable = new Set(input.flatMap((t) => Option.toArray(parse(t)).map((v) => v.tag)))
        expect(sorted.map((v) => v.tag).sort()).toEqual([...parseable].sort())
      }),
      RUNS
    )
  })

  it("latest is never a pre-release and is the max of the releases", () => {
    fc.assert(
      fc.property(fc.array(versionTag, { maxLength: 20 }), (gs) => {
        const versions = gs.map(toVersion)
        const releases = versions.filter((v) => !v.prerelease)
        const result = latest(versions)
        expect(Option.isSome(result)).toBe(releases.length > 0)
        if (Option.isSome(result)) {
          expect(result.value.prerelease).toBe(false)
          expect(releases).toContain(result.value)
          for (const v of releases) expect(order(v, result.value)).toBeLessThanOrEqual(0)
        }
      }),
      RUNS
    )
  })

  it("bump is major exactly when the recipe major or the app major goes up", () => {
    fc.assert(
      fc.property(versionTag, versionTag, (ga, gb) => {
        const [a, b] = [toVersion(ga), toVersion(gb)]
        const majorUp = majorOf(gb.recipe) > majorOf(ga.recipe) || majorOf(gb.app) > majorOf(ga.app)
        const step = bump(a, b)
        expect(step === "major").toBe(majorUp)
        // Otherwise: none exactly for a step that is not forward; minor and patch only move forward.
        if (!majorUp) expect(step === "none").toBe(order(b, a) <= 0)
        if (step === "minor" || step === "patch") expect(order(a, b)).toBe(-1)
        expect(bump(a, a)).toBe("none")
      }),
      RUNS
    )
  })
})

describe("Plan properties", () => {
  const facts = fc.record({
    deployed: fc.boolean(),
    current: fc.option(fc.oneof(versionTag.map((g) => g.tag), anyString), { nil: undefined }).map(Option.fromNullable),
    tags: fc.array(fc.oneof(versionTag.map((g) => g.tag), anyString), { maxLength: 25 }),
    policy: fc.constantFrom("minor" as const, "patch" as const, "none" as const)
  })
  const observed = fc.record({
    healthy: fc.boolean(),
    notes: fc.dictionary(
      fc.oneof(versionTag.map((g) => g.tag), fc.string()),
      fc.oneof(fc.string(), fc.constantFrom("manual step", "Breaking change", ""))
    ).map((d) => new Map(Object.entries(d)))
  })

  it("classify, plan and needsHealth never throw on arbitrary tag lists, and stages fit the facts", () => {
    fc.assert(
      fc.property(facts, observed, (f, o) => {
        const stage = classify(f)
        const p = plan(f, stage, o)
        const health = needsHealth(f, stage, o.notes)
        const releases = sortTags(f.tags).filter((v) => !v.prerelease)

        expect(stage._tag === "NoReleases").toBe(releases.length === 0)
        expect(p._tag === "Fail").toBe(stage._tag === "NoReleases")
        if (stage._tag === "FreshDeploy") expect(f.deployed).toBe(false)
        if (["OnLatest", "Candidate", "UnknownCurrent"].includes(stage._tag)) expect(f.deployed).toBe(true)
        // A probe is asked for exactly when its answer changes the plan.
        expect(health).toBe(f.deployed && (stage._tag === "OnLatest" || p._tag === "Upgrade"))
        if (stage._tag === "Candidate") {
          expect(stage.to).toEqual(releases.at(-1))
          expect(bump(stage.from, stage.to)).not.toBe("none")
          for (const v of stage.skipped) {
            expect(order(stage.from, v)).toBe(-1)
            expect(order(v, stage.to)).toBeLessThanOrEqual(0)
          }
          if (order(stage.from, stage.to) < 0) expect(stage.skipped.at(-1)).toEqual(stage.to)
          expect(["Hold", "Upgrade"]).toContain(p._tag)
        }
      }),
      RUNS
    )
  })
})
