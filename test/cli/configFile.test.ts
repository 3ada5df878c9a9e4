/** Reading the config file: a JSON syntax error names its line and column (issue 13, item 7). */
import { describe, expect, it } from "@effect/vitest"
import * as ConfigFile from "../../src/cli/ConfigFile.js"

const reasonOf = (text: string): string => {
  try {
    JSON.parse(text)
    return ""
  } catch (e) {
    return (e as Error).message
  }
}

describe("ConfigFile.lineAndColumn", () => {
  it("turns V8's position into the line and column an editor shows; nothing when V8 gives none", () => {
    const text = "{\n  \"a\": 1,\n  \"b\" 2}"
    expect(ConfigFile.lineAndColumn(text, reasonOf(text))).toBe(" (line 3, column 7)")
    expect(ConfigFile.lineAndColumn("{", "Unexpected end of JSON input")).toBe("")
    // A newer V8 that says the line itself is left as it is.
    expect(ConfigFile.lineAndColumn(text, "Unexpected number in JSON at position 18 (line 3 column 7)")).toBe("")
  })
})
