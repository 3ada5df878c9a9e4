import { describe, expect, it } from "@effect/vitest"
import { Option } from "effect"
import { classify, type Facts, gate, needsHealth, type Observed, Plan, plan, Stage } from "../../src/domain/Plan.js"

// Releases 0.9.0 .. 1.1.0, with a pre-release inside the range and one above the latest release.
const TAGS = ["0.9.0+1.0", "1.0.0+1.0", "1.0.1+1.0", "1.1.0-rc1+1.1", "1.1.0+1.1", "1.2.0-rc1+1.2", "latest", "v2"]
const LATEST = "1.1.0+1.1"

const facts = (over: Partial<Facts> = {}): Facts => ({
  deployed: true,
  current: Option.none(),
  tags: TAGS,
  policy: "minor",
  ...over
})
const running = (current: string, over: Partial<Facts> = {}) => facts({ current: Option.some(current), ...over })

const observed = (healthy: boolean, notes: Record<string, string> = {}): Observed => ({
  healthy,
  notes: new Map(Object.entries(notes))
})
const notesMap = (notes: Record<string, string> = {}) => new Map(Object.entries(notes))

const expectStage = <T extends Stage["_tag"]>(stage: Stage, tag: T): Extract<Stage, { _tag: T }> => {
  expect(stage._tag).toBe(tag)
  return stage as Extract<Stage, { _tag: T }>
}
const candidate = (f: Facts) => expectStage(classify(f), "Candidate")
const tagsOf = (versions: ReadonlyArray<{ readonly tag: string }>) => versions.map((x) => x.tag)

describe("Plan.classify", () => {
  it("NoReleases when there is no tag, or only junk and pre-releases, deployed or not", () => {
    for (const tags of [[], ["latest", "main"], ["1.0.0-rc1+1.0", "v3"]]) {
      expectStage(classify(facts({ tags })), "NoReleases")
      expectStage(classify(facts({ tags, deployed: false, current: Option.some("1.0.0-rc1+1.0") })), "NoReleases")
    }
  })

  it("FreshDeploy of the pinned version when nothing runs", () => {
    const stage = expectStage(classify(running("1.0.0+1.0", { deployed: false })), "FreshDeploy")
    expect(stage.version.tag).toBe("1.0.0+1.0")
  })

  it("FreshDeploy of the latest release when nothing runs and nothing is pinned", () => {
    expect(expectStage(classify(facts({ deployed: false })), "FreshDeploy").version.tag).toBe(LATEST)
  })

  it("FreshDeploy of the latest release when the pin is not a version", () => {
    expect(expectStage(classify(running("garbage", { deployed: false })), "FreshDeploy").version.tag).toBe(LATEST)
  })

  it("OnLatest when the running version is the latest release", () => {
    expect(expectStage(classify(running(LATEST)), "OnLatest").version.tag).toBe(LATEST)
  })

  it("OnLatest when the running version is newer than any release", () => {
    expect(expectStage(classify(running("1.5.0+1.5")), "OnLatest").version.tag).toBe("1.5.0+1.5")
    // A pre-release above the latest release is not an upgrade candidate either.
    expect(expectStage(classify(running("1.2.0-rc1+1.2")), "OnLatest").version.tag).toBe("1.2.0-rc1+1.2")
  })

  it("OnLatest when the running version sorts after the latest release even if its app major is lower", () => {
    expectStage(classify(running("2.0.0+1.0", { tags: ["1.0.0+2.0"] })), "OnLatest")
  })

  it("UnknownCurrent when deployed and no version is known", () => {
    const stage = expectStage(classify(facts()), "UnknownCurrent")
    expect(stage.latest.tag).toBe(LATEST)
    expect(Option.isNone(stage.current)).toBe(true)
  })

  it("UnknownCurrent, carrying the raw text, when deployed with a version that does not parse", () => {
    const stage = expectStage(classify(running("garbage")), "UnknownCurrent")
    expect(stage.latest.tag).toBe(LATEST)
    expect(stage.current).toEqual(Option.some("garbage"))
  })

  it("Candidate from the running version to the latest release, skipping every version in between", () => {
    const stage = candidate(running("1.0.0+1.0"))
    expect(stage.from.tag).toBe("1.0.0+1.0")
    expect(stage.to.tag).toBe(LATEST)
    // Excludes the running version and older ones, includes the pre-release in range and the target,
    // excludes the pre-release above the target.
    expect(tagsOf(stage.skipped)).toEqual(["1.0.1+1.0", "1.1.0-rc1+1.1", LATEST])
  })

  it("Candidate from a running version that is not a published tag", () => {
    const stage = candidate(running("1.0.0+1.0.7"))
    expect(tagsOf(stage.skipped)).toEqual(["1.0.1+1.0", "1.1.0-rc1+1.1", LATEST])
  })
})

describe("Plan.gate", () => {
  const MAJOR_TAGS = [...TAGS, "2.0.0+2.0"]

  it("holds a major bump first, even when the notes warn and the policy forbids everything", () => {
    const c = candidate(running(LATEST, { tags: MAJOR_TAGS }))
    const notes = notesMap({ "2.0.0+2.0": "Breaking change: new database." })
    const hold = gate("none", c, notes)
    expect(Option.getOrThrow(hold)).toEqual(
      Plan.Hold({
        reason: "major",
        from: LATEST,
        to: "2.0.0+2.0",
        notes: [{ version: "2.0.0+2.0", notes: "Breaking change: new database." }],
        warnings: [{ version: "2.0.0+2.0", notes: "Breaking change: new database.", marker: "Breaking change" }],
        policy: "none"
      })
    )
  })

  it("holds an app-major bump as major", () => {
    const c = candidate(running("1.1.0+1.1", { tags: [...TAGS, "1.1.1+2.0"] }))
    expect(Option.getOrThrow(gate("minor", c, notesMap())).reason).toBe("major")
  })

  it("holds a manual migration before the policy", () => {
    const c = candidate(running("1.0.0+1.0"))
    const hold = gate("none", c, notesMap({ "1.0.1+1.0": "ACTION REQUIRED: rotate keys" }))
    expect(Option.getOrThrow(hold).reason).toBe("manual-migration")
  })

  it("holds a target that was rolled back before, but not a newer one", () => {
    const c = candidate(running("1.0.0+1.0"))
    expect(Option.getOrThrow(gate("minor", c, notesMap(), c.to.tag)).reason).toBe("failed-release")
    expect(Option.isNone(gate("minor", c, notesMap(), "1.0.1+1.0"))).toBe(true)
    // The other gates still come first: their alert says more than "it failed before".
    expect(Option.getOrThrow(gate("patch", c, notesMap(), c.to.tag)).reason).toBe("policy")
  })

  it("holds what the policy forbids when nothing else does", () => {
    const c = candidate(running("1.0.0+1.0"))
    expect(Option.getOrThrow(gate("patch", c, notesMap())).reason).toBe("policy")
    expect(Option.getOrThrow(gate("none", c, notesMap())).reason).toBe("policy")
  })

  it("lets an upgrade the policy allows through", () => {
    expect(Option.isNone(gate("minor", candidate(running("1.0.0+1.0")), notesMap()))).toBe(true)
    const patchOnly = candidate(running("1.0.0+1.0", { tags: ["1.0.0+1.0", "1.0.1+1.0"] }))
    expect(Option.isNone(gate("patch", patchOnly, notesMap()))).toBe(true)
  })

  it("holds for a marker in the notes of any skipped version, not only the target's", () => {
    const c = candidate(running("1.0.0+1.0"))
    for (const version of ["1.0.1+1.0", "1.1.0-rc1+1.1", LATEST]) {
      const hold = gate("minor", c, notesMap({ [version]: "Run this manually." }))
      expect(Option.getOrThrow(hold).warnings.map((w) => w.version), version).toEqual([version])
    }
  })

  it("ignores markers on the running version, older versions and versions newer than the target", () => {
    const c = candidate(running("1.0.0+1.0"))
    const notes = notesMap({
      "0.9.0+1.0": "manual migration",
      "1.0.0+1.0": "manual migration",
      "1.2.0-rc1+1.2": "manual migration",
      "1.0.1+1.0": "Fixes a typo."
    })
    expect(Option.isNone(gate("minor", c, notes))).toBe(true)
  })

  it("carries the notes of every skipped version that has any, and warnings only for the matches", () => {
    const c = candidate(running("1.0.0+1.0"))
    const notes = notesMap({ "0.9.0+1.0": "old", "1.0.1+1.0": "Fixes a typo.", [LATEST]: "Breaking change in the API" })
    expect(Option.getOrThrow(gate("minor", c, notes))).toEqual(
      Plan.Hold({
        reason: "manual-migration",
        from: "1.0.0+1.0",
        to: LATEST,
        notes: [{ version: "1.0.1+1.0", notes: "Fixes a typo." }, {
          version: LATEST,
          notes: "Breaking change in the API"
        }],
        warnings: [{ version: LATEST, notes: "Breaking change in the API", marker: "Breaking change" }],
        policy: "minor"
      })
    )
  })
})

describe("Plan.plan", () => {
  const decide = (f: Facts, o: Observed) => plan(f, classify(f), o)

  it("Fail when the recipe has no releases", () => {
    const p = decide(facts({ tags: ["latest"] }), observed(true))
    expect(p._tag).toBe("Fail")
    expect(p._tag === "Fail" && p.reason).toContain("no version tags")
  })

  it("FreshDeploy of the pinned or latest version, whatever the health says", () => {
    expect(decide(running("1.0.0+1.0", { deployed: false }), observed(false))).toEqual(
      Plan.FreshDeploy({ version: "1.0.0+1.0" })
    )
    expect(decide(facts({ deployed: false }), observed(true))).toEqual(Plan.FreshDeploy({ version: LATEST }))
  })

  it("Noop on the latest when healthy, Redeploy when not", () => {
    expect(decide(running(LATEST), observed(true))).toEqual(Plan.Noop({ version: LATEST }))
    expect(decide(running(LATEST), observed(false))).toEqual(Plan.Redeploy({ version: LATEST }))
  })

  it("Hold unknown-version when deployed without a usable version", () => {
    expect(decide(facts({ policy: "patch" }), observed(true))).toEqual(
      Plan.Hold({ reason: "unknown-version", from: "unknown", to: LATEST, notes: [], warnings: [], policy: "patch" })
    )
    expect(decide(running("garbage"), observed(true))).toEqual(
      Plan.Hold({ reason: "unknown-version", from: "garbage", to: LATEST, notes: [], warnings: [], policy: "minor" })
    )
  })

  it("Hold major, with the skipped notes and warnings", () => {
    const f = running(LATEST, { tags: [...TAGS, "2.0.0+2.0"] })
    const p = decide(f, observed(true, { "2.0.0+2.0": "New major, read me." }))
    expect(p).toEqual(
      Plan.Hold({
        reason: "major",
        from: LATEST,
        to: "2.0.0+2.0",
        notes: [{ version: "2.0.0+2.0", notes: "New major, read me." }],
        warnings: [],
        policy: "minor"
      })
    )
  })

  it("Hold manual-migration, with the skipped notes and warnings", () => {
    const p = decide(running("1.0.0+1.0"), observed(true, { "1.0.1+1.0": "Migrate by hand." }))
    expect(p).toEqual(
      Plan.Hold({
        reason: "manual-migration",
        from: "1.0.0+1.0",
        to: LATEST,
        notes: [{ version: "1.0.1+1.0", notes: "Migrate by hand." }],
        warnings: [{ version: "1.0.1+1.0", notes: "Migrate by hand.", marker: "by hand" }],
        policy: "minor"
      })
    )
  })

  it("Hold policy, with the skipped notes", () => {
    const p = decide(running("1.0.0+1.0", { policy: "patch" }), observed(true, { [LATEST]: "New theme." }))
    expect(p).toEqual(
      Plan.Hold({
        reason: "policy",
        from: "1.0.0+1.0",
        to: LATEST,
        notes: [{ version: LATEST, notes: "New theme." }],
        warnings: [],
        policy: "patch"
      })
    )
  })

  it("Upgrade, remembering whether the running version was healthy", () => {
    expect(decide(running("1.0.0+1.0"), observed(true))).toEqual(
      Plan.Upgrade({ from: "1.0.0+1.0", to: LATEST, fromHealthy: true })
    )
    expect(decide(running("1.0.0+1.0"), observed(false))).toEqual(
      Plan.Upgrade({ from: "1.0.0+1.0", to: LATEST, fromHealthy: false })
    )
  })
})

describe("Plan.needsHealth", () => {
  const needs = (f: Facts, notes: Record<string, string> = {}) => needsHealth(f, classify(f), notesMap(notes))

  it("is true for a deployed app on the latest", () => {
    expect(needs(running(LATEST))).toBe(true)
  })

  it("is true for a candidate that passes the gate", () => {
    expect(needs(running("1.0.0+1.0"))).toBe(true)
  })

  it("is false for a candidate the gate holds", () => {
    expect(needs(running("1.0.0+1.0"), { "1.0.1+1.0": "manual step" })).toBe(false)
    expect(needs(running("1.0.0+1.0", { policy: "patch" }))).toBe(false)
    expect(needs(running(LATEST, { tags: [...TAGS, "2.0.0+2.0"] }))).toBe(false)
  })

  it("is false for fresh deploys, unknown versions and recipes without releases", () => {
    expect(needs(facts({ deployed: false }))).toBe(false)
    expect(needs(running("1.0.0+1.0", { deployed: false }))).toBe(false)
    expect(needs(facts())).toBe(false)
    expect(needs(running("garbage"))).toBe(false)
    expect(needs(running(LATEST, { tags: [] }))).toBe(false)
  })

  it("is false whenever the app is not deployed, whatever the stage", () => {
    const onLatest = expectStage(classify(running(LATEST)), "OnLatest")
    const passing = candidate(running("1.0.0+1.0"))
    expect(needsHealth(running(LATEST, { deployed: false }), Stage.OnLatest({ version: onLatest.version }), notesMap()))
      .toBe(false)
    expect(needsHealth(running("1.0.0+1.0", { deployed: false }), passing, notesMap())).toBe(false)
  })
})
