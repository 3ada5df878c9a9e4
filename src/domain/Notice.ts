/**
 * Success notices: what a channel hears about runs that went well, only when it asked (the
 * channel's `successes`). An app `upgraded` or `deployed-fresh`, and the `summary` of a
 * `reconcile --all` run (apps upgraded, held, rolled back, failed). A notice is written to the
 * outbox like an alert but needs no person: it is not an alert, has no `ack`, and leaves the
 * outbox once every channel that asked for it took it. Pure.
 */
import { Duration, Match, Schema } from "effect"
import * as Outcome from "./Outcome.js"

export const NOTICE_KINDS = ["upgraded", "deployed-fresh", "summary"] as const
export const NoticeKind = Schema.Literal(...NOTICE_KINDS)
export type NoticeKind = typeof NoticeKind.Type

/** The groups of a run summary, in the order it lists them. */
export const SUMMARY_GROUPS = ["upgraded", "held", "rolled-back", "failed", "unchanged"] as const
export type SummaryGroup = (typeof SUMMARY_GROUPS)[number]

const Stamp = Schema.String.pipe(Schema.pattern(/^\d{8}T\d{6}Z$/))

export const SummaryLine = Schema.Struct({
  app: Schema.String,
  /** The outcome's name (`upgraded`, `held-major`, ...) and its detail, as the result line has them. */
  outcome: Schema.String,
  detail: Schema.String,
  group: Schema.Literal(...SUMMARY_GROUPS)
})
export type SummaryLine = typeof SummaryLine.Type

export const Notice = Schema.Union(
  Schema.TaggedStruct("upgraded", { ts: Stamp, app: Schema.String, from: Schema.String, to: Schema.String }),
  Schema.TaggedStruct("deployed-fresh", { ts: Stamp, app: Schema.String, version: Schema.String }),
  Schema.TaggedStruct("summary", { ts: Stamp, apps: Schema.Array(SummaryLine) })
)
export type Notice = typeof Notice.Type

/** Where an outcome goes in a summary: `held` is waiting for a person or a release, `failed` is down or failed. */
export const groupOf: (outcome: Outcome.Outcome) => SummaryGroup = Match.type<Outcome.Outcome>().pipe(
  Match.tag("upgraded", "deployed-fresh", () => "upgraded" as const),
  Match.tag(
    "held-major",
    "held-manual-migration",
    "held-policy",
    "held-unknown-version",
    "held-failed-release",
    "held-no-space",
    "held-chaos",
    () => "held" as const
  ),
  // A recovery that kept the interrupted upgrade is an upgrade; one that went back is a rollback.
  Match.tag("recovered", (o) => o.committed ? "upgraded" as const : "rolled-back" as const),
  Match.tag("rolled-back", () => "rolled-back" as const),
  Match.tag("rollback-failed", "unhealthy", "failed", () => "failed" as const),
  // Nothing to do, or nothing the run may do now (a window, a paused or undeployed app).
  Match.tag(
    "noop-healthy",
    "redeployed-healthy",
    "held-window",
    "held-undeployed",
    "paused",
    () => "unchanged" as const
  ),
  Match.exhaustive
)

/** The notice of one app's run, when it is a success a channel may ask for. */
export const ofOutcome = (app: string, ts: string, outcome: Outcome.Outcome): Notice | undefined =>
  outcome._tag === "upgraded"
    ? { _tag: "upgraded", ts, app, from: outcome.from, to: outcome.to }
    : outcome._tag === "deployed-fresh"
    ? { _tag: "deployed-fresh", ts, app, version: outcome.version }
    : undefined

/** The summary of a run over these apps and what each ended with. */
export const summary = (
  ts: string,
  ended: ReadonlyArray<{ readonly app: string; readonly outcome: Outcome.Outcome }>
): Notice => ({
  _tag: "summary",
  ts,
  apps: ended.map(({ app, outcome }) => ({
    app,
    outcome: outcome._tag,
    detail: Outcome.detail(outcome),
    group: groupOf(outcome)
  }))
})

/** The app a notice is about (a summary is about the run: none). */
export const appOf = (notice: Notice): string | undefined => notice._tag === "summary" ? undefined : notice.app

/** `20261125T201535Z-keycloak-upgraded`, `20261125T201535Z-summary`: the file name without `.json`. */
export const baseId = (notice: Notice): string =>
  notice._tag === "summary" ? `${notice.ts}-summary` : `${notice.ts}-${notice.app}-${notice._tag}`

/** How many apps of the summary are in each group. */
export const counts = (notice: Extract<Notice, { _tag: "summary" }>): Record<SummaryGroup, number> =>
  Object.fromEntries(SUMMARY_GROUPS.map((g) => [g, notice.apps.filter((a) => a.group === g).length])) as Record<
    SummaryGroup,
    number
  >

/** `20261125T201535Z` in epoch milliseconds (NaN when it is not one). */
const millisOf = (ts: string): number =>
  Date.parse(ts.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, "$1-$2-$3T$4:$5:$6Z"))

/** Has a notice stamped `ts` waited longer than `kept` at `now`? */
export const olderThan = (ts: string, kept: Duration.Duration, now: number): boolean =>
  now - millisOf(ts) > Duration.toMillis(kept)
