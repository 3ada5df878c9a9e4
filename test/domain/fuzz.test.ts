/**
 * Bad input, fuzzed: the config (decoded, and loaded from a file's text), the env file (parsed, and
 * read by the live Apps layer), version tags and release notes. Whatever the input (unicode, NUL,
 * CRLF, 100 kB lines, files of megabytes), each answers a value or its own typed error: never a
 * thrown exception, never a defect, and an error message is one line of bounded length.
 * properties.test.ts and EnvFile.test.ts already cover order, sorting and round trips of valid input.
 */
import { FileSystem } from "@effect/platform"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Either, Exit, Layer, Option, Schema } from "effect"
import fc from "fast-check"
import * as Path from "node:path"
import * as ConfigFile from "../../src/cli/ConfigFile.js"
import { AppConfig, type AppName, appSpec, ConfigError, decodeConfig } from "../../src/domain/Config.js"
import * as EnvFile from "../../src/domain/EnvFile.js"
import { findMarker, MIGRATION_MARKERS, migrationWarnings, truncate } from "../../src/domain/ReleaseNotes.js"
import { parse as parseTag, sortTags, VersionFromTag } from "../../src/domain/Version.js"
import * as LiveApps from "../../src/live/Apps.js"
import { Apps } from "../../src/services/Apps.js"
import { ProcessRunner } from "../../src/services/ProcessRunner.js"

// ---------------------------------------------------------------------------------------------
// Counting, and the checks every parser shares
// ---------------------------------------------------------------------------------------------

const cases = new Map<string, number>()
const count = (parser: string) => cases.set(parser, (cases.get(parser) ?? 0) + 1)

afterAll(() => {
  const total = [...cases.values()].reduce((a, b) => a + b, 0)
  console.log(`fuzz cases run: ${[...cases].map(([p, n]) => `${p} ${n}`).join(", ")} (total ${total})`)
})

/** One line an operator can read: nothing that ends or breaks a line, and not megabytes long. */
const expectOneLine = (message: string) => {
  expect(message).not.toMatch(/[\n\r\0\u2028\u2029]/)
  expect(message.length).toBeLessThan(2_000)
}

/** The Exit holds a value or exactly one typed failure tagged `tag`: no defect, no interruption. */
const typedOrSuccess = <A, E extends { readonly _tag: string }>(exit: Exit.Exit<A, E>, tag: E["_tag"]) => {
  if (Exit.isSuccess(exit)) return Either.right(exit.value)
  expect(Cause.isFailType(exit.cause), `not a single typed failure: ${Cause.pretty(exit.cause)}`).toBe(true)
  const error = Option.getOrThrow(Cause.failureOption(exit.cause))
  expect(error._tag).toBe(tag)
  return Either.left(error)
}

// ---------------------------------------------------------------------------------------------
// Input generators
// ---------------------------------------------------------------------------------------------

/** Characters that parsers trip on: line ends, NUL, blanks that String.trim takes, quotes, syntax. */
const nasty = fc.constantFrom(
  "\0",
  "\r",
  "\n",
  "\r\n",
  "\t",
  " ",
  "\u00a0",
  "\u2028",
  "\ufeff",
  "\u0085",
  "é",
  "😀",
  "\ud800",
  "١",
  "=",
  "#",
  "\"",
  "'",
  "\\",
  "$",
  "{",
  "}",
  "[",
  "]",
  ":",
  ",",
  "A",
  "_",
  "1",
  ".",
  "+",
  "-",
  "/",
  "..",
  "export "
)

const text = fc.oneof(
  fc.string({ unit: "binary", maxLength: 300 }),
  fc.string({ unit: "grapheme", maxLength: 100 }),
  fc.string({ unit: nasty, maxLength: 200 })
)

/** A line of about 100 kB: some prefix, one short piece repeated, some suffix. */
const longLine = fc
  .record({ prefix: text, piece: fc.string({ unit: nasty, minLength: 1, maxLength: 6 }), suffix: text })
  .map(({ piece, prefix, suffix }) => prefix + piece.repeat(Math.ceil(100_000 / piece.length)) + suffix)

/** Text of a few megabytes: a generated chunk repeated, with CRLF or LF line ends. */
const hugeText = fc
  .record({ chunk: fc.array(text, { minLength: 1, maxLength: 8 }), eol: fc.constantFrom("\n", "\r\n") })
  .map(({ chunk, eol }) => {
    const block = chunk.join(eol) + eol
    return block.repeat(Math.ceil(3_000_000 / Math.max(block.length, 1)))
  })

/** JSON text with one character inserted, replaced or removed somewhere: V8 quotes the text around the error. */
const corruptJson = fc
  .record({
    json: fc.json({ maxDepth: 4 }),
    at: fc.nat(),
    insert: fc.string({ unit: nasty, maxLength: 3 }),
    cut: fc.nat(2)
  })
  .map(({ at, cut, insert, json }) => {
    const i = at % (json.length + 1)
    return json.slice(0, i) + insert + json.slice(i + cut)
  })

const anything = fc.anything({
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withNullPrototype: true,
  withObjectString: true,
  withSet: true,
  withSparseArray: true,
  withTypedArray: true,
  withUnicodeString: true
})

// ---------------------------------------------------------------------------------------------
// Config
// ---------------------------------------------------------------------------------------------

const SOURCE = "/fuzz/config.json"

/** `ConfigFile.load` over `text` as the file's content (no disk: only the read is stubbed). */
const loadText = (text: string) =>
  Effect.runPromiseExit(
    ConfigFile.load(Option.some(SOURCE)).pipe(
      Effect.provide(FileSystem.layerNoop({ readFileString: () => Effect.succeed(text) }))
    )
  )

const checkLoad = async (parser: string, input: string) => {
  count(parser)
  const result = typedOrSuccess(await loadText(input), "ConfigError")
  if (Either.isLeft(result)) {
    expect(result.left).toBeInstanceOf(ConfigError)
    expect(result.left.message.startsWith(`${SOURCE}: `)).toBe(true)
    expectOneLine(result.left.message)
  }
}

const checkDecode = (input: unknown) => {
  count("decodeConfig")
  const result = decodeConfig(input, "fuzz.json")
  if (Either.isLeft(result)) {
    expect(result.left._tag).toBe("ConfigError")
    expect(result.left.message.startsWith("fuzz.json: ")).toBe(true)
    expectOneLine(result.left.message)
  }
  return result
}

/** Every field set, valid: the base each structured mutation starts from. */
const validConfig = {
  stateDir: "/var/lib/warm-reconcile",
  abraDir: "/root/.abra",
  apps: {
    kc: {
      recipe: "keycloak",
      domain: "id.example.org",
      server: "default",
      stateful: true,
      upgrade: "minor",
      deployTimeout: "15 minutes",
      health: {
        path: "/",
        okStatus: [200, 204],
        connect: "127.0.0.1:443",
        url: null,
        verifyTls: false,
        timeout: 900,
        attemptTimeout: "10 seconds",
        successes: 2,
        interval: "500 millis",
        failedTasks: 3,
        settle: "60 seconds"
      }
    }
  }
}

type Key = string | number
const objectsAt: ReadonlyArray<ReadonlyArray<Key>> = [[], ["apps", "kc"], ["apps", "kc", "health"]]
const fieldPaths: ReadonlyArray<ReadonlyArray<Key>> = [
  ["stateDir"],
  ["abraDir"],
  ["apps"],
  ["apps", "kc"],
  ...Object.keys(validConfig.apps.kc).map((k) => ["apps", "kc", k]),
  ...Object.keys(validConfig.apps.kc.health).map((k) => ["apps", "kc", "health", k]),
  ["apps", "kc", "health", "okStatus", 0]
]
const required: ReadonlyArray<ReadonlyArray<Key>> = [["apps"], ["apps", "kc", "recipe"], ["apps", "kc", "domain"]]

/** As ConfigError.path shows a path. */
const shown = (path: ReadonlyArray<Key>) =>
  path.length === 0
    ? "(top level)"
    : path.map((k, i) => typeof k === "number" ? `[${k}]` : `${i ? "." : ""}${k}`).join("")

/** A copy of the valid config with `path` set to `value` (an own property, also for `__proto__`) or deleted. */
const mutate = (path: ReadonlyArray<Key>, change: { readonly value: unknown } | "delete"): unknown => {
  const copy = structuredClone(validConfig) as Record<Key, unknown>
  const parent = path.slice(0, -1).reduce<Record<Key, unknown>>((o, k) => o[k] as Record<Key, unknown>, copy)
  const key = path[path.length - 1]!
  if (change === "delete") delete parent[key]
  else Object.defineProperty(parent, key, { value: change.value, enumerable: true, writable: true, configurable: true })
  return copy
}

/** Values of every wrong type, and some right ones, for any key. */
const junk = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  anything,
  fc.constantFrom(-1, 0, 1.5, 1e308, -0, "", "-1 seconds", "1e400 seconds", "15 fortnights", "/", "ftp://x", [], {}),
  fc.string({ unit: nasty, maxLength: 50 }),
  fc.integer({ min: 1, max: 60 }).map((depth) => JSON.parse("[".repeat(depth) + "]".repeat(depth)) as unknown)
)

describe("config: decodeConfig and ConfigFile.load", { timeout: 120_000 }, () => {
  it("the base of the structured fuzz is valid", () => {
    expect(Either.isRight(decodeConfig(validConfig))).toBe(true)
  })

  it("decodeConfig: any JavaScript value is a Config or a one-line ConfigError", () => {
    fc.assert(fc.property(anything, (input) => void checkDecode(input)), { numRuns: 1500 })
  })

  it("a wrong value at any key is refused with a path that names that key", () => {
    fc.assert(
      fc.property(fc.constantFrom(...fieldPaths), junk, (path, value) => {
        const result = checkDecode(mutate(path, { value }))
        // Some junk is a fine value for the key (a boolean for verifyTls, {} for apps); nothing else.
        if (Either.isLeft(result)) expect(result.left.path.startsWith(shown(path)), result.left.message).toBe(true)
      }),
      { numRuns: 2000 }
    )
  })

  it("an extra key, whatever its name and value, is refused by its path; a missing required key too", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...objectsAt),
        fc.oneof(text, fc.constantFrom("__proto__", "constructor")),
        junk,
        (at, key, value) => {
          fc.pre(
            !Object.hasOwn(
              at.length === 0 ? validConfig : at.length === 2 ? validConfig.apps.kc : validConfig.apps.kc.health,
              key
            )
          )
          const result = checkDecode(mutate([...at, key], { value }))
          expect(Either.isLeft(result)).toBe(true)
          // Junk nested past the depth limit is refused for that first, under the same path.
          if (Either.isLeft(result)) {
            expect(result.left.path.startsWith(shown([...at, key]))).toBe(true)
            expect(result.left.message).toMatch(/is unexpected|nested more than 32 levels deep/)
          }
        }
      ),
      { numRuns: 1500 }
    )
    for (const path of required) {
      const result = checkDecode(mutate(path, "delete"))
      expect(Either.isLeft(result) && result.left.path).toBe(shown(path))
    }
  })

  it("a million levels deep, millions wide, a cycle or a BigInt at any key is a ConfigError, and quick", () => {
    const deep = JSON.parse("[".repeat(1_000_000) + "]".repeat(1_000_000)) as unknown
    // 3 million empty arrays: what 9 MB of JSON makes. Formatting it for the message took minutes.
    const wide = JSON.parse(`[${"[],".repeat(3_000_000)}[]]`) as unknown
    const cycle: Record<string, unknown> = { a: 1 }
    cycle["self"] = cycle
    const started = Date.now()
    for (const path of fieldPaths) {
      for (const value of [deep, wide, cycle, 10n, [10n]]) {
        const result = checkDecode(mutate(path, { value }))
        // No key takes any of these (okStatus takes numbers, not BigInts): each is refused where it is.
        expect(Either.isLeft(result) && result.left.path.startsWith(shown(path)), shown(path)).toBe(true)
      }
    }
    expect(Date.now() - started).toBeLessThan(20_000)
    const result = checkDecode(deep)
    expect(Either.isLeft(result) && result.left.message).toMatch(/nested more than 32 levels deep/)
    const big = checkDecode(wide)
    expect(Either.isLeft(big) && big.left.message).toMatch(/\(top level\): more than 100000 values/)
  })

  it("ConfigFile.load: any text (binary, unicode, NUL, CRLF, corrupted JSON) is a Config or a one-line ConfigError", async () => {
    await fc.assert(fc.asyncProperty(fc.oneof(text, corruptJson), (input) => checkLoad("ConfigFile.load", input)), {
      numRuns: 1500
    })
  })

  it("ConfigFile.load: lines of 100 kB and files of megabytes, in JSON or not", async () => {
    const inJson = (s: string) => `{"apps": {"kc": {"recipe": "keycloak", "domain": ${JSON.stringify(s)}}}}`
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(longLine, longLine.map(inJson)),
        (input) => checkLoad("ConfigFile.load (100 kB)", input)
      ),
      { numRuns: 60 }
    )
    await fc.assert(
      fc.asyncProperty(fc.oneof(hugeText, hugeText.map(inJson)), (input) => checkLoad("ConfigFile.load (3 MB)", input)),
      { numRuns: 6 }
    )
  })

  it("ConfigFile.load: a NUL or a newline inside a JSON string or key is escaped in the one line", async () => {
    for (
      const [input, expected] of [
        ["not\njson\0", /not valid JSON: .*not\\njson\\u0000/],
        [
          `{"apps": {"a\\nb": {"recipe": "keycloak", "domain": "id.example.org"}}}`,
          /apps\.a\\nb: not a valid app name/
        ],
        [`{"apps": {}, "x\\u0000\\r": 1}`, /x\\u0000\\r: is unexpected/]
      ] as const
    ) {
      const error = typedOrSuccess(await loadText(input), "ConfigError")
      expect(Either.isLeft(error) && error.left.message).toMatch(expected)
    }
  })
})

describe("app names", { timeout: 120_000 }, () => {
  const withName = (name: string) => ({ apps: { [name]: { recipe: "keycloak", domain: "id.example.org" } } })

  it("refuses every name holding '/', '..', an absolute path, a NUL, nothing, or too much", () => {
    const refused = [
      "/",
      "a/b",
      "kc/",
      "/etc",
      "/var/lib/warm-reconcile",
      "..",
      "../x",
      "../../etc/passwd",
      "a..b",
      "x/../y",
      ".",
      ".hidden",
      "kc\0",
      "\0",
      "",
      " kc",
      "kc\n",
      "a\\b",
      "-rf",
      "x".repeat(129),
      "x".repeat(100_000),
      "😀",
      "ké"
    ]
    for (const name of refused) {
      const result = checkDecode(withName(name))
      expect(Either.isLeft(result), JSON.stringify(name.slice(0, 40))).toBe(true)
      if (Either.isLeft(result)) {
        expect(result.left.path).toBe(`apps.${name}`)
        expect(result.left.message).toContain("not a valid app name")
      }
    }
  })

  it("any name the schema accepts is one plain file name under the state directory", () => {
    const name = fc.oneof(
      text,
      fc.string({ unit: fc.constantFrom("a", "Z", "0", ".", "_", "-", "/", "\0", "\\"), maxLength: 140 })
    )
    fc.assert(
      fc.property(name, (n) => {
        const result = checkDecode(withName(n))
        const safe = n.length >= 1 && n.length <= 128 && !/[/\\\0]/.test(n) && !n.includes("..") &&
          /^[A-Za-z0-9]/.test(n)
        expect(Either.isRight(result)).toBe(safe && /^[A-Za-z0-9_.-]+$/.test(n))
        if (Either.isRight(result)) {
          const root = "/var/lib/warm-reconcile"
          expect(Path.dirname(Path.join(root, n))).toBe(root)
          expect(Path.basename(Path.join(root, n))).toBe(n)
        }
      }),
      { numRuns: 2000 }
    )
  })

  it("the CLI's lookup answers only configured apps, never Object's own methods", () => {
    const config = decodeConfig(withName("kc"))
    if (Either.isLeft(config)) throw new Error(config.left.message)
    const loaded: ConfigFile.LoadedConfig = { path: SOURCE, config: config.right, abraDir: "/root/.abra" }
    for (const name of ["toString", "constructor", "hasOwnProperty", "__proto__", "valueOf", "../kc", "kc\n"]) {
      const exit = Effect.runSyncExit(ConfigFile.findApp(loaded, name))
      const error = typedOrSuccess(exit, "ConfigError")
      expect(Either.isLeft(error) && error.left.message).toContain("no app")
      if (Either.isLeft(error)) expectOneLine(error.left.message)
    }
    expect(Effect.runSync(ConfigFile.findApp(loaded, "kc")).name).toBe("kc")
  })
})

// ---------------------------------------------------------------------------------------------
// Env file
// ---------------------------------------------------------------------------------------------

const checkEnv = (parser: string, input: string) => {
  count(parser)
  const result = EnvFile.parse(input)
  if (Either.isRight(result)) {
    expect(EnvFile.render(result.right)).toBe(input)
  } else {
    expect(result.left._tag).toBe("EnvFileError")
    expect(result.left.line).toBeGreaterThanOrEqual(1)
    expect(result.left.line).toBeLessThanOrEqual(input.split("\n").length)
    expectOneLine(result.left.message)
  }
  return result
}

const goodLines: fc.Arbitrary<string> = fc.constantFrom(
  "TYPE=keycloak:1.0.0+1.0",
  "DOMAIN=id.example.org",
  "# comment with ünïcödé and \"quotes\"",
  "",
  "SECRET_ADMIN_PASSWORD_VERSION=v1 # length=32",
  "  INDENTED = 'single' # c",
  "QUOTED=\"a \\\" b\"",
  "EMPTY=",
  "#DISABLED=1"
)
const badLines: fc.Arbitrary<string> = fc.constantFrom(
  "export A=1",
  "just text",
  "1A=x",
  "A=\"unclosed",
  "A='unclosed",
  "A=\"x\"junk",
  "A=1\0",
  "A=1\rB=2",
  "=value",
  "KEY WITH SPACE=1"
)

describe("env file: EnvFile.parse and the live Apps.readEnv", { timeout: 120_000 }, () => {
  it("parse: any text is a file that renders back byte for byte, or an EnvFileError on a real line", () => {
    fc.assert(
      fc.property(fc.oneof(text, fc.array(text, { maxLength: 20 }).map((l) => l.join("\r\n"))), (input) => {
        checkEnv("EnvFile.parse", input)
      }),
      { numRuns: 2000 }
    )
  })

  it("parse: lines of 100 kB and files of megabytes", () => {
    fc.assert(fc.property(longLine, (input) => void checkEnv("EnvFile.parse (100 kB)", input)), { numRuns: 60 })
    fc.assert(fc.property(hugeText, (input) => void checkEnv("EnvFile.parse (3 MB)", input)), { numRuns: 6 })
  })

  it("parse: one bad line among thousands, LF or CRLF, is reported with its own line number", () => {
    fc.assert(
      fc.property(
        fc.array(goodLines, { minLength: 1, maxLength: 3000 }),
        fc.option(fc.tuple(fc.nat(), badLines), { nil: undefined }),
        fc.constantFrom("\n", "\r\n"),
        (lines, bad, eol) => {
          const all = [...lines]
          if (bad !== undefined) all.splice(bad[0] % (lines.length + 1), 0, bad[1])
          const result = checkEnv("EnvFile.parse (located)", all.join(eol) + eol)
          expect(Either.isLeft(result)).toBe(bad !== undefined)
          if (bad !== undefined && Either.isLeft(result)) {
            expect(result.left.line).toBe((bad[0] % (lines.length + 1)) + 1)
          }
        }
      ),
      { numRuns: 300 }
    )
  })

  // The live layer over a stubbed file system: the text is what a file on disk would hold.
  const spec = appSpec("kc" as AppName, AppConfig.make({ recipe: "keycloak", domain: "id.example.org" } as never))
  const noProcesses = Layer.succeed(
    ProcessRunner,
    ProcessRunner.of({
      run: () => Effect.die("readEnv ran a process"),
      exec: () => Effect.die("readEnv ran a process")
    })
  )
  const readEnv = (content: string) =>
    Effect.runPromiseExit(
      Effect.flatMap(Apps, (apps) => apps.readEnv(spec)).pipe(
        Effect.provide(LiveApps.layer({ abraDir: "/fuzz/abra" })),
        Effect.provide(noProcesses),
        Effect.provide(FileSystem.layerNoop({ readFileString: () => Effect.succeed(content) }))
      )
    )

  it("Apps.readEnv: any content is an env (pinned version, secrets) or a one-line AbraError naming the file", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(text, fc.array(fc.oneof(goodLines, badLines, text), { maxLength: 30 }).map((l) => l.join("\n"))),
        async (input) => {
          count("Apps.readEnv")
          const result = typedOrSuccess(await readEnv(input), "AbraError")
          expect(Either.isLeft(result)).toBe(Either.isLeft(EnvFile.parse(input)))
          if (Either.isLeft(result)) {
            expect(result.left.operation).toBe("env read")
            expect(result.left.message).toContain("/fuzz/abra/servers/default/id.example.org.env: ")
            expectOneLine(result.left.message)
          } else {
            expect(Option.isSome(result.right)).toBe(true)
          }
        }
      ),
      { numRuns: 1000 }
    )
  })
})

// ---------------------------------------------------------------------------------------------
// Version tags
// ---------------------------------------------------------------------------------------------

const decodeTag = Schema.decodeUnknownEither(VersionFromTag)
const asciiBlank = /[\t\n\v\f\r ]/

const checkTag = (parser: string, input: string) => {
  count(parser)
  const result = decodeTag(input)
  if (Either.isLeft(result)) {
    expect(result.left._tag).toBe("ParseError")
  } else {
    const { tag } = result.right
    // The version names the tag as git lists it: only ASCII blanks around it are dropped.
    const at = input.indexOf(tag)
    expect(at).toBeGreaterThanOrEqual(0)
    expect([...input.slice(0, at), ...input.slice(at + tag.length)].every((c) => asciiBlank.test(c))).toBe(true)
    expect(tag).toMatch(/^\d/)
    expect(tag.length).toBeLessThanOrEqual(256)
  }
  return result
}

const tagLike = fc
  .array(fc.oneof(fc.constantFrom("1", "0", "10", ".", "+", "-", "rc1"), nasty), { maxLength: 12 })
  .map((parts) => parts.join(""))

describe("version tags: VersionFromTag and sortTags", { timeout: 120_000 }, () => {
  it("any string is a version naming a tag that exists, or a ParseError; a non-string is a ParseError", () => {
    fc.assert(fc.property(fc.oneof(text, tagLike), (input) => void checkTag("VersionFromTag", input)), {
      numRuns: 2000
    })
    fc.assert(
      fc.property(anything.filter((x) => typeof x !== "string"), (input) => {
        count("VersionFromTag (non-string)")
        const result = decodeTag(input)
        expect(Either.isLeft(result) && result.left._tag).toBe("ParseError")
      }),
      { numRuns: 500 }
    )
  })

  it("a tag with a no-break space, BOM or other Unicode blank around it is not a version", () => {
    for (const blank of ["\u00a0", "\ufeff", "\u2003", "\u3000", "\u2028"]) {
      for (const input of [`1.5.0${blank}`, `${blank}1.5.0`, `1.5.0+1.5${blank}`]) {
        expect(Option.isNone(parseTag(input)), JSON.stringify(input)).toBe(true)
      }
    }
    expect(Option.map(parseTag("  1.5.0+1.5\r\n"), (v) => v.tag)).toEqual(Option.some("1.5.0+1.5"))
  })

  it("lines of 100 kB, and git output of megabytes, parse in linear time", () => {
    fc.assert(fc.property(longLine, (input) => void checkTag("VersionFromTag (100 kB)", input)), { numRuns: 60 })
    fc.assert(
      fc.property(hugeText, (output) => {
        count("sortTags (3 MB)")
        const started = Date.now()
        const lines = output.split("\n")
        const versions = sortTags(lines)
        // Lines here are short: a regex trim is fine as the reference.
        const trimmed = (l: string) => l.replace(/^[\t\n\v\f\r ]+/, "").replace(/[\t\n\v\f\r ]+$/, "")
        for (const v of versions) expect(lines.some((l) => trimmed(l) === v.tag)).toBe(true)
        expect(Date.now() - started).toBeLessThan(15_000)
      }),
      { numRuns: 4 }
    )
    // Blank runs are where a careless trim goes quadratic.
    const blanks = `${" ".repeat(1_000_000)}x${" ".repeat(1_000_000)}`
    const started = Date.now()
    expect(Either.isLeft(checkTag("VersionFromTag (2 MB of blanks)", blanks))).toBe(true)
    expect(Date.now() - started).toBeLessThan(10_000)
  })
})

// ---------------------------------------------------------------------------------------------
// Release notes
// ---------------------------------------------------------------------------------------------

const wholeMarker = new RegExp(`^(?:${MIGRATION_MARKERS.source})$`, "i")
const markers = fc.constantFrom(
  "manual migration",
  "Manual Action",
  "MANUAL STEP",
  "action required",
  "by hand",
  "manually",
  "Breaking change"
)

const checkNotes = (parser: string, notes: string) => {
  count(parser)
  const marker = findMarker(notes)
  expect(marker !== undefined).toBe(MIGRATION_MARKERS.test(notes))
  if (marker !== undefined) {
    expect(notes).toContain(marker)
    expect(marker).toMatch(wholeMarker)
  }
  const cut = truncate(notes)
  if (notes.length <= 4000) expect(cut).toBe(notes)
  else {
    expect(cut.startsWith(notes.slice(0, 4000))).toBe(true)
    expect(cut.endsWith(`\n[... ${notes.length - 4000} more characters]`)).toBe(true)
  }
  return marker
}

describe("release notes: findMarker, migrationWarnings and truncate", { timeout: 120_000 }, () => {
  it("any notes: a marker found is in the notes and is a whole marker; truncation keeps the head", () => {
    const notes = fc.oneof(
      text,
      fc.tuple(text, markers, text).map(([a, m, b]) => a + m + b),
      fc.string({ unit: fc.oneof(nasty, markers), maxLength: 5000 })
    )
    fc.assert(fc.property(notes, (n) => void checkNotes("ReleaseNotes", n)), { numRuns: 2000 })
  })

  it("migrationWarnings names exactly the versions whose notes carry a marker, whatever the notes", () => {
    const entry = fc.tuple(
      fc.constantFrom<string>("1.0.0+1", "1.1.0+1", "1.2.0+1", "2.0.0-rc1+2"),
      fc.option(text, { nil: undefined })
    )
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 6 }), (entries) => {
        count("ReleaseNotes.migrationWarnings")
        const notes = new Map(entries)
        const versions = sortTags([...notes.keys()])
        const warnings = migrationWarnings(versions, (v) => notes.get(v))
        expect(warnings.map((w) => w.version)).toEqual(
          versions.filter((v) => findMarker(notes.get(v.tag) ?? "") !== undefined).map((v) => v.tag)
        )
      }),
      { numRuns: 1000 }
    )
  })

  it("notes with 100 kB lines and of megabytes: found wherever the marker is, in linear time", () => {
    fc.assert(fc.property(longLine, (n) => void checkNotes("ReleaseNotes (100 kB)", n)), { numRuns: 60 })
    fc.assert(
      fc.property(
        hugeText,
        fc.option(fc.tuple(markers, fc.double({ min: 0, max: 1, noNaN: true })), { nil: undefined }),
        (huge, placed) => {
          const at = placed === undefined ? 0 : Math.floor(placed[1] * huge.length)
          const notes = placed === undefined ? huge : huge.slice(0, at) + ` ${placed[0]} ` + huge.slice(at)
          const started = Date.now()
          const marker = checkNotes("ReleaseNotes (3 MB)", notes)
          if (placed !== undefined) expect(marker).toBeDefined()
          expect(Date.now() - started).toBeLessThan(15_000)
        }
      ),
      { numRuns: 6 }
    )
  })
})
