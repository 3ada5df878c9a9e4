import { describe, expect, it } from "@effect/vitest"
import { Either, Option } from "effect"
import * as fc from "fast-check"
import type { EnvFile } from "../../src/domain/EnvFile.js"
import {
  declaredSecrets,
  EnvFileError,
  get,
  parse,
  pinnedVersion,
  recipe,
  render,
  set,
  setPinned
} from "../../src/domain/EnvFile.js"

const parsed = (text: string): EnvFile => {
  const result = parse(text)
  if (Either.isLeft(result)) throw new Error(`expected ${JSON.stringify(text)} to parse: ${result.left.message}`)
  return result.right
}

const failure = (text: string): EnvFileError => {
  const result = parse(text)
  if (Either.isRight(result)) throw new Error(`expected ${JSON.stringify(text)} not to parse`)
  return result.left
}

/** `set`, then back through text: what abra would read from the written file. */
const setAndReread = (text: string, key: string, value: string) => parsed(render(set(parsed(text), key, value)))

const sample = [
  "TYPE=keycloak:10.7.1+26.6.2",
  "DOMAIN=id.example.org",
  "## Domain aliases",
  "#EXTRA_DOMAINS=',`www.id.example.org`'",
  "LETS_ENCRYPT_ENV=production",
  "",
  "COMPOSE_FILE=\"compose.yml:compose.smtp.yml\"",
  "SECRET_ADMIN_PASSWORD_VERSION=v1 # length=128",
  "SECRET_DB_PASSWORD_VERSION=v2\t  # generate=false",
  "WELCOME='Hello $USER'",
  "EMPTY=",
  "EMPTY_WITH_COMMENT= # nothing yet",
  "  INDENTED = spaced value  # trailing comment",
  "HASH_IN_VALUE=abc#def",
  "ESCAPED=\"say \\\"hi\\\" to \\\\ and \\$HOME\"",
  "   ",
  "UNICODE=grüße 😀"
]
const lf = sample.join("\n") + "\n"
const crlf = sample.join("\r\n") + "\r\n"

describe("EnvFile.parse and render", () => {
  it("round-trips an LF file byte for byte and reads values as abra does", () => {
    const file = parsed(lf)
    expect(render(file)).toBe(lf)
    const values = {
      TYPE: "keycloak:10.7.1+26.6.2",
      DOMAIN: "id.example.org",
      LETS_ENCRYPT_ENV: "production",
      COMPOSE_FILE: "compose.yml:compose.smtp.yml",
      SECRET_ADMIN_PASSWORD_VERSION: "v1",
      SECRET_DB_PASSWORD_VERSION: "v2",
      WELCOME: "Hello $USER",
      EMPTY: "",
      EMPTY_WITH_COMMENT: "",
      INDENTED: "spaced value",
      HASH_IN_VALUE: "abc#def",
      ESCAPED: "say \"hi\" to \\ and $HOME",
      UNICODE: "grüße 😀"
    }
    for (const [key, value] of Object.entries(values)) expect(get(file, key)).toEqual(Option.some(value))
    expect(get(file, "EXTRA_DOMAINS")).toEqual(Option.none())
    expect(get(file, "MISSING")).toEqual(Option.none())
  })

  it("round-trips a CRLF file and reads the same values", () => {
    const file = parsed(crlf)
    expect(render(file)).toBe(crlf)
    expect(get(file, "INDENTED")).toEqual(Option.some("spaced value"))
    expect(get(file, "UNICODE")).toEqual(Option.some("grüße 😀"))
  })

  it("round-trips a file without a final newline, and the empty file", () => {
    const text = "TYPE=custom-html\nDOMAIN=web.example.org"
    expect(render(parsed(text))).toBe(text)
    expect(get(parsed(text), "DOMAIN")).toEqual(Option.some("web.example.org"))
    expect(render(parsed(""))).toBe("")
    expect(render(parsed("\n\n"))).toBe("\n\n")
  })

  it("a value may begin with # when no blank precedes it", () => {
    expect(get(parsed("A=#not-a-comment\n"), "A")).toEqual(Option.some("#not-a-comment"))
    expect(get(parsed("A=\"quoted\"# comment\n"), "A")).toEqual(Option.some("quoted"))
  })
})

describe("EnvFile.parse errors", () => {
  const cases: ReadonlyArray<readonly [string, string, number, string]> = [
    ["a key with a space", "A=1\n\n# c\nKEY WITH SPACE=x\n", 4, "\"KEY WITH SPACE\" is not a valid key"],
    ["a key starting with a digit", "1KEY=x\n", 1, "\"1KEY\" is not a valid key"],
    ["a line without =", "A=1\njust text\n", 2, "neither KEY=value"],
    ["export", "A=1\r\nB=2\r\nexport C=3\r\n", 3, "has no export"],
    ["a NUL byte", "A=1\nB=x\0y\n", 2, "NUL byte"],
    ["an unclosed double quote", "A=\"open\n", 1, "does not close"],
    ["an unclosed single quote", "A=1\nB='open\n", 2, "does not close"],
    ["text after a closing quote", "A=\"x\" y\n", 1, "after the closing quote"],
    ["CR-only line endings", "A=1\rB=2\r", 1, "carriage return"]
  ]
  for (const [name, text, line, fragment] of cases) {
    it(`rejects ${name} on line ${line}`, () => {
      const error = failure(text)
      expect(error).toBeInstanceOf(EnvFileError)
      expect(error.line).toBe(line)
      expect(error.message).toContain(fragment)
      expect(error.message).toContain(`line ${line}`)
      expect(error.message).not.toContain("\n")
    })
  }
})

describe("EnvFile.set", () => {
  /** The rendered lines of `before` and `after`, with line `index` taken out of both. */
  const withoutLine = (text: string, index: number) => text.split("\n").filter((_, i) => i !== index)

  it("changes one value and leaves every other byte as it was", () => {
    const after = render(set(parsed(lf), "SECRET_ADMIN_PASSWORD_VERSION", "v2"))
    const index = sample.indexOf("SECRET_ADMIN_PASSWORD_VERSION=v1 # length=128")
    expect(after.split("\n")[index]).toBe("SECRET_ADMIN_PASSWORD_VERSION=v2 # length=128")
    expect(withoutLine(after, index)).toEqual(withoutLine(lf, index))
    expect(after.length).toBe(lf.length)
  })

  it("keeps the line's ending, spacing and comment in a CRLF file", () => {
    const after = render(set(parsed(crlf), "INDENTED", "other"))
    const index = sample.indexOf("  INDENTED = spaced value  # trailing comment")
    expect(after.split("\n")[index]).toBe("  INDENTED = other  # trailing comment\r")
    expect(withoutLine(after, index)).toEqual(withoutLine(crlf, index))
  })

  it("keeps the quote style, and adds double quotes when the value needs them", () => {
    const line = (key: string, value: string) =>
      render(set(parsed(lf), key, value)).split("\n").find((l) => l.startsWith(`${key}=`))
    expect(line("COMPOSE_FILE", "compose.yml")).toBe("COMPOSE_FILE=\"compose.yml\"")
    expect(line("WELCOME", "Bye")).toBe("WELCOME='Bye'")
    expect(line("WELCOME", "it's")).toBe("WELCOME=\"it's\"")
    expect(line("DOMAIN", "new.example.org")).toBe("DOMAIN=new.example.org")
    expect(line("DOMAIN", "has space")).toBe("DOMAIN=\"has space\"")
    expect(line("SECRET_DB_PASSWORD_VERSION", "v3 # x")).toBe(
      "SECRET_DB_PASSWORD_VERSION=\"v3 # x\"\t  # generate=false"
    )
    expect(line("EMPTY_WITH_COMMENT", "now")).toBe("EMPTY_WITH_COMMENT=now # nothing yet")
  })

  it("writes values that read back the same: quotes, #, $, backslashes, newlines", () => {
    for (const value of ["has space", "x # y", "pa$word", "back\\slash", "\"quoted\"", "two\nlines", "", "'", "ü 😀"]) {
      for (const key of ["DOMAIN", "COMPOSE_FILE", "WELCOME", "EMPTY_WITH_COMMENT", "NEW_KEY"]) {
        expect(get(setAndReread(lf, key, value), key)).toEqual(Option.some(value))
      }
    }
  })

  it("appends an absent key with the file's line ending and leaves a commented-out one alone", () => {
    expect(render(set(parsed("#NEW=old\nA=1\n"), "NEW", "x y"))).toBe("#NEW=old\nA=1\nNEW=\"x y\"\n")
    expect(render(set(parsed("A=1\r\nB=2\r\n"), "C", "3"))).toBe("A=1\r\nB=2\r\nC=3\r\n")
    expect(render(set(parsed(""), "A", "1"))).toBe("A=1\n")
  })

  it("appending to a file without a final newline ends the old last line and not the new one", () => {
    expect(render(set(parsed("A=1\r\nB=2"), "C", "3"))).toBe("A=1\r\nB=2\r\nC=3")
    expect(render(set(parsed("A=1"), "C", "3"))).toBe("A=1\nC=3")
  })

  it("changes the last of repeated keys, the one Docker uses", () => {
    const file = parsed("A=1\nB=2\nA=3\n")
    expect(get(file, "A")).toEqual(Option.some("3"))
    expect(render(set(file, "A", "4"))).toBe("A=1\nB=2\nA=4\n")
  })
})

describe("EnvFile pinned version and recipe", () => {
  it("reads the version pinned in TYPE", () => {
    const file = parsed(lf)
    expect(pinnedVersion(file)).toEqual(Option.some("10.7.1+26.6.2"))
    expect(recipe(file)).toEqual(Option.some("keycloak"))
  })

  it("answers None for a bare TYPE and pins it in place", () => {
    const text = "TYPE=custom-html\nDOMAIN=web.example.org\n"
    const file = parsed(text)
    expect(pinnedVersion(file)).toEqual(Option.none())
    expect(recipe(file)).toEqual(Option.some("custom-html"))
    const pinned = setPinned(file, "custom-html", "1.7.1+1.27.2")
    expect(render(pinned)).toBe("TYPE=custom-html:1.7.1+1.27.2\nDOMAIN=web.example.org\n")
    expect(pinnedVersion(pinned)).toEqual(Option.some("1.7.1+1.27.2"))
  })

  it("prefers RECIPE over TYPE, for reading and for pinning", () => {
    const file = parsed("TYPE=old:1.0.0+1\nRECIPE=\"custom-html:2.0.0+2\"\n")
    expect(pinnedVersion(file)).toEqual(Option.some("2.0.0+2"))
    expect(recipe(file)).toEqual(Option.some("custom-html"))
    expect(render(setPinned(file, "custom-html", "2.1.0+3"))).toBe("TYPE=old:1.0.0+1\nRECIPE=\"custom-html:2.1.0+3\"\n")
    expect(pinnedVersion(parsed("TYPE=x:1.0.0+1\nRECIPE=x\n"))).toEqual(Option.none())
  })

  it("adds TYPE when neither key exists", () => {
    const pinned = setPinned(parsed("DOMAIN=a.example.org\n"), "custom-html", "1.0.0+1")
    expect(render(pinned)).toBe("DOMAIN=a.example.org\nTYPE=custom-html:1.0.0+1\n")
    expect(pinnedVersion(parsed("DOMAIN=a.example.org\n"))).toEqual(Option.none())
  })
})

describe("EnvFile.declaredSecrets", () => {
  it("lists SECRET_<NAME>_VERSION lines as <name>_<version>, modifiers or not", () => {
    expect(declaredSecrets(parsed(lf))).toEqual(["admin_password_v1", "db_password_v2"])
  })

  it("takes the last value of a repeated key and skips commented-out and empty ones", () => {
    const text = "SECRET_API_KEY_VERSION=v1\n#SECRET_OLD_VERSION=v1\nSECRET_NONE_VERSION=\nSECRET_API_KEY_VERSION=v3\n"
    expect(declaredSecrets(parsed(text))).toEqual(["api_key_v3"])
  })
})

// Generators for valid env files, built from the syntax rather than from the module's own encoder.
const blanks = fc.constantFrom("", " ", "\t", "  ", " \t")
const text = (exclude: RegExp, maxLength = 20) =>
  fc.string({ unit: "grapheme", maxLength }).map((s) => s.replace(exclude, ""))
const key = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,12}$/)
const comment = fc.tuple(fc.constantFrom(" ", "\t", "  "), text(/[\n\r\0]/g)).map(([b, t]) => `${b}#${t}`)
const unquoted = text(/[\s#"'\0]/g).filter((s) => s !== "")
const doubleQuoted = fc.array(fc.oneof(text(/[\n\r\0"\\]/g, 5), fc.constantFrom("\\\"", "\\\\", "\\n", "\\$")), {
  maxLength: 5
}).map((parts) => `"${parts.join("")}"`)
const singleQuoted = text(/[\n\r\0']/g).map((s) => `'${s}'`)
const entry = fc.tuple(
  blanks,
  key,
  fc.constantFrom("", " "),
  blanks,
  fc.oneof(unquoted, doubleQuoted, singleQuoted, fc.constant("")),
  fc.option(comment, { nil: "" })
).map(([lead, k, beforeEq, pad, value, suffix]) => // `KEY= ` + nothing + a comment is the empty value with a comment; pad only before a value.
({ key: k, line: `${lead}${k}${beforeEq}=${value === "" ? "" : pad}${value}${suffix}` }))
const line = fc.oneof(
  { arbitrary: entry, weight: 4 },
  { arbitrary: blanks.map((b) => ({ key: undefined, line: b })), weight: 1 },
  { arbitrary: text(/[\n\r\0]/g).map((t) => ({ key: undefined, line: `#${t}` })), weight: 1 }
)
const envText = fc.record({
  lines: fc.array(line, { maxLength: 12 }),
  eol: fc.constantFrom("\n", "\r\n"),
  finalNewline: fc.boolean()
}).map(({ eol, finalNewline, lines }) => ({
  keys: lines.flatMap((l) => l.key === undefined ? [] : [l.key]),
  text: lines.map((l) => l.line).join(eol) + (finalNewline && lines.length > 0 ? eol : "")
}))

describe("EnvFile properties", () => {
  it("render(parse(text)) is text for generated valid files", () => {
    fc.assert(
      fc.property(envText, ({ text }) => {
        const result = parse(text)
        expect(Either.isRight(result) && render(result.right)).toBe(text)
      }),
      { numRuns: 500 }
    )
  })

  it("set then get gives the value back through the text, and no other line changes", () => {
    fc.assert(
      fc.property(
        envText,
        fc.option(fc.nat(), { nil: undefined }),
        key,
        fc.string({ unit: "grapheme", maxLength: 30 }).map((s) => s.replace(/\0/g, "")),
        ({ keys, text }, pick, fresh, value) => {
          const k = pick === undefined || keys.length === 0 ? fresh : keys[pick % keys.length]!
          const before = parsed(text)
          const afterText = render(set(before, k, value))
          expect(get(parsed(afterText), k)).toEqual(Option.some(value))

          const index = before.lines.map((l) => l._tag === "Entry" && l.key === k).lastIndexOf(true)
          if (index < 0) {
            // Appended: the old text is all there, at most ended by one line ending first.
            const oldLines = text.split("\n")
            const newLines = afterText.split("\n")
            expect(newLines.slice(0, oldLines.length - 1)).toEqual(oldLines.slice(0, -1))
            expect(newLines[oldLines.length - 1]!.replace(/\r$/, "").startsWith(oldLines.at(-1)!.replace(/\r$/, "")))
              .toBe(true)
          } else {
            const others = (t: string) => t.split("\n").filter((_, i) => i !== index)
            expect(others(afterText)).toEqual(others(text))
          }
        }
      ),
      { numRuns: 500 }
    )
  })

  const noisy = fc.array(
    fc.oneof(
      fc.constantFrom(
        "A=",
        "B =",
        "=",
        "\r",
        "\n",
        "\r\n",
        "#",
        " #",
        "\"",
        "'",
        "\\",
        " ",
        "\t",
        "export ",
        "\0",
        "é"
      ),
      fc.string({ unit: "binary", maxLength: 8 })
    ),
    { maxLength: 40 }
  ).map((parts) => parts.join(""))

  it("parse never throws: it answers a file that renders back, or an error on a real line", () => {
    fc.assert(
      fc.property(fc.oneof(noisy, fc.string({ unit: "binary", maxLength: 200 })), (input) => {
        const result = parse(input)
        if (Either.isRight(result)) {
          expect(render(result.right)).toBe(input)
        } else {
          expect(result.left.line).toBeGreaterThanOrEqual(1)
          expect(result.left.line).toBeLessThanOrEqual(input.split("\n").length)
          expect(result.left.message).not.toContain("\n")
        }
      }),
      { numRuns: 2000 }
    )
  })

  it("handles very long lines in linear time", () => {
    const long = [
      `A=${" ".repeat(1_000_000)}x`,
      `A=${"a ".repeat(500_000)}# c`,
      `A="${"\\\"".repeat(300_000)}"`,
      `#${"#".repeat(1_000_000)}`,
      `${" ".repeat(1_000_000)}A=1`,
      `A${" ".repeat(1_000_000)}x=1`
    ]
    const started = Date.now()
    for (const input of long) {
      const result = parse(input)
      if (Either.isRight(result)) expect(render(result.right)).toBe(input)
    }
    expect(get(parsed(long[1]!), "A")).toEqual(Option.some("a ".repeat(500_000).trimEnd()))
    expect(Either.isLeft(parse(long[5]!))).toBe(true)
    expect(Date.now() - started).toBeLessThan(3000)
  })
})
