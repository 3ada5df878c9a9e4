/**
 * The mutations of `npm run test:mutants` (scripts/mutations.ts) still fit the code: each search
 * text is found exactly once in its file, so that a mutation whose code moved breaks here, in
 * `npm test`, instead of silently mutating nothing. (Running the mutants is not part of `npm test`.)
 */
import { describe, expect, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { apply, filesOf, MUTATIONS } from "../scripts/mutations.js"
import { ROOT } from "./support/bundle.js"

describe("the mutations of npm run test:mutants", () => {
  for (const m of MUTATIONS) {
    it(`${m.id} applies to the code as it is`, () => {
      for (const file of filesOf(m)) {
        const text = Fs.readFileSync(Path.join(ROOT, file), "utf8")
        const mutated = apply(m.id, file, text, m.patches)
        expect(mutated, `${m.id} changes ${file}`).not.toBe(text)
      }
    })
  }

  it("a search text that is not found is an error, not a pass", () => {
    expect(() => apply("one-success", "f.ts", "nothing here", [{ file: "f.ts", search: "absent", replace: "x" }]))
      .toThrow(/mutation one-success: the search text occurs 0 times in f.ts/)
    expect(() => apply("one-success", "f.ts", "twice twice", [{ file: "f.ts", search: "twice", replace: "x" }]))
      .toThrow(/occurs 2 times/)
  })

  it("ids are unique", () => {
    expect(new Set(MUTATIONS.map((m) => m.id)).size).toBe(MUTATIONS.length)
  })
})
