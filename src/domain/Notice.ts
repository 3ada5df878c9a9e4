/**
 * Success notices: what a channel hears about runs that went well, only when it asked (the
 * channel's `successes`). An app `upgraded` or `deployed-fresh`, and the `summary` of a
 * `reconcile --all` run (apps upgraded, held, rolled back, failed). A notice is written to the
 * outbox like an alert but needs no person: it is not an alert, has no `ack`, and leaves the
 * outbox once every channel that asked for it took it. Pure.
 */
import { Duration, Schema } from "effect"
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

/** Where each outcome goes in a summary: a table over every outcome, so that a new one must be placed. */
const GROUPS: { readonly [T in Outcome.Outcome["_tag"]]: SummaryGroup } = {
  upgraded: "upgraded",
  "deployed-fresh": "upgraded",
  // Waiting for a person or for a release.
  "held-major": "held",
  "held-manual-migration": "held",
  "held-policy": "held",
  "held-unknown-version": "held",
  "held-failed-release": "held",
  "held-no-space": "held",
  "held-chaos": "held",
  "rolled-back": "rolled-back",
  // Back on last-good; one that kept the interrupted upgrade is placed by `groupOf`.
  recovered: "rolled-back",
  "rollback-failed": "failed",
  unhealthy: "failed",
  failed: "failed",
  // Nothing to do, or nothing the run may do now (a window, a paused or undeployed app).
  "noop-healthy": "unchanged",
  "redeployed-healthy": "unchanged",
  "held-window": "unchanged",
  "held-undeployed": "unchanged",
  paused: "unchanged"
}

/** Where an outcome goes in a summary: `held` is waiting for a person or a release, `failed` is down or failed. */
export const groupOf = (outcome: Outcome.Outcome): SummaryGroup =>
  outcome._tag === "recovered" && outcome.committed ? "upgraded" : GROUPS[outcome._tag]

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
