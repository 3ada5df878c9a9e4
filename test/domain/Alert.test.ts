import { describe, expect, it } from "@effect/vitest"
import { Either, Schema } from "effect"
import { Alert, ALERT_SCHEMA_VERSION, timestamp, toJson } from "../../src/domain/Alert.js"

describe("Alert.timestamp", () => {
  it("writes UTC as yyyymmddThhmmssZ, dropping the milliseconds", () => {
    expect(timestamp(Date.UTC(2026, 10, 25, 20, 15, 35, 123))).toBe("20261125T201535Z")
    expect(timestamp(Date.UTC(2026, 0, 2, 3, 4, 5, 999))).toBe("20260102T030405Z")
    expect(timestamp(0)).toBe("19700101T000000Z")
  })

  it("does not depend on the local time zone", () => {
    const saved = process.env.TZ
    try {
      // Node re-reads TZ when it is assigned; +14:00 moves the local date to the next day.
      process.env.TZ = "Pacific/Kiritimati"
      expect(new Date(Date.UTC(2026, 0, 1, 23, 30)).getDate()).toBe(2)
      expect(timestamp(Date.UTC(2026, 0, 1, 23, 30, 0))).toBe("20260101T233000Z")
    } finally {
      if (saved === undefined) delete process.env.TZ
      else process.env.TZ = saved
    }
  })

  it("has the shape the original's strftime wrote", () => {
    expect(timestamp(Date.now())).toMatch(/^\d{8}T\d{6}Z$/)
  })
})

describe("Alert.toJson", () => {
  const alert = new Alert({
    schemaVersion: ALERT_SCHEMA_VERSION,
    app: "kc",
    reason: "held-major",
    ts: "20261125T201535Z",
    fields: { current: "1.1.0+1.1", latest: "2.0.0+2.0", release_notes: "New major." }
  })

  it("flattens the fields next to app, reason, ts and schemaVersion", () => {
    expect(toJson(alert)).toEqual({
      app: "kc",
      reason: "held-major",
      ts: "20261125T201535Z",
      schemaVersion: 1,
      current: "1.1.0+1.1",
      latest: "2.0.0+2.0",
      release_notes: "New major."
    })
    expect(toJson(alert)).not.toHaveProperty("fields")
  })

  it("never lets a field overwrite app, reason, ts or schemaVersion", () => {
    const clash = new Alert({
      schemaVersion: ALERT_SCHEMA_VERSION,
      app: "kc",
      reason: "rollback",
      ts: "20261125T201535Z",
      fields: { app: "other", reason: "x", ts: "y", schemaVersion: 99, attempted: "1.2.0+1.2" }
    })
    expect(toJson(clash)).toEqual({
      app: "kc",
      reason: "rollback",
      ts: "20261125T201535Z",
      schemaVersion: 1,
      attempted: "1.2.0+1.2"
    })
  })

  it("survives a JSON round trip", () => {
    expect(JSON.parse(JSON.stringify(toJson(alert)))).toEqual(toJson(alert))
  })
})

describe("Alert schema", () => {
  it("accepts the original's reasons and refuses others", () => {
    const decode = Schema.decodeUnknownEither(Alert)
    const base = { schemaVersion: 1, app: "kc", ts: "20261125T201535Z", fields: {} }
    expect(Either.isRight(decode({ ...base, reason: "unhealthy-on-latest" }))).toBe(true)
    expect(Either.isLeft(decode({ ...base, reason: "oops" }))).toBe(true)
    expect(Either.isLeft(decode({ ...base, reason: "rollback", schemaVersion: 2 }))).toBe(true)
  })
})
