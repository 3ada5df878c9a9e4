import { describe, expect, it } from "@effect/vitest"
import { Option } from "effect"
import { findMarker, migrationWarnings, NOTES_LIMIT, truncate } from "../../src/domain/ReleaseNotes.js"
import { parse, type Version } from "../../src/domain/Version.js"

const v = (tag: string): Version => Option.getOrThrowWith(parse(tag), () => new Error(`test tag ${tag} must parse`))

describe("ReleaseNotes.findMarker", () => {
  // The original's seven markers, each written in an odd case inside a sentence.
  const cases: ReadonlyArray<readonly [string, string]> = [
    ["Run the MANUAL Migration script before starting.", "MANUAL Migration"],
    ["Manual ACTION: rotate the admin password.", "Manual ACTION"],
    ["One manual STEP is needed for LDAP users.", "manual STEP"],
    ["ACTION required: re-index search.", "ACTION required"],
    ["Fix the config By Hand afterwards.", "By Hand"],
    ["You must MaNuAlLy delete the cache volume.", "MaNuAlLy"],
    ["## Breaking CHANGE\nThe env var was renamed.", "Breaking CHANGE"]
  ]

  for (const [notes, marker] of cases) {
    it(`finds "${marker}" and returns it as written`, () => {
      expect(findMarker(notes)).toBe(marker)
    })
  }

  it("finds nothing in notes without a marker", () => {
    for (
      const notes of [
        "",
        "Bump keycloak to 26.0.1. Fixes a login bug.",
        "The manual has been updated; a migration tool is planned.",
        "breaking\nchange split over two lines",
        "Handy new feature"
      ]
    ) {
      expect(findMarker(notes), notes).toBeUndefined()
    }
  })
})

describe("ReleaseNotes.migrationWarnings", () => {
  const versions = ["1.0.1+1.0", "1.1.0+1.1", "1.2.0+1.2", "1.3.0+1.3"].map(v)
  const notes = new Map([
    ["1.0.1+1.0", "Patch release, nothing to do."],
    ["1.1.0+1.1", "Postgres 16: a MANUAL STEP is needed, see the docs."],
    ["1.3.0+1.3", "Breaking change: the OIDC client was renamed."]
  ])

  it("names exactly the versions whose notes carry a marker, with their notes and marker", () => {
    expect(migrationWarnings(versions, (tag) => notes.get(tag))).toEqual([
      { version: "1.1.0+1.1", notes: "Postgres 16: a MANUAL STEP is needed, see the docs.", marker: "MANUAL STEP" },
      { version: "1.3.0+1.3", notes: "Breaking change: the OIDC client was renamed.", marker: "Breaking change" }
    ])
  })

  it("asks only for the versions it is given, and ignores those with no notes", () => {
    const asked: Array<string> = []
    const warnings = migrationWarnings([v("1.2.0+1.2")], (tag) => {
      asked.push(tag)
      return notes.get(tag)
    })
    expect(warnings).toEqual([])
    expect(asked).toEqual(["1.2.0+1.2"])
  })

  it("is empty for no versions", () => {
    expect(migrationWarnings([], () => "manually")).toEqual([])
  })
})

describe("ReleaseNotes.truncate", () => {
  it("keeps text up to the limit unchanged", () => {
    expect(truncate("short")).toBe("short")
    const exact = "x".repeat(NOTES_LIMIT)
    expect(truncate(exact)).toBe(exact)
  })

  it("cuts longer text at the limit and says how much was cut", () => {
    const text = "a".repeat(NOTES_LIMIT) + "b".repeat(25)
    expect(truncate(text)).toBe(`${"a".repeat(NOTES_LIMIT)}\n[... 25 more characters]`)
    expect(truncate("abcdefghij", 4)).toBe("abcd\n[... 6 more characters]")
  })

  it("uses the original's 4000-character limit", () => {
    expect(NOTES_LIMIT).toBe(4000)
  })
})
