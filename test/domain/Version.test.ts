import { describe, expect, it } from "@effect/vitest"
import { Either, Option, Schema } from "effect"
import {
  between,
  bump,
  isMajorBump,
  latest,
  order,
  parse,
  sortTags,
  type Version,
  VersionFromTag
} from "../../src/domain/Version.js"

const v = (tag: string): Version => Option.getOrThrowWith(parse(tag), () => new Error(`test tag ${tag} must parse`))
const tags = (versions: ReadonlyArray<Version>) => versions.map((x) => x.tag)

describe("Version.parse", () => {
  it("reads the recipe semver and the app version of real tags", () => {
    expect(v("10.7.1+26.6.2")).toMatchObject({
      tag: "10.7.1+26.6.2",
      recipe: [10, 7, 1],
      app: [26, 6, 2],
      prerelease: false
    })
    expect(v("3.2.0+2.20.6")).toMatchObject({ recipe: [3, 2, 0], app: [2, 20, 6], prerelease: false })
    // The original's _numtuple: the leading digits of each part, so "5-social-amd64" counts as 5.
    expect(v("1.0.0+1.0.5-social-amd64")).toMatchObject({ recipe: [1, 0, 0], app: [1, 0, 5], prerelease: false })
    // A part with no leading digits counts as 0, as in the original.
    expect(v("1.0.0+a.7")).toMatchObject({ app: [0, 7] })
  })

  it("reads a tag without an app part as an empty app tuple", () => {
    expect(v("2.1")).toMatchObject({ tag: "2.1", recipe: [2, 1], app: [], prerelease: false })
  })

  it("marks a suffix on the recipe part as a pre-release", () => {
    expect(v("1.2.0-rc1+1.2")).toMatchObject({ recipe: [1, 2, 0], app: [1, 2], prerelease: true })
    expect(v("1.2.0-beta.2")).toMatchObject({ recipe: [1, 2, 0], app: [], prerelease: true })
    // A hyphen inside the app part is not a pre-release of the recipe.
    expect(v("1.0.0+1.0.5-social-amd64").prerelease).toBe(false)
  })

  it("trims surrounding whitespace, as the original stripped tags", () => {
    expect(v("  1.0.0+1.2\n").tag).toBe("1.0.0+1.2")
  })

  it("returns None, never throws, for anything that is not a version tag", () => {
    const junk = [
      "latest",
      "v2",
      "v1.0.0",
      "",
      "   ",
      "\t\n",
      "1.0.0+",
      "+1.0",
      "1..0",
      "1.0.",
      ".1.0",
      "1.0.0-",
      "1.0.0+1 2",
      "release/1.0.0",
      "1".repeat(150) + "." + "2".repeat(149), // 300 characters of digits and a dot
      "1.0.0+" + "9".repeat(294), // 300 characters, otherwise a valid tag
      "١.٢.٣", // Arabic-Indic digits are not ASCII version numbers
      "１.０.０", // full-width digits
      "😀",
      "1.0.0😀",
      "\u0000",
      "1.0.0\u0000",
      "\u00001.0.0",
      // Characters a shell would act on, should anyone source the env file abra pins the tag into.
      "1.1.1+1.1;id>x",
      "1.0.0+$(reboot)",
      "1.0.0+`id`",
      "1.0.0+1.0|sh",
      "1.0.0+1.0&",
      "1.0.0+'a'",
      "1.0.0+a\nb",
      "1.0.0+1.0/../x",
      "1.0.0+ü"
    ]
    for (const tag of junk) {
      expect(Option.isNone(parse(tag)), JSON.stringify(tag)).toBe(true)
    }
  })

  it("VersionFromTag decodes to a Version, encodes back to the tag and fails on non-strings", () => {
    const decoded = Schema.decodeUnknownEither(VersionFromTag)("10.7.1+26.6.2")
    expect(Either.isRight(decoded) && decoded.right.app).toEqual([26, 6, 2])
    expect(Schema.encodeSync(VersionFromTag)(v("3.2.0+2.20.6"))).toBe("3.2.0+2.20.6")
    for (const input of [1, null, undefined, {}, ["1.0.0"]]) {
      expect(Either.isLeft(Schema.decodeUnknownEither(VersionFromTag)(input))).toBe(true)
    }
    const junk = Schema.decodeUnknownEither(VersionFromTag)("latest")
    expect(Either.isLeft(junk) && junk.left.message).toContain("not a version tag")
  })
})

describe("Version.order", () => {
  const cmp = (a: string, b: string) => order(v(a), v(b))

  it("compares numbers, not text", () => {
    expect(cmp("1.10.0+1", "1.9.0+1")).toBe(1)
    expect(cmp("1.0.0+1.10", "1.0.0+1.9")).toBe(1)
    expect(cmp("10.7.1+26.6.2", "9.99.99+99.0")).toBe(1)
  })

  it("compares recipe numbers first, app numbers only on a tie", () => {
    expect(cmp("1.0.1+1.0", "1.0.0+99.0")).toBe(1)
    expect(cmp("1.0.0+2.0", "1.0.0+1.9")).toBe(1)
  })

  it("compares tuples as Python does: a strict prefix comes first", () => {
    // (1, 0) < (1, 0, 0)
    expect(cmp("1.0+1", "1.0.0+1")).toBe(-1)
    expect(cmp("1.0.0+1.0", "1.0.0+1")).toBe(1)
    expect(cmp("1.0.0", "1.0.0+0")).toBe(-1)
  })

  it("puts a pre-release just before the release with the same numbers", () => {
    expect(cmp("1.2.0-rc1+1.2", "1.2.0+1.2")).toBe(-1)
    expect(cmp("1.2.0-rc1+1.2", "1.1.0+1.1")).toBe(1)
  })

  it("is 0 only for the same tag, so distinct tags with equal numbers still have an order", () => {
    expect(cmp("1.0.0+1.0", "1.0.0+1.0")).toBe(0)
    expect(cmp("1.0.0+01.0", "1.0.0+1.0")).not.toBe(0)
    expect(cmp("1.0.0+01.0", "1.0.0+1.0")).toBe(-cmp("1.0.0+1.0", "1.0.0+01.0"))
  })
})

describe("Version.sortTags", () => {
  it("sorts ascending by numbers, drops junk and duplicates", () => {
    const sorted = sortTags([
      "latest",
      "1.10.0+1",
      "1.9.0+1",
      "1.9.0+1",
      " 1.9.0+1 ",
      "v2",
      "",
      "1.0.0+1.10",
      "1.0.0+1.9"
    ])
    expect(tags(sorted)).toEqual(["1.0.0+1.9", "1.0.0+1.10", "1.9.0+1", "1.10.0+1"])
  })

  it("returns an empty list for no tags or only junk", () => {
    expect(sortTags([])).toEqual([])
    expect(sortTags(["latest", "main", "v1"])).toEqual([])
  })

  it("accepts any iterable", () => {
    expect(tags(sortTags(new Set(["2.0.0+1", "1.0.0+1"])))).toEqual(["1.0.0+1", "2.0.0+1"])
  })
})

describe("Version.latest", () => {
  it("is the highest release", () => {
    const versions = sortTags(["1.0.0+1.0", "1.10.0+1.0", "1.9.0+1.0"])
    expect(Option.map(latest(versions), (x) => x.tag)).toEqual(Option.some("1.10.0+1.0"))
  })

  it("never picks a pre-release, even one that sorts highest", () => {
    const versions = sortTags(["1.0.0+1.0", "1.1.0+1.1", "2.0.0-rc1+2.0", "1.1.1-beta+1.1"])
    expect(order(versions.at(-1)!, v("1.1.0+1.1"))).toBe(1)
    expect(Option.map(latest(versions), (x) => x.tag)).toEqual(Option.some("1.1.0+1.1"))
  })

  it("does not depend on the input order", () => {
    expect(Option.map(latest([v("1.1.0+1"), v("3.0.0+1"), v("2.0.0+1")]), (x) => x.tag)).toEqual(Option.some("3.0.0+1"))
  })

  it("is None with no versions or only pre-releases", () => {
    expect(Option.isNone(latest([]))).toBe(true)
    expect(Option.isNone(latest([v("1.0.0-rc1+1"), v("2.0.0-rc2")]))).toBe(true)
  })
})

describe("Version.bump", () => {
  const b = (from: string, to: string) => bump(v(from), v(to))

  it("is major when the recipe major goes up", () => {
    expect(b("1.5.0+26.0.0", "2.0.0+26.0.0")).toBe("major")
    expect(b("1.9.9+1.0", "2.0.0+1.0")).toBe("major")
  })

  it("is major when the app major goes up, whatever the recipe does", () => {
    // keycloak 25 -> 26: when manual database migrations happen.
    expect(b("10.7.1+25.0.6", "10.7.2+26.0.0")).toBe("major")
    expect(b("1.0.0+1.0.0", "1.0.1+2.0.0")).toBe("major")
  })

  it("is minor when either minor goes up within the same major", () => {
    expect(b("1.0.0+1.0", "1.1.0+1.0")).toBe("minor")
    expect(b("1.0.0+1.0", "1.0.1+1.1")).toBe("minor")
    // The recipe minor counts even when the app minor goes down.
    expect(b("1.1.0+2.5", "1.2.0+2.4")).toBe("minor")
  })

  it("is patch for any other forward step", () => {
    expect(b("1.0.0+1.0.0", "1.0.1+1.0.1")).toBe("patch")
    expect(b("1.0.0+1.0.0", "1.0.0+1.0.1")).toBe("patch")
    expect(b("1.1.0-rc1+1.1", "1.1.0+1.1")).toBe("patch")
  })

  it("is none for the same version and for a step backwards", () => {
    expect(b("1.1.0+1.1", "1.1.0+1.1")).toBe("none")
    expect(b("1.1.0+1.1", "1.0.0+1.0")).toBe("none")
    expect(b("1.1.0+1.1", "1.1.0-rc1+1.1")).toBe("none")
    expect(b("2.0.0+1.0", "1.9.0+1.0")).toBe("none")
  })

  it("isMajorBump agrees with bump", () => {
    expect(isMajorBump(v("1.0.0+1.0"), v("1.0.0+2.0"))).toBe(true)
    expect(isMajorBump(v("1.0.0+1.0"), v("1.1.0+1.1"))).toBe(false)
  })
})

describe("Version.between", () => {
  const versions = sortTags(["1.0.0+1", "1.1.0+1", "1.2.0-rc1+1", "1.2.0+1", "1.3.0+1", "1.4.0+1"])

  it("excludes from, includes to and the pre-releases in the range", () => {
    expect(tags(between(versions, v("1.0.0+1"), v("1.3.0+1")))).toEqual([
      "1.1.0+1",
      "1.2.0-rc1+1",
      "1.2.0+1",
      "1.3.0+1"
    ])
  })

  it("works for a from that is not one of the versions", () => {
    expect(tags(between(versions, v("1.1.5+1"), v("1.2.0+1")))).toEqual(["1.2.0-rc1+1", "1.2.0+1"])
  })

  it("is empty when from is not below to", () => {
    expect(between(versions, v("1.3.0+1"), v("1.3.0+1"))).toEqual([])
    expect(between(versions, v("1.4.0+1"), v("1.1.0+1"))).toEqual([])
  })
})
