/**
 * Maintenance windows: when a run may change an app. A window is local wall-clock time, such as
 * `"02:00-05:00"`, optionally on some days only (`"Mon-Fri 02:00-05:00"`, `"Sat,Sun 01:00-06:00"`);
 * one that ends before it starts runs past midnight and belongs to the day it starts on. Pure: the
 * instant and the IANA time zone are arguments. Time zones through Effect's `DateTime` (Intl's
 * tz database underneath), so a DST change moves the window's instants, never its wall clock.
 */
import { DateTime, Either, Option, Schema } from "effect"

/** Day names as written in a window, Sunday first as `DateTime`'s `weekDay` counts them. */
export const WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] as const

export interface Window {
  /** Days the window may start on (0 = Sunday); all seven when none were written. */
  readonly days: ReadonlyArray<number>
  /** Minutes after local midnight. `end` is at most 1440 (`24:00`); below `start`: past midnight. */
  readonly start: number
  readonly end: number
}

const TIME = /^([01]\d|2[0-4]):([0-5]\d)$/

const minuteOf = (text: string): Option.Option<number> => {
  const m = TIME.exec(text)
  if (m === null) return Option.none()
  const minute = Number(m[1]) * 60 + Number(m[2])
  return minute <= 1440 ? Option.some(minute) : Option.none()
}

const dayOf = (text: string): number => WEEKDAYS.indexOf(text.toLowerCase() as typeof WEEKDAYS[number])

/** `Mon-Fri`, `Sat,Sun`, `Mon,Wed-Fri`: the days, or the part that is not a day. */
const parseDays = (text: string): Either.Either<ReadonlyArray<number>, string> => {
  const days = new Set<number>()
  for (const part of text.split(",")) {
    const [from, to, ...rest] = part.split("-")
    const a = dayOf(from ?? "")
    const b = to === undefined ? a : dayOf(to)
    if (a < 0 || b < 0 || rest.length > 0) return Either.left(part)
    for (let d = a;; d = (d + 1) % 7) {
      days.add(d)
      if (d === b) break
    }
  }
  return Either.right([...days].sort())
}

/** One window as written, or why it is not one. */
export const parseWindow = (text: string): Either.Either<Window, string> => {
  const fields = text.trim().split(/\s+/)
  const range = fields.at(-1) ?? ""
  if (fields.length > 2) return Either.left(`expected "[days] HH:MM-HH:MM", got ${JSON.stringify(text)}`)
  const [from, to] = range.split("-")
  const start = minuteOf(from ?? "")
  const end = minuteOf(to ?? "")
  if (Option.isNone(start) || Option.isNone(end) || start.value === 1440 || start.value === end.value) {
    return Either.left(
      `expected a window such as "02:00-05:00" (start and end differ, 00:00 to 24:00), got ${JSON.stringify(text)}`
    )
  }
  const days = fields.length === 2 ? parseDays(fields[0]!) : Either.right([0, 1, 2, 3, 4, 5, 6])
  return Either.match(days, {
    onLeft: (bad) =>
      Either.left(`expected days such as "Mon-Fri" or "Sat,Sun" before the time, got ${JSON.stringify(bad)}`),
    onRight: (days) => Either.right({ days, start: start.value, end: end.value })
  })
}

const WindowText = Schema.String.pipe(
  Schema.filter((text) => Either.match(parseWindow(text), { onLeft: (e) => e, onRight: () => true }))
)

/** The config's `window`: one window or several. Kept as written; {@link windows} parses it. */
export const WindowSetting = Schema.Union(WindowText, Schema.NonEmptyArray(WindowText)).annotations({
  identifier: "Window",
  description: "\"[days] HH:MM-HH:MM\" in local time, or a list of them"
})
export type WindowSetting = typeof WindowSetting.Type

/** The windows of a setting; none (no setting): any time. */
export const windows = (setting: string | ReadonlyArray<string> | undefined): ReadonlyArray<Window> =>
  setting === undefined
    ? []
    : (typeof setting === "string" ? [setting] : setting).flatMap((t) => Either.getOrThrow(parseWindow(t)))

const MINUTE = 60_000
const QUARTER = 15 * MINUTE

/**
 * Local weekday and minute of the day at instants in one zone. The zone's offset is looked up once
 * per quarter hour of UTC (every DST change of the tz database falls on one), as the look-up is slow.
 */
const localClock = (timeZone: string) => {
  const zone = DateTime.zoneUnsafeMakeNamed(timeZone)
  const offsets = new Map<number, number>()
  return (at: number): { readonly day: number; readonly minute: number } => {
    const quarter = Math.floor(at / QUARTER) * QUARTER
    let offset = offsets.get(quarter)
    if (offset === undefined) {
      offset = DateTime.zonedOffset(DateTime.unsafeMakeZoned(quarter, { timeZone: zone }))
      offsets.set(quarter, offset)
    }
    const local = new Date(at + offset)
    return { day: local.getUTCDay(), minute: local.getUTCHours() * 60 + local.getUTCMinutes() }
  }
}

const inside = (ws: ReadonlyArray<Window>, clock: ReturnType<typeof localClock>, at: number): boolean => {
  const { day, minute } = clock(at)
  return ws.some((w) =>
    w.start < w.end
      ? w.days.includes(day) && minute >= w.start && minute < w.end
      : (w.days.includes(day) && minute >= w.start) || (w.days.includes((day + 6) % 7) && minute < w.end)
  )
}

/** Is `at` inside a window? No windows: always. */
export const isOpen = (ws: ReadonlyArray<Window>, at: number, timeZone: string): boolean =>
  ws.length === 0 || inside(ws, localClock(timeZone), at)

/** A week and a day: every window of a weekly schedule starts within it. */
const HORIZON = 8 * 24 * 60

/** The first whole minute from `from` on at which being inside is `wanted`, within the horizon. */
const firstMinute = (
  ws: ReadonlyArray<Window>,
  clock: ReturnType<typeof localClock>,
  from: number,
  wanted: boolean
): Option.Option<number> => {
  const first = Math.ceil(from / MINUTE) * MINUTE
  for (let i = 0; i <= HORIZON; i++) {
    const at = first + i * MINUTE
    if (inside(ws, clock, at) === wanted) return Option.some(at)
  }
  return Option.none()
}

/** An open stretch of time, in epoch milliseconds; `end` is none when the windows never close. */
export interface Opening {
  readonly start: number
  readonly end: Option.Option<number>
}

/** The window `at` is in (from `at`), else the next one to open. None: no window ever opens. */
export const nextOpening = (ws: ReadonlyArray<Window>, at: number, timeZone: string): Option.Option<Opening> => {
  if (ws.length === 0) return Option.some({ start: at, end: Option.none() })
  const clock = localClock(timeZone)
  const start = inside(ws, clock, at) ? Option.some(at) : firstMinute(ws, clock, at, true)
  return Option.map(start, (start) => ({ start, end: firstMinute(ws, clock, start, false) }))
}

/** Whether a change that may take up to `durationMillis` may start at `at`. */
export type WindowDecision =
  | { readonly _tag: "Open" }
  | { readonly _tag: "Closed"; readonly next: Option.Option<Opening> }
  /** Inside a window, but the change could still run when it closes at `closes`. */
  | { readonly _tag: "TooLate"; readonly closes: number; readonly next: Option.Option<Opening> }

export const mayStart = (
  ws: ReadonlyArray<Window>,
  at: number,
  timeZone: string,
  durationMillis: number
): WindowDecision => {
  const now = nextOpening(ws, at, timeZone)
  if (Option.isNone(now) || now.value.start !== at) return { _tag: "Closed", next: now }
  const closes = now.value.end
  if (Option.isNone(closes) || at + durationMillis <= closes.value) return { _tag: "Open" }
  return { _tag: "TooLate", closes: closes.value, next: nextOpening(ws, closes.value, timeZone) }
}

/** An instant as a person reads it in the zone: `Sun 2026-03-29 03:00 (Europe/Berlin)`. */
export const showLocal = (at: number, timeZone: string): string => {
  const local = DateTime.unsafeMakeZoned(at, { timeZone: DateTime.zoneUnsafeMakeNamed(timeZone) })
  const day = WEEKDAYS[DateTime.toParts(local).weekDay]!
  return `${day[0]!.toUpperCase()}${day.slice(1)} ${
    DateTime.formatIsoZoned(local).slice(0, 16).replace("T", " ")
  } (${timeZone})`
}

/** The windows as `plan` and `status` show them at `at`; none when there are none (any time). */
export const describeWindow = (ws: ReadonlyArray<Window>, at: number, timeZone: string): Option.Option<string> => {
  if (ws.length === 0) return Option.none()
  const until = (end: Option.Option<number>) =>
    Option.match(end, { onNone: () => "", onSome: (e) => ` until ${showLocal(e, timeZone)}` })
  return Option.some(Option.match(nextOpening(ws, at, timeZone), {
    onNone: () => "closed; no window opens within a week",
    onSome: (o) =>
      o.start === at
        ? `open now${until(o.end)}`
        : `closed; the next opens ${showLocal(o.start, timeZone)}${until(o.end)}`
  }))
}

/** The time zone of this machine, where a window's wall clock is read. */
export const localTimeZone = (): string => Intl.DateTimeFormat().resolvedOptions().timeZone
