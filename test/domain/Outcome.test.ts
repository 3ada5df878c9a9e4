import { describe, expect, it } from "@effect/vitest"
import { detail, exitCode, format, Outcome, resultLine } from "../../src/domain/Outcome.js"

// Every tag, with the detail the original printed after "<tag>:" and the exit code the README documents.
const table: ReadonlyArray<readonly [Outcome, string, 0 | 1]> = [
  [Outcome["deployed-fresh"]({ version: "1.1.0+1.1" }), "1.1.0+1.1", 0],
  [Outcome["noop-healthy"]({ version: "1.1.0+1.1" }), "1.1.0+1.1", 0],
  [Outcome["redeployed-healthy"]({ version: "1.1.0+1.1" }), "1.1.0+1.1", 0],
  [Outcome.unhealthy({ version: "1.1.0+1.1" }), "1.1.0+1.1", 1],
  [Outcome["held-major"]({ from: "1.1.0+1.1", to: "2.0.0+2.0" }), "1.1.0+1.1->2.0.0+2.0", 0],
  [
    Outcome["held-manual-migration"]({ from: "1.0.0+1.0", to: "1.1.0+1.1", versions: ["1.0.1+1.0"] }),
    "1.0.0+1.0->1.1.0+1.1",
    0
  ],
  [Outcome["held-policy"]({ from: "1.0.0+1.0", to: "1.1.0+1.1", policy: "patch" }), "1.0.0+1.0->1.1.0+1.1", 0],
  [Outcome["held-unknown-version"]({ from: "unknown", to: "1.1.0+1.1" }), "unknown->1.1.0+1.1", 0],
  [Outcome.upgraded({ from: "1.0.0+1.0", to: "1.1.0+1.1" }), "1.0.0+1.0->1.1.0+1.1", 0],
  // Rollbacks print attempted->lastGood, as the original did.
  [
    Outcome["rolled-back"]({ attempted: "1.2.0+1.2", lastGood: "1.1.0+1.1", reason: "health timeout" }),
    "1.2.0+1.2->1.1.0+1.1",
    0
  ],
  [
    Outcome["rollback-failed"]({ attempted: "1.2.0+1.2", lastGood: "1.1.0+1.1", reason: "restore failed" }),
    "1.2.0+1.2->1.1.0+1.1",
    1
  ],
  [Outcome.failed({ reason: "abra: no such recipe" }), "abra: no such recipe", 1]
]

describe("Outcome", () => {
  it("the table covers every tag", () => {
    expect(new Set(table.map(([o]) => o._tag)).size).toBe(12)
  })

  for (const [outcome, expectedDetail, code] of table) {
    describe(outcome._tag, () => {
      it("detail, format and resultLine", () => {
        expect(detail(outcome)).toBe(expectedDetail)
        expect(format(outcome)).toBe(`${outcome._tag}:${expectedDetail}`)
        expect(resultLine(outcome)).toBe(`RECONCILE RESULT: ${outcome._tag}:${expectedDetail}`)
      })

      it(`exits ${code}`, () => {
        expect(exitCode(outcome)).toBe(code)
      })
    })
  }

  it("prints the original's result lines", () => {
    expect(
      resultLine(Outcome["rolled-back"]({ attempted: "1.2.0+1.2", lastGood: "1.1.0+1.1", reason: "unhealthy" }))
    ).toBe("RECONCILE RESULT: rolled-back:1.2.0+1.2->1.1.0+1.1")
    expect(resultLine(Outcome["held-major"]({ from: "10.7.1+25.0.6", to: "10.8.0+26.0.0" }))).toBe(
      "RECONCILE RESULT: held-major:10.7.1+25.0.6->10.8.0+26.0.0"
    )
    expect(resultLine(Outcome["deployed-fresh"]({ version: "10.7.1+26.6.2" }))).toBe(
      "RECONCILE RESULT: deployed-fresh:10.7.1+26.6.2"
    )
  })
})
