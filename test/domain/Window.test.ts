import { describe, expect, it } from "@effect/vitest"
import { Either, Option, Schema } from "effect"
import {
  describeWindow,
  isOpen,
  mayStart,
  nextOpening,
  parseWindow,
  showLocal,
  type Window,
  windows,
  WindowSetting
} from "../../src/domain/Window.js"

const at = (iso: string) => Date.parse(iso)
const HOUR = 3_600_000
const ws = (...texts: Array<string>): ReadonlyArray<Window> => windows(texts)
const opening = (texts: ReadonlyArray<string>, from: string, zone: string) =>
  Option.map(nextOpening(ws(...texts), at(from), zone), (o) => ({
    start: new Date(o.start).toISOString(),
    end: Option.map(o.end, (e) => new Date(e).toISOString())
  }))

describe("parseWindow", () => {
  it("reads times, days, day ranges and windows past midnight", () => {
    expect(parseWindow("02:00-05:00")).toEqual(Either.right({ days: [0, 1, 2, 3, 4, 5, 6], start: 120, end: 300 }))
    expect(parseWindow("Mon-Fri 02:00-05:00")).toEqual(Either.right({ days: [1, 2, 3, 4, 5], start: 120, end: 300 }))
    expect(parseWindow("sat,Sun 22:30-01:15")).toEqual(Either.right({ days: [0, 6], start: 1350, end: 75 }))
    expect(parseWindow("Fri-Mon 00:00-24:00")).toEqual(Either.right({ days: [0, 1, 5, 6], start: 0, end: 1440 }))
  })

  it("rejects what is not a window, saying what is expected", () => {
    for (const bad of ["2-5", "02:00", "02:00-02:00", "25:00-26:00", "24:00-02:00", "02:00-05:60", "a b 02:00-03:00"]) {
      expect(Either.isLeft(parseWindow(bad)), bad).toBe(true)
    }
    expect(parseWindow("Mon-Fry 02:00-05:00")).toEqual(
      Either.left("expected days such as \"Mon-Fri\" or \"Sat,Sun\" before the time, got \"Mon-Fry\"")
    )
  })

  it("the config setting is one window or a non-empty list, each checked", () => {
    const decode = Schema.decodeUnknownEither(WindowSetting)
    expect(decode("02:00-05:00")).toEqual(Either.right("02:00-05:00"))
    expect(decode(["02:00-03:00", "Sun 10:00-12:00"])).toEqual(Either.right(["02:00-03:00", "Sun 10:00-12:00"]))
    expect(Either.isLeft(decode([]))).toBe(true)
    expect(Either.isLeft(decode("02:00-05:61"))).toBe(true)
  })
})

describe("isOpen", () => {
  it("no window: always open", () => {
    expect(isOpen([], at("2026-06-01T12:00:00Z"), "Europe/Berlin")).toBe(true)
  })

  it("reads the wall clock of the zone: the same instant is inside in one zone and outside in another", () => {
    const w = ws("02:00-05:00")
    const instant = at("2026-06-01T01:00:00Z") // 03:00 in Berlin (CEST), 21:00 the day before in New York
    expect(isOpen(w, instant, "Europe/Berlin")).toBe(true)
    expect(isOpen(w, instant, "America/New_York")).toBe(false)
    expect(isOpen(w, instant, "UTC")).toBe(false)
    // Kathmandu is UTC+5:45: 02:00 there is 20:15 UTC the day before.
    expect(isOpen(w, at("2026-05-31T20:14:00Z"), "Asia/Kathmandu")).toBe(false)
    expect(isOpen(w, at("2026-05-31T20:15:00Z"), "Asia/Kathmandu")).toBe(true)
  })

  it("start is inside, end is not", () => {
    const w = ws("02:00-05:00")
    expect(isOpen(w, at("2026-06-01T02:00:00Z"), "UTC")).toBe(true)
    expect(isOpen(w, at("2026-06-01T04:59:59Z"), "UTC")).toBe(true)
    expect(isOpen(w, at("2026-06-01T05:00:00Z"), "UTC")).toBe(false)
    expect(isOpen(w, at("2026-06-01T01:59:59Z"), "UTC")).toBe(false)
  })

  it("a window past midnight belongs to the day it starts on", () => {
    // 2026-06-05 is a Friday.
    const w = ws("Fri 22:00-02:00")
    expect(isOpen(w, at("2026-06-05T23:00:00Z"), "UTC")).toBe(true)
    expect(isOpen(w, at("2026-06-06T01:00:00Z"), "UTC")).toBe(true) // Saturday morning: Friday's window
    expect(isOpen(w, at("2026-06-05T01:00:00Z"), "UTC")).toBe(false) // Friday morning: Thursday had none
    expect(isOpen(w, at("2026-06-06T23:00:00Z"), "UTC")).toBe(false)
  })

  it("several windows: inside any", () => {
    const w = ws("02:00-03:00", "Sun 10:00-12:00")
    expect(isOpen(w, at("2026-06-07T11:00:00Z"), "UTC")).toBe(true) // a Sunday
    expect(isOpen(w, at("2026-06-08T11:00:00Z"), "UTC")).toBe(false)
    expect(isOpen(w, at("2026-06-08T02:30:00Z"), "UTC")).toBe(true)
  })
})

describe("nextOpening over DST changes", () => {
  // [what, windows, from, zone, the opening's start, its end]
  const cases: ReadonlyArray<readonly [string, ReadonlyArray<string>, string, string, string, string | null]> = [
    [
      "spring forward (Berlin, 2026-03-29, 02:00 -> 03:00): 02:00-05:00 opens at 03:00 CEST and lasts 2 hours",
      ["02:00-05:00"],
      "2026-03-28T22:00:00Z",
      "Europe/Berlin",
      "2026-03-29T01:00:00.000Z",
      "2026-03-29T03:00:00.000Z"
    ],
    [
      "the night before, a normal night: 01:00Z to 04:00Z (CET)",
      ["02:00-05:00"],
      "2026-03-27T22:00:00Z",
      "Europe/Berlin",
      "2026-03-28T01:00:00.000Z",
      "2026-03-28T04:00:00.000Z"
    ],
    [
      "a window inside the skipped hour does not open that night",
      ["02:15-02:45"],
      "2026-03-28T22:00:00Z",
      "Europe/Berlin",
      "2026-03-30T00:15:00.000Z",
      "2026-03-30T00:45:00.000Z"
    ],
    [
      "fall back (Berlin, 2026-10-25, 03:00 -> 02:00): 02:00-05:00 lasts 4 hours",
      ["02:00-05:00"],
      "2026-10-24T20:00:00Z",
      "Europe/Berlin",
      "2026-10-25T00:00:00.000Z",
      "2026-10-25T04:00:00.000Z"
    ],
    [
      "New York's spring forward (2026-03-08) on a window past midnight: Sat 23:00 EST to Sun 03:00 EDT, 3 hours",
      ["Sat 23:00-03:00"],
      "2026-03-07T12:00:00Z",
      "America/New_York",
      "2026-03-08T04:00:00.000Z",
      "2026-03-08T07:00:00.000Z"
    ],
    [
      "inside a window: the opening is now, until it closes",
      ["02:00-05:00"],
      "2026-06-01T03:30:00Z",
      "UTC",
      "2026-06-01T03:30:00.000Z",
      "2026-06-01T05:00:00.000Z"
    ],
    [
      "the next window a week ahead is found (from Monday, the Sunday window)",
      ["Sun 10:00-12:00"],
      "2026-06-08T12:00:00Z",
      "UTC",
      "2026-06-14T10:00:00.000Z",
      "2026-06-14T12:00:00.000Z"
    ],
    [
      "windows that never close have no end",
      ["00:00-24:00"],
      "2026-06-08T12:00:00Z",
      "UTC",
      "2026-06-08T12:00:00.000Z",
      null
    ]
  ]
  it.each(cases)("%s", (_, texts, from, zone, start, end) => {
    expect(opening(texts, from, zone)).toEqual(Option.some({ start, end: Option.fromNullable(end) }))
  })
})

describe("mayStart", () => {
  const w = ws("02:00-05:00")
  it("inside, with time to finish: open", () => {
    expect(mayStart(w, at("2026-06-01T02:00:00Z"), "UTC", 3 * HOUR)).toEqual({ _tag: "Open" })
    expect(mayStart([], at("2026-06-01T12:00:00Z"), "UTC", 100 * HOUR)).toEqual({ _tag: "Open" })
  })

  it("inside, but the change could outlast the window: too late, with the next opening", () => {
    const decision = mayStart(w, at("2026-06-01T04:30:00Z"), "UTC", HOUR)
    expect(decision).toEqual({
      _tag: "TooLate",
      closes: at("2026-06-01T05:00:00Z"),
      next: Option.some({ start: at("2026-06-02T02:00:00Z"), end: Option.some(at("2026-06-02T05:00:00Z")) })
    })
  })

  it("the spring-forward night is an hour shorter: what fits on other nights does not fit then", () => {
    expect(mayStart(w, at("2026-03-28T01:00:00Z"), "Europe/Berlin", 2.5 * HOUR)._tag).toBe("Open")
    expect(mayStart(w, at("2026-03-29T01:00:00Z"), "Europe/Berlin", 2.5 * HOUR)._tag).toBe("TooLate")
  })

  it("outside: closed, with the next opening", () => {
    expect(mayStart(w, at("2026-06-01T12:00:00Z"), "UTC", HOUR)).toEqual({
      _tag: "Closed",
      next: Option.some({ start: at("2026-06-02T02:00:00Z"), end: Option.some(at("2026-06-02T05:00:00Z")) })
    })
  })
})

it("showLocal: the instant as the zone's wall clock", () => {
  expect(showLocal(at("2026-03-29T01:00:00Z"), "Europe/Berlin")).toBe("Sun 2026-03-29 03:00 (Europe/Berlin)")
  expect(showLocal(at("2026-06-01T02:00:00Z"), "UTC")).toBe("Mon 2026-06-01 02:00 (UTC)")
})

it("describeWindow: what plan and status show", () => {
  const w = ws("02:00-05:00")
  expect(describeWindow([], at("2026-06-01T12:00:00Z"), "UTC")).toEqual(Option.none())
  expect(describeWindow(w, at("2026-06-01T03:00:00Z"), "UTC")).toEqual(
    Option.some("open now until Mon 2026-06-01 05:00 (UTC)")
  )
  expect(describeWindow(w, at("2026-06-01T12:00:00Z"), "UTC")).toEqual(
    Option.some("closed; the next opens Tue 2026-06-02 02:00 (UTC) until Tue 2026-06-02 05:00 (UTC)")
  )
})
