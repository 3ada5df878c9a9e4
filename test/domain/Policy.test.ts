import { describe, expect, it } from "@effect/vitest"
import { Either, Schema } from "effect"
import { allows, UpgradePolicy } from "../../src/domain/Policy.js"
import type { Bump } from "../../src/domain/Version.js"

describe("Policy.allows", () => {
  // Majors are never applied automatically; "none" never applies anything.
  const table: ReadonlyArray<readonly [UpgradePolicy, Bump, boolean]> = [
    ["minor", "major", false],
    ["minor", "minor", true],
    ["minor", "patch", true],
    ["minor", "none", false],
    ["patch", "major", false],
    ["patch", "minor", false],
    ["patch", "patch", true],
    ["patch", "none", false],
    ["none", "major", false],
    ["none", "minor", false],
    ["none", "patch", false],
    ["none", "none", false]
  ]

  for (const [policy, bump, expected] of table) {
    it(`${policy} ${expected ? "allows" : "holds"} a ${bump} bump`, () => {
      expect(allows(policy, bump)).toBe(expected)
    })
  }
})

describe("Policy.UpgradePolicy", () => {
  it("accepts exactly minor, patch and none", () => {
    for (const p of ["minor", "patch", "none"]) {
      expect(Either.isRight(Schema.decodeUnknownEither(UpgradePolicy)(p))).toBe(true)
    }
    for (const p of ["major", "Minor", "", null, 1]) {
      expect(Either.isLeft(Schema.decodeUnknownEither(UpgradePolicy)(p))).toBe(true)
    }
  })
})
