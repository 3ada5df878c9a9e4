/**
 * An alert as a person reads it on a channel: a title such as
 * `[warm-reconcile] host: keycloak rolled back 1.2 -> 1.1`, and a body that says what happened,
 * the cause, what the app runs now, the release notes (cut as in the alert) and the next step for
 * a person. Plain text everywhere, and Markdown for the channels that render it. Pure.
 */
import { type Alert, toJson } from "./Alert.js"
import { counts, type Notice, SUMMARY_GROUPS, type SummaryGroup } from "./Notice.js"
import type { Severity } from "./Notify.js"
import { severityOf } from "./Notify.js"

export interface Message {
  /** The alert's id (its file name without `.json`), or `test-...` for a test message. */
  readonly id: string
  readonly app: string
  readonly severity: Severity
  readonly title: string
  readonly text: string
  readonly markdown: string
  /** The alert as its file holds it (the generic webhook carries it); none for a test message. */
  readonly alert?: Record<string, unknown>
  /** A success notice as its outbox file holds it (the generic webhook carries it); only for a notice. */
  readonly notice?: Record<string, unknown>
}

export interface Context {
  /** The server's name, as `hostname` says. */
  readonly host: string
  /** Where the snapshots and hold records are. */
  readonly stateDir: string
}

const str = (fields: Record<string, unknown>, key: string): string | undefined =>
  typeof fields[key] === "string" ? fields[key] : undefined

interface Parts {
  readonly headline: string
  readonly happened: string
  readonly cause?: string | undefined
  readonly runsNow: string
  readonly next: string
}

const parts = (alert: Alert, context: Context): Parts => {
  const f = alert.fields
  const app = alert.app
  const current = str(f, "current") ?? "?"
  const latest = str(f, "latest") ?? "?"
  const attempted = str(f, "attempted") ?? "?"
  const lastGood = str(f, "last_good") ?? "?"
  const held = (why: string, next: string): Parts => ({
    headline: `${app} held at ${current}: ${latest} ${why}`,
    happened: `${latest} is published; ${app} was not upgraded to it because it ${why}.`,
    runsNow: `${current}, unchanged.`,
    next
  })
  switch (alert.reason) {
    case "held-major":
      return held(
        "is a major upgrade",
        `Read the release notes, then upgrade by hand with abra (\`abra app upgrade <domain>\`) when ready.`
      )
    case "held-manual-migration":
      return held(
        "asks for a manual migration",
        "Do the migration the notes describe and upgrade by hand with abra (`abra app upgrade <domain>`)."
      )
    case "held-policy":
      return held(
        `is beyond the upgrade policy (${str(f, "policy") ?? "?"})`,
        "Upgrade by hand with abra if wanted, or change the app's `upgrade` policy."
      )
    case "held-unknown-version":
      return held(
        "cannot be compared with the running version",
        "Check which version runs (`abra app ls`) and upgrade by hand with abra."
      )
    case "held-failed-release":
      return held(
        "was rolled back before",
        `Nothing until a newer release appears; to retry ${latest} once it is fixed: \`warm-reconcile unhold ${app}\`.`
      )
    case "held-no-space":
      return held(
        `needs a snapshot of ${str(f, "needed") ?? "?"} that does not fit in the ${
          str(f, "free") ?? "?"
        } free where snapshots are kept`,
        `Free space in ${context.stateDir} (or exclude caches from the snapshot); the next run tries again.`
      )
    case "held-chaos":
      return {
        headline: `${app} runs a chaos deploy (${str(f, "chaos_version") ?? "?"}): left alone`,
        happened: `${app} runs ${
          str(f, "chaos_version") ?? "?"
        }, deployed by hand with \`abra app deploy -C\`; no upgrade, redeploy or health check touches it.`,
        runsNow: `${str(f, "chaos_version") ?? "?"} (a chaos deploy), unchanged.`,
        next: "When the work is done, deploy a release with abra (`abra app deploy <domain> <version>`); the next " +
          "run takes it from there."
      }
    case "rollback":
      return {
        headline: `${app} rolled back ${attempted} -> ${lastGood}`,
        happened: `The upgrade to ${attempted} failed; ${app} was rolled back to ${lastGood}` +
          `${str(f, "snapshot_version") === undefined ? "" : " with its data restored from the snapshot"}.`,
        cause: str(f, "cause"),
        runsNow: `${lastGood}, healthy.`,
        next: `${attempted} is held and not retried until a newer release appears; once it is fixed, ` +
          `\`warm-reconcile unhold ${app}\` retries it.`
      }
    case "rollback-failed":
      return {
        headline: `${app} is DOWN: the rollback ${attempted} -> ${lastGood} failed`,
        happened: `The upgrade to ${attempted} failed and so did the rollback to ${lastGood}` +
          ` (step ${str(f, "failed_step") ?? "?"}: ${str(f, "error") ?? "?"}).`,
        cause: str(f, "cause"),
        runsNow: `nothing healthy: ${app} is down or unhealthy.`,
        next: `A person must act now. The snapshot of the data ` +
          `${str(f, "snapshot_version") === undefined ? "" : `(of ${str(f, "snapshot_version")}) `}` +
          `is in ${context.stateDir}/${app}/; the next run tries the rollback again.`
      }
    case "recovered":
      return {
        headline: f["committed"] === true
          ? `${app} recovered: the interrupted upgrade to ${attempted} was kept`
          : `${app} recovered: back on ${lastGood} after an interrupted upgrade to ${attempted}`,
        happened: `A run was killed during the upgrade to ${attempted} (phase ${str(f, "phase") ?? "?"}); ` +
          `this run finished it.`,
        runsNow: `${lastGood}, healthy.`,
        next: "Nothing, unless runs keep being killed: look at why (the journal of the unit)."
      }
    case "redeployed": {
      const version = str(f, "version") ?? "?"
      return {
        headline: `${app} was redeployed on ${version}`,
        happened: `${app} on ${version} did not answer healthy; it was redeployed and is healthy again.`,
        cause: str(f, "cause"),
        runsNow: `${version}, healthy.`,
        next: "Nothing, unless it happens again: look at why (`abra app logs <domain>`)."
      }
    }
    case "unhealthy-on-latest":
    case "unhealthy-after-deploy": {
      const version = str(f, "version") ?? "?"
      return {
        headline: `${app} is UNHEALTHY on ${version}`,
        happened: alert.reason === "unhealthy-on-latest"
          ? `${app} on ${version} did not answer healthy and a redeploy did not help.`
          : `${app} was deployed at ${version} and did not become healthy.`,
        cause: str(f, "error"),
        runsNow: `${version}, unhealthy.`,
        next: "A person must look at the app (`abra app logs <domain>`, `abra app ps <domain>`)."
      }
    }
    case "state-unreadable": {
      const file = str(f, "file") ?? "?"
      return {
        headline: `${app} is stopped: its ${str(f, "record") ?? "state"} record does not read`,
        happened: `${file} exists but is not a valid ${str(f, "record") ?? "state"} record; ` +
          `nothing was done for ${app}, and nothing will be until it is fixed.`,
        cause: str(f, "error"),
        runsNow: "whatever ran before, unchanged.",
        next: `Check the app by hand (\`abra app ps <domain>\`; for an in-flight record, whether an upgrade was ` +
          `left half done and where its snapshot is), then move ${file} aside; the next run goes on.`
      }
    }
  }
}

/** The message for an alert. */
export const fromAlert = (id: string, alert: Alert, context: Context): Message => {
  const p = parts(alert, context)
  const notes = str(alert.fields, "release_notes")
  const title = `[warm-reconcile] ${context.host}: ${p.headline}`
  const lines = (md: boolean) => {
    const label = (name: string) => md ? `**${name}:**` : `${name}:`
    return [
      `${label("What happened")} ${p.happened}`,
      ...(p.cause === undefined ? [] : [`${label("Cause")} ${p.cause}`]),
      `${label("Runs now")} ${p.runsNow}`,
      `${label("Next step")} ${p.next}`,
      ...(notes === undefined || notes.trim() === ""
        ? []
        : ["", label("Release notes"), md ? "```\n" + notes.trimEnd() + "\n```" : notes.trimEnd()]),
      "",
      `Alert ${id} (${alert.reason}, ${severityOf(alert.reason)}) on ${context.host}; ` +
      `\`warm-reconcile alerts ack ${id}\` once read.`
    ].join("\n")
  }
  return {
    id,
    app: alert.app,
    severity: severityOf(alert.reason),
    title,
    text: lines(false),
    markdown: lines(true),
    alert: toJson(alert)
  }
}

const GROUP_LABEL: Record<SummaryGroup, string> = {
  upgraded: "Upgraded",
  held: "Held",
  "rolled-back": "Rolled back",
  failed: "Failed",
  unchanged: "Unchanged"
}

/** `upgraded: keycloak 1.1 -> 1.2`-like headline and body lines of a notice. */
const noticeParts = (notice: Notice, md: boolean): { readonly headline: string; readonly lines: Array<string> } => {
  const label = (name: string) => md ? `**${name}:**` : `${name}:`
  switch (notice._tag) {
    case "upgraded":
      return {
        headline: `${notice.app} upgraded ${notice.from} -> ${notice.to}`,
        lines: [
          `${label("What happened")} ${notice.app} was upgraded from ${notice.from} to ${notice.to} and passed the ` +
          "health gate.",
          `${label("Runs now")} ${notice.to}, healthy.`
        ]
      }
    case "deployed-fresh":
      return {
        headline: `${notice.app} deployed at ${notice.version}`,
        lines: [
          `${label("What happened")} ${notice.app} was not deployed; it was deployed at ${notice.version} and ` +
          "answered healthy.",
          `${label("Runs now")} ${notice.version}, healthy.`
        ]
      }
    case "summary": {
      const n = counts(notice)
      const said = SUMMARY_GROUPS.filter((g) => g !== "unchanged" || n.unchanged > 0)
      return {
        headline: `run of ${notice.apps.length} app${notice.apps.length === 1 ? "" : "s"}: ` +
          said.map((g) => `${n[g]} ${GROUP_LABEL[g].toLowerCase()}`).join(", "),
        lines: SUMMARY_GROUPS.flatMap((g) => {
          const apps = notice.apps.filter((a) => a.group === g)
          if (apps.length === 0) return []
          const each = apps.map((a) =>
            g === "unchanged" ? a.app : `${a.app} (${g === "upgraded" ? "" : `${a.outcome} `}${a.detail})`
          )
          return [`${label(GROUP_LABEL[g])} ${each.join(", ")}`]
        })
      }
    }
  }
}

/** The message for a success notice: sent only to the channels that asked for it. */
export const fromNotice = (id: string, notice: Notice, context: Context): Message => {
  const body = (md: boolean) =>
    [
      ...noticeParts(notice, md).lines,
      "",
      notice._tag === "summary"
        ? `Each hold, rollback and failure has its own alert (\`warm-reconcile alerts\`). Notice ${id} on ${context.host}.`
        : `Notice ${id} (${notice._tag}) on ${context.host}: nothing to do.`
    ].join("\n")
  return {
    id,
    app: notice._tag === "summary" ? "warm-reconcile" : notice.app,
    severity: "info",
    title: `[warm-reconcile] ${context.host}: ${noticeParts(notice, false).headline}`,
    text: body(false),
    markdown: body(true),
    notice: { ...notice }
  }
}

/** What `notify test` sends. */
export const test = (context: Context, now: string): Message => {
  const text = `A test message from warm-reconcile on ${context.host} at ${now}: this channel works.`
  return {
    id: `test-${now}`,
    app: "warm-reconcile",
    severity: "info",
    title: `[warm-reconcile] ${context.host}: test message`,
    text,
    markdown: text
  }
}
