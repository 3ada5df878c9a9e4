/**
 * Success notices: which outcomes are successes, how a run summary groups the apps, which channel
 * gets which notice (only when it asked; `apps` narrows), and the message a person reads. Pure.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Either, Schema } from "effect"
import * as Channel from "../../src/domain/Channel.js"
import { type HttpChannel, request } from "../../src/domain/ChannelRequest.js"
import { decodeConfig } from "../../src/domain/Config.js"
import * as Message from "../../src/domain/Message.js"
import * as Notice from "../../src/domain/Notice.js"
import { noticeFor, NotifyChannel, wantsNotice } from "../../src/domain/Notify.js"
import { Outcome } from "../../src/domain/Outcome.js"

const TS = "20261125T201535Z"
const context = { host: "srv1", stateDir: "/var/lib/warm-reconcile" }

const run = Notice.summary(TS, [
  { app: "keycloak", outcome: Outcome.upgraded({ from: "1.1", to: "1.2" }) },
  { app: "nextcloud", outcome: Outcome["held-major"]({ from: "1.0", to: "2.0" }) },
  { app: "gitea", outcome: Outcome["rolled-back"]({ attempted: "1.5", lastGood: "1.4", reason: "crash loop" }) },
  { app: "wiki", outcome: Outcome["rollback-failed"]({ attempted: "3.1", lastGood: "3.0", reason: "restore" }) },
  { app: "pad", outcome: Outcome["noop-healthy"]({ version: "2.2" }) }
])

describe("success notices", () => {
  it("only upgraded and deployed-fresh are an app's success; the summary groups every outcome", () => {
    expect(Notice.ofOutcome("keycloak", TS, Outcome.upgraded({ from: "1.1", to: "1.2" }))).toEqual({
      _tag: "upgraded",
      ts: TS,
      app: "keycloak",
      from: "1.1",
      to: "1.2"
    })
    expect(Notice.ofOutcome("keycloak", TS, Outcome["deployed-fresh"]({ version: "1.2" }))?._tag).toBe(
      "deployed-fresh"
    )
    expect(Notice.ofOutcome("keycloak", TS, Outcome["noop-healthy"]({ version: "1.2" }))).toBeUndefined()
    expect(Notice.ofOutcome("keycloak", TS, Outcome.failed({ reason: "x" }))).toBeUndefined()
    expect(run._tag === "summary" && run.apps.map((a) => a.group)).toEqual([
      "upgraded",
      "held",
      "rolled-back",
      "failed",
      "unchanged"
    ])
    expect(Notice.groupOf(Outcome.recovered({ attempted: "1.2", lastGood: "1.1", committed: true }))).toBe("upgraded")
    expect(Notice.groupOf(Outcome.recovered({ attempted: "1.2", lastGood: "1.1", committed: false }))).toBe(
      "rolled-back"
    )
    expect(Notice.groupOf(Outcome["held-window"]({ from: "1", to: "2", reason: "closed" }))).toBe("unchanged")
    // What the outbox file holds decodes back to the same notice.
    expect(Schema.decodeUnknownSync(Notice.Notice)(Schema.encodeSync(Notice.Notice)(run))).toEqual(run)
    expect(Notice.baseId(run)).toBe(`${TS}-summary`)
  })

  it("a channel gets a notice only when it asked for its kind; `apps` narrows an app's notice and cuts a summary", () => {
    const upgraded = Notice.ofOutcome("keycloak", TS, Outcome.upgraded({ from: "1.1", to: "1.2" }))!
    const plain = new NotifyChannel({ url: "ntfy://ntfy.sh/all" })
    const asks = new NotifyChannel({ url: "ntfy://ntfy.sh/all", successes: ["upgraded", "summary"] })
    const gitea = new NotifyChannel({ url: "ntfy://ntfy.sh/all", successes: ["upgraded", "summary"], apps: ["gitea"] })
    // Off by default, and `minSeverity` (alerts only) does not stop a success a channel asked for.
    expect(noticeFor(plain, upgraded)).toBeUndefined()
    expect(noticeFor(plain, run)).toBeUndefined()
    expect(noticeFor(asks, upgraded)).toEqual(upgraded)
    expect(noticeFor(new NotifyChannel({ ...asks, minSeverity: "critical" }), upgraded)).toEqual(upgraded)
    expect(noticeFor(new NotifyChannel({ ...asks, successes: ["summary"] }), upgraded)).toBeUndefined()
    expect(noticeFor(gitea, upgraded)).toBeUndefined()
    const cut = noticeFor(gitea, run)
    expect(cut?._tag === "summary" && cut.apps.map((a) => a.app)).toEqual(["gitea"])
    expect(noticeFor(new NotifyChannel({ ...gitea, apps: ["other"] }), run)).toBeUndefined()
    expect(wantsNotice([plain], "upgraded")).toBe(false)
    expect(wantsNotice([plain, asks], "summary")).toBe(true)
    expect(wantsNotice([asks], "deployed-fresh")).toBe(false)
  })

  it("the config takes `successes` per channel and refuses an unknown kind, naming the entry", () => {
    const config = (successes: unknown) =>
      decodeConfig({ apps: {}, notify: [{ url: "ntfy://ntfy.sh/all", successes }] })
    expect(Either.isRight(config(["upgraded", "deployed-fresh", "summary"]))).toBe(true)
    const bad = config(["rolled-back"])
    expect(Either.isLeft(bad)).toBe(true)
    expect(String(Either.isLeft(bad) ? bad.left : "")).toContain("successes")
  })

  it("the messages: an upgrade says from and to; the summary counts each group and lists its apps", () => {
    const up = Message.fromNotice(
      "n1",
      Notice.ofOutcome("keycloak", TS, Outcome.upgraded({ from: "1.1", to: "1.2" }))!,
      context
    )
    expect(up.title).toBe("[warm-reconcile] srv1: keycloak upgraded 1.1 -> 1.2")
    expect(up.text).toContain("Runs now: 1.2, healthy.")
    expect(up.severity).toBe("info")
    expect(up.app).toBe("keycloak")
    const fresh = Message.fromNotice("n2", { _tag: "deployed-fresh", ts: TS, app: "pad", version: "2.2" }, context)
    expect(fresh.title).toBe("[warm-reconcile] srv1: pad deployed at 2.2")

    const summary = Message.fromNotice("n3", run, context)
    expect(summary.title).toBe(
      "[warm-reconcile] srv1: run of 5 apps: 1 upgraded, 1 held, 1 rolled back, 1 failed, 1 unchanged"
    )
    expect(summary.text.split("\n").slice(0, 5)).toEqual([
      "Upgraded: keycloak (1.1->1.2)",
      "Held: nextcloud (held-major 1.0->2.0)",
      "Rolled back: gitea (rolled-back 1.5->1.4)",
      "Failed: wiki (rollback-failed 3.1->3.0)",
      "Unchanged: pad"
    ])
    expect(summary.markdown).toContain("**Upgraded:** keycloak (1.1->1.2)")
    expect(summary.notice).toMatchObject({ _tag: "summary", ts: TS })
    // The generic webhook carries the notice itself where an alert's post carries the alert.
    const hook = Either.getOrThrow(Channel.parse("webhook://hooks.example.org/in")) as HttpChannel
    const posted = JSON.parse(Either.getOrThrow(request(hook, summary)).body) as Record<string, unknown>
    expect(posted).toMatchObject({ id: "n3", alert: null, notice: { _tag: "summary", ts: TS } })
    // The groups with no app are still counted (a quiet night says `0 failed`), except `unchanged`.
    const quiet = Message.fromNotice(
      "n4",
      Notice.summary(TS, [{ app: "pad", outcome: Outcome.upgraded({ from: "1", to: "2" }) }]),
      context
    )
    expect(quiet.title).toBe("[warm-reconcile] srv1: run of 1 app: 1 upgraded, 0 held, 0 rolled back, 0 failed")
  })

  it("a notice is stale once it waited longer than it is kept", () => {
    const at = Date.parse("2026-11-25T20:15:35Z")
    expect(Notice.olderThan(TS, Duration.days(7), at + Duration.toMillis(Duration.days(6)))).toBe(false)
    expect(Notice.olderThan(TS, Duration.days(7), at + Duration.toMillis(Duration.days(8)))).toBe(true)
  })
})
