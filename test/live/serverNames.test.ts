/** `abra server ls -m` parsing: what the fake abra prints, bare names, and everything it must skip. */
import { describe, expect, it } from "@effect/vitest"
import { serverNames } from "../../src/live/Apps.js"

describe("serverNames", () => {
  it("reads the names of the objects abra prints (extra fields ignored)", () => {
    expect(serverNames(`[{"name":"default","host":"local"},{"name":"b.example.org","host":"b"}]\n`)).toEqual([
      "default",
      "b.example.org"
    ])
  })

  it("takes a bare string as a name", () => {
    expect(serverNames(`["default", {"name": "x"}]`)).toEqual(["default", "x"])
  })

  it("skips entries without a string name and keeps the rest", () => {
    expect(serverNames(`[1, null, true, [], {}, {"name": 3}, {"host": "h"}, {"name": null}, {"name": "ok"}]`))
      .toEqual(["ok"])
  })

  it("is empty for no servers, for JSON that is not an array, and for output that is not JSON", () => {
    for (
      const stdout of [
        "[]",
        "",
        "   ",
        "null",
        `{"name":"default"}`,
        `"default"`,
        "3",
        "NAME HOST\ndefault local",
        "[{"
      ]
    ) {
      expect(serverNames(stdout), JSON.stringify(stdout)).toEqual([])
    }
  })
})
