/**
 * The vocabularies of the domain: one spelling of the hold reason (the `held-` form derived from
 * it), the in-flight phases, and hold.json and in-flight.json as earlier versions wrote them still
 * decoding to the same records.
 */
import { describe, expect, it } from "@effect/vitest"
import { Either, Schema } from "effect"
import { AlertReason } from "../../src/domain/Alert.js"
import { held, HeldReason, HOLD_REASONS } from "../../src/domain/Hold.js"
import { Outcome } from "../../src/domain/Outcome.js"
import { IN_FLIGHT_PHASES, LOG_PHASES, TIMED_PHASES } from "../../src/domain/Phase.js"
import { HoldRecord, InFlight } from "../../src/services/State.js"

const decodeHold = Schema.decodeUnknownEither(Schema.parseJson(HoldRecord))
const decodeInFlight = Schema.decodeUnknownEither(Schema.parseJson(InFlight))

describe("the hold reason", () => {
  it("is spelled once; the outcome, the alert and hold.json spell it held-<reason>", () => {
    expect(HeldReason.literals).toEqual(HOLD_REASONS.map((r) => `held-${r}`))
    expect(AlertReason.literals.slice(0, HOLD_REASONS.length)).toEqual(HeldReason.literals)
    expect(held("failed-release")).toBe("held-failed-release")
    expect(Outcome[held("major")]({ from: "1", to: "2" })._tag).toBe("held-major")
  })

  it("hold.json as earlier versions wrote it decodes, and encodes back to the same text", () => {
    for (const reason of HeldReason.literals) {
      const text = JSON.stringify({ reason, from: "1.1.0+1.1", to: "2.0.0+2.0", ts: "20261124T030000Z" }, null, 2)
      const decoded = decodeHold(text)
      expect(Either.isRight(decoded)).toBe(true)
      expect(JSON.stringify(Schema.encodeSync(HoldRecord)(Either.getOrThrow(decoded)), null, 2)).toBe(text)
    }
    // The plan's spelling never reaches the file.
    expect(Either.isLeft(decodeHold(JSON.stringify({ reason: "major", from: "1", to: "2", ts: "t" })))).toBe(true)
  })
})

describe("the phases", () => {
  it("in-flight.json as earlier versions wrote it decodes for every phase; `done` was never a record", () => {
    for (const phase of IN_FLIGHT_PHASES) {
      const record = { from: "1", to: "2", fromHealthy: true, snapshot: null, phase, pid: 7, startedAt: "t" }
      const decoded = decodeInFlight(JSON.stringify(record))
      expect(Either.getOrThrow(decoded).phase).toBe(phase)
    }
    const done = { from: "1", to: "2", fromHealthy: true, snapshot: null, phase: "done", pid: 7, startedAt: "t" }
    expect(Either.isLeft(decodeInFlight(JSON.stringify(done)))).toBe(true)
  })

  it("every in-flight and timed phase is a log phase, once", () => {
    expect(new Set(LOG_PHASES).size).toBe(LOG_PHASES.length)
    for (const phase of [...IN_FLIGHT_PHASES, ...TIMED_PHASES]) expect(LOG_PHASES).toContain(phase)
  })
})
