/**
 * Who is told what: the config's `notify` entries (a channel URL, where its secret comes from, and
 * filters), the severity of each alert reason, and which entries an alert goes to. Pure.
 */
import { Either, Match, Schema } from "effect"
import { type Alert, AlertReason } from "./Alert.js"
import * as Channel from "./Channel.js"
import { type Notice, NoticeKind } from "./Notice.js"

export const SEVERITIES = ["info", "warning", "critical"] as const
export const Severity = Schema.Literal(...SEVERITIES)
export type Severity = typeof Severity.Type

/**
 * How urgent each alert is: `critical` when an app is left down (a person must act now),
 * `warning` when something changed back on its own (rollback, recovery) or needs a person's
 * upgrade, `info` for holds that only wait (a chaos deploy is a person's own work).
 */
export const severityOf: (reason: AlertReason) => Severity = Match.type<AlertReason>().pipe(
  Match.when(Match.is("rollback-failed", "unhealthy-on-latest", "unhealthy-after-deploy"), () => "critical" as const),
  // The app is stopped until a person looks: nothing is down, but nothing runs for it either.
  Match.when("state-unreadable", () => "warning" as const),
  Match.when(
    Match.is("rollback", "recovered", "redeployed", "held-major", "held-manual-migration", "held-no-space"),
    () => "warning" as const
  ),
  Match.when(
    Match.is("held-policy", "held-unknown-version", "held-failed-release", "held-chaos"),
    () => "info" as const
  ),
  Match.exhaustive
)

const ChannelUrl = Schema.String.pipe(
  Schema.filter((url) => Either.match(Channel.parse(url), { onLeft: (reason) => reason, onRight: () => true }))
)

const ChannelName = Schema.String.pipe(
  Schema.pattern(/^[a-z0-9][a-z0-9_-]{0,63}$/, {
    message: () => "a channel name is lower-case letters, digits, '_' or '-', starting with a letter or digit"
  })
)

export class NotifyChannel extends Schema.Class<NotifyChannel>("NotifyChannel")({
  url: Schema.propertySignature(ChannelUrl).annotations({
    description: "Where to send, as a URL: `smtp://user@host:587/?from=a@x&to=b@y` (STARTTLS; `smtps://` for " +
      "implicit TLS), `matrix://host/?room=!id:server`, `ntfy://host/topic`, `gotify://host`, " +
      "`slack://hooks.slack.com/services`, `mattermost://host/hooks`, `discord://discord.com/api/webhooks`, " +
      "`webhook://host/path`. `disabletls=yes` sends plain HTTP. See docs/operations.md, \"Notifications\"."
  }),
  name: Schema.optional(ChannelName).annotations({
    description: "The channel's name in logs, `alerts` and the delivery records; default: the URL's kind " +
      "(`smtp`, `ntfy`, ...). Two channels of one kind need names."
  }),
  secretFile: Schema.optional(Schema.String.pipe(Schema.startsWith("/"))).annotations({
    description: "An absolute path to a file holding the channel's secret (the SMTP password, the Matrix " +
      "access token, the ntfy token or password, the Gotify app token, the chat webhook's key path, the " +
      "webhook's HMAC key), so that none need be written in the config. Surrounding whitespace is dropped."
  }),
  secretEnv: Schema.optional(Schema.String.pipe(Schema.pattern(/^[A-Za-z_][A-Za-z0-9_]*$/))).annotations({
    description: "The name of an environment variable holding the channel's secret (as `secretFile`; under " +
      "systemd, e.g. from `LoadCredential=` or an `EnvironmentFile=`)."
  }),
  apps: Schema.optional(Schema.Array(Schema.String)).annotations({
    description: "Only the alerts of these apps; default: every app."
  }),
  reasons: Schema.optional(Schema.Array(AlertReason)).annotations({
    description:
      "Only alerts with these reasons (`rollback`, `rollback-failed`, `held-major`, ...); default: every reason."
  }),
  minSeverity: Schema.optionalWith(Severity, { default: () => "info" as const }).annotations({
    description: "Only alerts at least this severe: `info` (every alert), `warning` (rollbacks, recoveries, " +
      "major and manual-migration holds, and worse) or `critical` (an app left down)."
  }),
  successes: Schema.optional(Schema.Array(NoticeKind)).annotations({
    description: "Also tell this channel what went well (off by default): `upgraded` and `deployed-fresh` (an " +
      "app upgraded or deployed, healthy; `apps` applies), `summary` (one message per `reconcile --all` run: " +
      "the apps upgraded, held, rolled back and failed; with `apps`, only those). `reasons` and `minSeverity` " +
      "filter alerts only. Delivered through the same outbox as alerts; see docs/operations.md, \"Successes\"."
  })
}) {}

/** The list as the config holds it; names are checked to be distinct. */
export const NotifyList = Schema.Array(NotifyChannel).pipe(
  Schema.filter((entries) => {
    const names = entries.map(channelName)
    const twice = names.find((n, i) => names.indexOf(n) !== i)
    return twice === undefined ||
      `two channels are named ${twice}: give each its own "name"`
  })
)

/** The kind of a channel entry whose URL decoded. */
const kindOfUrl = (url: string): string =>
  Either.match(Channel.parse(url), { onLeft: () => "channel", onRight: Channel.kindOf })

export const channelName = (entry: Pick<NotifyChannel, "name" | "url">): string => entry.name ?? kindOfUrl(entry.url)

const SEVERITY_RANK: Record<Severity, number> = { info: 0, warning: 1, critical: 2 }

/** Does this alert go to this channel? */
export const matches = (entry: NotifyChannel, alert: Alert): boolean =>
  (entry.apps === undefined || entry.apps.includes(alert.app)) &&
  (entry.reasons === undefined || entry.reasons.includes(alert.reason)) &&
  SEVERITY_RANK[severityOf(alert.reason)] >= SEVERITY_RANK[entry.minSeverity]

/** Does any channel ask for this kind of notice? Nothing is written to the outbox otherwise. */
export const wantsNotice = (entries: ReadonlyArray<NotifyChannel>, kind: NoticeKind): boolean =>
  entries.some((entry) => entry.successes?.includes(kind) === true)

/**
 * The notice as this channel gets it, or undefined when it does not go there: the channel must
 * have asked for its kind; an app's notice passes the `apps` filter, a summary keeps only those apps.
 */
export const noticeFor = (entry: NotifyChannel, notice: Notice): Notice | undefined => {
  if (entry.successes?.includes(notice._tag) !== true) return undefined
  const only = entry.apps
  if (only === undefined) return notice
  if (notice._tag !== "summary") return only.includes(notice.app) ? notice : undefined
  const apps = notice.apps.filter((a) => only.includes(a.app))
  return apps.length === 0 ? undefined : { ...notice, apps }
}
