/**
 * Channels as URLs, the config's `notify` list (a bad entry is a config error that names it), the
 * filters, the severities and the message a person reads. Pure.
 */
import { describe, expect, it } from "@effect/vitest"
import { Either, Option } from "effect"
import { Alert, ALERT_SCHEMA_VERSION, AlertReason } from "../../src/domain/Alert.js"
import * as Channel from "../../src/domain/Channel.js"
import { type HttpChannel, request } from "../../src/domain/ChannelRequest.js"
import { decodeConfig } from "../../src/domain/Config.js"
import * as Message from "../../src/domain/Message.js"
import { matches, NotifyChannel, severityOf } from "../../src/domain/Notify.js"

const parsed = (url: string) => Either.getOrThrowWith(Channel.parse(url), (e) => new Error(e))
const refused = (url: string) => Either.match(Channel.parse(url), { onLeft: (e) => e, onRight: () => "accepted" })

const alert = (reason: AlertReason, app = "keycloak", fields: Record<string, unknown> = {}) =>
  new Alert({ schemaVersion: ALERT_SCHEMA_VERSION, app, reason, ts: "20261125T201535Z", fields })

const context = { host: "srv1", stateDir: "/var/lib/warm-reconcile" }

const containsAll = (text: string, parts: ReadonlyArray<string>) => {
  for (const part of parts) expect(text).toContain(part)
}

describe("channel URLs", () => {
  it("smtp:// is STARTTLS on 587 by default, smtps:// implicit TLS on 465, with auth and recipients", () => {
    const smtp = parsed("smtp://warm:pa%40ss@mail.example.org/?from=warm@example.org&to=a@x.org,b@y.org")
    expect(smtp).toMatchObject({
      _tag: "smtp",
      host: "mail.example.org",
      port: 587,
      tls: "starttls",
      verifyTls: true,
      from: "warm@example.org",
      to: ["a@x.org", "b@y.org"]
    })
    expect(smtp._tag === "smtp" && Option.getOrNull(smtp.password)).toBe("pa@ss")
    expect(parsed("smtps://mail.example.org/?from=a@x.org&to=b@x.org")).toMatchObject({ port: 465, tls: "implicit" })
    expect(parsed("smtp://localhost:25/?from=a@x.org&to=b@x.org&starttls=no")).toMatchObject({ port: 25, tls: "none" })
  })

  it("each HTTP kind: https by default, http with disabletls=yes, its secret from the URL or apart", () => {
    expect(parsed("ntfy://ntfy.sh/alerts")).toMatchObject({ _tag: "ntfy", base: "https://ntfy.sh", topic: "alerts" })
    expect(parsed("ntfy://127.0.0.1:8080/alerts?disabletls=yes")).toMatchObject({ base: "http://127.0.0.1:8080" })
    expect(parsed("gotify://push.example.org/AppToken")).toMatchObject({
      base: "https://push.example.org",
      token: Option.some("AppToken")
    })
    expect(parsed("matrix://matrix.example.org/?room=!abc:example.org")).toMatchObject({
      base: "https://matrix.example.org",
      room: "!abc:example.org",
      token: Option.none()
    })
    const slack = Channel.withSecret(parsed("slack://hooks.slack.com/services"), "T1/B2/C3")
    expect(slack).toMatchObject({ _tag: "chat", flavor: "slack", url: "https://hooks.slack.com/services/T1/B2/C3" })
    expect(parsed("webhook://example.org/in?token=abc")).toMatchObject({ url: "https://example.org/in?token=abc" })
  })

  it("refuses what it cannot send to, saying why, and never repeating a password", () => {
    expect(refused("http://example.org")).toContain("expected a URL starting with one of smtp://")
    expect(refused("smtp://u:hunter22@mail.example.org/?to=a@x.org")).toBe("smtp:// needs from=<address>")
    expect(refused("smtp://mail.example.org/?from=a@x.org")).toBe("smtp:// needs to=<address>[,...]")
    expect(refused("matrix://m.example.org/?room=#alias:example.org")).toContain("room=!<id>:<server>")
    expect(refused("ntfy://ntfy.sh/")).toContain("needs a topic")
    expect(refused("ntfy://ntfy.sh/a?priority=5")).toContain("unknown parameter priority")
    expect(refused("gotify://g.example.org?disabletls=maybe")).toContain("expected yes or no")
    for (const url of ["smtp://u:hunter22@mail.example.org/?to=a@x.org", "ntfy://u:hunter22@h/a?x=1"]) {
      expect(refused(url)).not.toContain("hunter22")
    }
  })

  it("describe names where a channel goes, without its secret", () => {
    const c = Channel.withSecret(parsed("discord://discord.com/api/webhooks"), "123/very-secret-token")
    expect(Channel.describe(c)).toBe("discord discord.com")
    expect(Channel.describe(parsed("ntfy://tok3n@ntfy.sh/alerts"))).toBe("ntfy https://ntfy.sh/alerts")
  })
})

describe("the notify list in the config", () => {
  const withNotify = (notify: unknown) => decodeConfig({ apps: {}, notify }, "warm.json")

  it("decodes entries with their defaults; none at all is an empty list", () => {
    const config = Either.getOrThrow(withNotify([{ url: "ntfy://ntfy.sh/alerts", secretEnv: "NTFY_TOKEN" }]))
    expect(config.notify[0]).toMatchObject({
      url: "ntfy://ntfy.sh/alerts",
      minSeverity: "info",
      secretEnv: "NTFY_TOKEN"
    })
    expect(Either.getOrThrow(decodeConfig({ apps: {} })).notify).toEqual([])
  })

  it("a bad URL, severity or name is a config error naming the entry", () => {
    const bad = (notify: unknown) => Either.match(withNotify(notify), { onLeft: (e) => e, onRight: () => undefined })
    const url = bad([{ url: "ntfy://ntfy.sh/ok" }, { url: "matrix://m.example.org" }])
    expect(url?.path).toBe("notify[1].url")
    expect(url?.message).toContain("matrix:// needs room=")
    expect(bad([{ url: "ntfy://ntfy.sh/a", minSeverity: "loud" }])?.path).toBe("notify[0].minSeverity")
    expect(bad([{ url: "ntfy://ntfy.sh/a", colour: "red" }])?.path).toBe("notify[0].colour")
    const twice = bad([{ url: "ntfy://ntfy.sh/a" }, { url: "ntfy://ntfy.sh/b" }])
    expect(twice?.message).toContain("two channels are named ntfy")
    expect(Either.isRight(withNotify([{ url: "ntfy://ntfy.sh/a" }, { url: "ntfy://ntfy.sh/b", name: "phone" }]))).toBe(
      true
    )
  })
})

describe("filters and severities", () => {
  it("every reason has a severity; an app left down is critical", () => {
    for (const reason of AlertReason.literals) expect(["info", "warning", "critical"]).toContain(severityOf(reason))
    expect(severityOf("rollback-failed")).toBe("critical")
    expect(severityOf("unhealthy-on-latest")).toBe("critical")
    expect(severityOf("rollback")).toBe("warning")
    expect(severityOf("held-policy")).toBe("info")
  })

  it("apps, reasons and a minimum severity each narrow what a channel gets", () => {
    const entry = (fields: Partial<ConstructorParameters<typeof NotifyChannel>[0]>) =>
      new NotifyChannel({ url: "ntfy://ntfy.sh/a", ...fields })
    expect(matches(entry({}), alert("held-policy"))).toBe(true)
    expect(matches(entry({ apps: ["nextcloud"] }), alert("rollback"))).toBe(false)
    expect(matches(entry({ apps: ["keycloak"] }), alert("rollback"))).toBe(true)
    expect(matches(entry({ reasons: ["rollback-failed"] }), alert("rollback"))).toBe(false)
    expect(matches(entry({ minSeverity: "warning" }), alert("held-policy"))).toBe(false)
    expect(matches(entry({ minSeverity: "warning" }), alert("held-major"))).toBe(true)
    expect(matches(entry({ minSeverity: "critical" }), alert("rollback"))).toBe(false)
    expect(matches(entry({ minSeverity: "critical" }), alert("rollback-failed"))).toBe(true)
  })
})

describe("the message", () => {
  /** The message of an upgrade 1.1 -> 1.2 that was undone (or not), the snapshot of 1.1 taken. */
  const upgradeFrom11 = (
    reason: "rollback" | "rollback-failed",
    app: string,
    id: string,
    fields: Record<string, unknown>
  ) =>
    Message.fromAlert(
      id,
      alert(reason, app, { attempted: "1.2", last_good: "1.1", snapshot_version: "1.1", ...fields }),
      context
    )

  it("a rollback: the title, what happened, the cause, what runs now, the notes and the next step", () => {
    const m = upgradeFrom11("rollback", "keycloak", "20261125T201535Z-keycloak-rollback", {
      cause: "health gate failed",
      release_notes: "1.2: new theme"
    })
    expect(m.title).toBe("[warm-reconcile] srv1: keycloak rolled back 1.2 -> 1.1")
    containsAll(m.text, [
      "What happened: The upgrade to 1.2 failed; keycloak was rolled back to 1.1 with its data",
      "Cause: health gate failed",
      "Runs now: 1.1, healthy.",
      "`warm-reconcile unhold keycloak` retries it",
      "1.2: new theme",
      "warm-reconcile alerts ack 20261125T201535Z-keycloak-rollback"
    ])
    expect(m.markdown).toContain("**Cause:** health gate failed")
    expect(m.severity).toBe("warning")
  })

  it("a major hold says to upgrade by hand with abra; a failed rollback what is down and where the snapshot is", () => {
    const held = Message.fromAlert("a", alert("held-major", "kc", { current: "1.1", latest: "2.0" }), context)
    expect(held.title).toBe("[warm-reconcile] srv1: kc held at 1.1: 2.0 is a major upgrade")
    expect(held.text).toContain("upgrade by hand with abra")
    const failed = upgradeFrom11("rollback-failed", "kc", "b", { failed_step: "restore", error: "tar failed" })
    expect(failed.title).toBe("[warm-reconcile] srv1: kc is DOWN: the rollback 1.2 -> 1.1 failed")
    containsAll(failed.text, [
      "step restore: tar failed",
      "Runs now: nothing healthy: kc is down or unhealthy.",
      "snapshot of the data (of 1.1) is in /var/lib/warm-reconcile/kc/"
    ])
    expect(failed.severity).toBe("critical")
  })

  it("every reason makes a title naming the host and the app", () => {
    for (const reason of AlertReason.literals) {
      const m = Message.fromAlert("id", alert(reason), context)
      expect(m.title.startsWith("[warm-reconcile] srv1: keycloak ")).toBe(true)
      expect(m.text).toContain("Next step:")
    }
  })

  it("Matrix: plain body, and HTML with the title bold and the text escaped", () => {
    const m = Message.fromAlert(
      "id",
      alert("unhealthy-on-latest", "kc", { version: "1.1", error: "<script>" }),
      context
    )
    const matrix = Channel.withSecret(parsed("matrix://m.example.org/?room=!r:example.org"), "tok") as HttpChannel
    const sent = JSON.parse(Either.getOrThrow(request(matrix, m)).body) as Record<string, string>
    expect(sent["body"]).toContain("Cause: <script>")
    expect(sent["format"]).toBe("org.matrix.custom.html")
    expect(sent["formatted_body"]).toMatch(/^<strong>\[warm-reconcile\] srv1: kc is UNHEALTHY on 1\.1<\/strong><br>/)
    expect(sent["formatted_body"]).toContain("Cause: &lt;script&gt;")
    expect(sent["formatted_body"]).not.toContain("<script>")
  })

  it("Discord's 2000-character limit is kept; a missing token is said, not sent", () => {
    const long = Message.fromAlert("id", alert("held-major", "kc", { release_notes: "x".repeat(5000) }), context)
    const discord = Either.getOrThrow(
      request(Channel.withSecret(parsed("discord://d.com/api/webhooks"), "1/t") as HttpChannel, long)
    )
    expect((JSON.parse(discord.body) as { content: string }).content.length).toBeLessThanOrEqual(2000)
    const noToken = request(parsed("gotify://g.example.org") as HttpChannel, long)
    expect(Either.isLeft(noToken) && noToken.left).toContain("no Gotify app token: set the channel's secretFile")
  })
})
