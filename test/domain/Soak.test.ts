import { describe, expect, it } from "@effect/vitest"
import { Duration, Option } from "effect"
import { classify, type Facts } from "../../src/domain/Plan.js"
import { describeSoaking, soaking } from "../../src/domain/Soak.js"

const DAY = 86_400_000
const NOW = Date.parse("2026-06-10T12:00:00Z")
const TAGS = ["1.1.0+1.1", "1.2.0+1.2", "1.3.0+1.3"]
const DATES = new Map([["1.1.0+1.1", NOW - 30 * DAY], ["1.2.0+1.2", NOW - 5 * DAY], ["1.3.0+1.3", NOW - 1 * DAY]])

describe("soaking", () => {
  it("a tag younger than the soak time soaks, with the time left; at exactly the age it has aged", () => {
    expect(soaking(TAGS, DATES, Duration.days(3), NOW)).toEqual([{ tag: "1.3.0+1.3", remainingMillis: 2 * DAY }])
    expect(soaking(TAGS, DATES, Duration.days(5), NOW)).toEqual([{ tag: "1.3.0+1.3", remainingMillis: 4 * DAY }])
    expect(soaking(TAGS, DATES, Duration.days(6), NOW).map((s) => s.tag)).toEqual(["1.2.0+1.2", "1.3.0+1.3"])
    expect(soaking(TAGS, DATES, Duration.zero, NOW)).toEqual([])
  })

  it("a tag without a date is not held back", () => {
    expect(soaking(["9.0.0+9.0"], DATES, Duration.days(3), NOW)).toEqual([])
  })

  it("says how long, rounded up", () => {
    expect(describeSoaking({ tag: "1.2", remainingMillis: 2 * DAY })).toBe("1.2 soaks for 2 more days")
    expect(describeSoaking({ tag: "1.2", remainingMillis: 1.2 * DAY })).toBe("1.2 soaks for 2 more days")
    expect(describeSoaking({ tag: "1.2", remainingMillis: DAY })).toBe("1.2 soaks for 1 more day")
    expect(describeSoaking({ tag: "1.2", remainingMillis: 3_600_000 * 5.5 })).toBe("1.2 soaks for 6 more hours")
    expect(describeSoaking({ tag: "1.2", remainingMillis: 1000 })).toBe("1.2 soaks for 1 more hour")
  })
})

describe("classify with releases soaking", () => {
  const facts = (soaking: ReadonlyArray<string>, current = "1.1.0+1.1"): Facts => ({
    deployed: true,
    current: Option.some(current),
    tags: TAGS,
    policy: "minor",
    soaking
  })

  it("a newer release soaking does not hide an older one that has aged", () => {
    const stage = classify(facts(["1.3.0+1.3"]))
    expect(stage._tag).toBe("Candidate")
    if (stage._tag === "Candidate") {
      expect(stage.to.tag).toBe("1.2.0+1.2")
      expect(stage.skipped.map((v) => v.tag)).toEqual(["1.2.0+1.2"])
    }
  })

  it("every newer release soaking: on the latest that has aged, nothing to upgrade", () => {
    expect(classify(facts(["1.2.0+1.2", "1.3.0+1.3"]))._tag).toBe("OnLatest")
    expect(classify(facts(["1.3.0+1.3"], "1.2.0+1.2"))._tag).toBe("OnLatest")
  })

  it("nothing soaking: the latest, as before", () => {
    const stage = classify(facts([]))
    expect(stage._tag === "Candidate" && stage.to.tag).toBe("1.3.0+1.3")
  })

  it("a fresh deploy is not held back", () => {
    const stage = classify({ ...facts(["1.3.0+1.3"]), deployed: false, current: Option.none() })
    expect(stage._tag === "FreshDeploy" && stage.version.tag).toBe("1.3.0+1.3")
  })
})
