/**
 * Success notices on the live Notifier (the outbox in a temp state dir, local ntfy and Gotify
 * endpoints): a success is written and delivered only when a channel asked for it, only to that
 * channel, once, and then leaves the outbox; the run summary lists the apps; a channel that is down
 * keeps its latest failure, which the backlog (what `status` shows) reports with its pending
 * deliveries; and a notice that cannot be written changes nothing.
 */
import { NodeContext, NodeHttpClient } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Layer, Schedule } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { timestamp } from "../../src/domain/Alert.js"
import * as Notice from "../../src/domain/Notice.js"
import { NotifyChannel } from "../../src/domain/Notify.js"
import { Outcome } from "../../src/domain/Outcome.js"
import * as LiveAlerts from "../../src/live/Alerts.js"
import * as NoticeFiles from "../../src/live/NoticeFiles.js"
import * as LiveNotifier from "../../src/live/Notifier.js"
import { Redaction, SecretBook } from "../../src/live/Redaction.js"
import { deliverOutbox, postNotice } from "../../src/reconcile/Deliver.js"
import type { Notifier } from "../../src/services/Notifier.js"
import { tempDir } from "../support/files.js"
import { notifyServer } from "../support/notifyServers.js"

// Now: a notice older than a week is dropped undelivered.
const TS = timestamp(Date.now())
const context = { host: "srv1", stateDir: "/var/lib/warm-reconcile", retry: Schedule.recurs(0) }

// As the original's file would say it.
const rollback = Either.getOrThrow(LiveAlerts.decode(JSON.stringify({
  app: "gitea",
  reason: "rollback",
  ts: "20261125T201500Z",
  attempted: "1.5",
  last_good: "1.4",
  cause: "crash loop"
})))

const upgraded = Notice.ofOutcome("keycloak", TS, Outcome.upgraded({ from: "1.1", to: "1.2" }))
const summary = Notice.summary(TS, [
  { app: "keycloak", outcome: Outcome.upgraded({ from: "1.1", to: "1.2" }) },
  { app: "nextcloud", outcome: Outcome["held-major"]({ from: "1.0", to: "2.0" }) },
  { app: "gitea", outcome: Outcome["rolled-back"]({ attempted: "1.5", lastGood: "1.4", reason: "crash loop" }) }
])

/** Local ntfy (the channel `phone`, which asks for successes) and Gotify (which does not). */
const setup = Effect.gen(function*() {
  const stateDir = yield* tempDir("warm-reconcile-notices-")
  const ntfy = yield* notifyServer("ntfy", { secret: "tok" })
  const gotify = yield* notifyServer("gotify", { secret: "AppToken" })
  const channels = [
    new NotifyChannel({
      name: "phone",
      url: `ntfy://tok@127.0.0.1:${ntfy.port}/ops?disabletls=yes`,
      successes: ["upgraded", "summary"]
    }),
    new NotifyChannel({ url: `gotify://127.0.0.1:${gotify.port}/AppToken?disabletls=yes` })
  ]
  const provide = <A, E>(effect: Effect.Effect<A, E, Notifier>, only = channels) =>
    Effect.provide(
      effect,
      LiveNotifier.layer({ stateDir, channels: only, env: {} }).pipe(
        Layer.provide(Layer.mergeAll(NodeHttpClient.layerUndici, Layer.succeed(Redaction, new SecretBook())))
      )
    )
  return { stateDir, ntfy, gotify, channels, provide }
})

const titles = (server: { readonly accepted: ReadonlyArray<{ readonly json: Record<string, unknown> }> }) =>
  server.accepted.map((r) => String(r.json["title"]))

describe("success notices, live", () => {
  it.scopedLive("go only to the channel that asked, once, the summary listing the apps; then leave the outbox", () =>
    Effect.gen(function*() {
      const { channels, gotify, ntfy, provide, stateDir } = yield* setup
      yield* LiveAlerts.write(stateDir, rollback)
      // Nobody asks for `deployed-fresh`: nothing is written for it.
      yield* provide(postNotice({ _tag: "deployed-fresh", ts: TS, app: "pad", version: "2.2" }))
      // Without a channel that asks, not even an upgrade is written.
      yield* provide(postNotice(upgraded), [channels[1]!])
      expect(Fs.existsSync(NoticeFiles.noticesDir(stateDir))).toBe(false)
      yield* provide(postNotice(upgraded))
      yield* provide(postNotice(summary))
      expect(Fs.readdirSync(NoticeFiles.noticesDir(stateDir)).sort()).toEqual([
        `${TS}-keycloak-upgraded.json`,
        `${TS}-summary.json`
      ])

      const report = yield* provide(deliverOutbox(context))
      expect(report.failed).toEqual([])
      expect(titles(ntfy)).toEqual([
        "[warm-reconcile] srv1: gitea rolled back 1.5 -> 1.4",
        "[warm-reconcile] srv1: keycloak upgraded 1.1 -> 1.2",
        "[warm-reconcile] srv1: run of 3 apps: 1 upgraded, 1 held, 1 rolled back, 0 failed"
      ])
      const body = String(ntfy.accepted[2]!.json["message"])
      expect(body).toContain("keycloak (1.1->1.2)")
      expect(body).toContain("nextcloud (held-major 1.0->2.0)")
      expect(body).toContain("gitea (rolled-back 1.5->1.4)")
      // Gotify did not ask: it has the alert alone.
      expect(titles(gotify)).toEqual(["[warm-reconcile] srv1: gitea rolled back 1.5 -> 1.4"])
      // Delivered everywhere it was asked for: the notices left the outbox; the alert waits for its ack.
      expect(Fs.readdirSync(NoticeFiles.noticesDir(stateDir))).toEqual([])
      expect((yield* provide(deliverOutbox(context))).delivered).toEqual([])
      expect(ntfy.accepted).toHaveLength(3)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scopedLive("a channel down keeps its latest failure; the backlog shows it pending with that failure", () =>
    Effect.gen(function*() {
      const { channels, ntfy, provide, stateDir } = yield* setup
      yield* provide(postNotice(upgraded))
      ntfy.down = 503
      const failed = yield* provide(deliverOutbox(context))
      expect(failed.failed.map((f) => [f.id, f.channel])).toEqual([[`${TS}-keycloak-upgraded`, "phone"]])
      const down = yield* LiveNotifier.backlog(stateDir, channels)
      expect(down).toMatchObject([
        { channel: "phone", pending: 1, lastFailure: { channel: "phone", id: `${TS}-keycloak-upgraded` } },
        { channel: "gotify", pending: 0, lastFailure: null }
      ])
      expect(down[0]!.lastFailure!.error).toMatch(/^phone: POST 127\.0\.0\.1:\d+ answered 503/)

      ntfy.down = undefined
      expect((yield* provide(deliverOutbox(context))).delivered).toEqual([
        { id: `${TS}-keycloak-upgraded`, channel: "phone" }
      ])
      const up = yield* LiveNotifier.backlog(stateDir, channels)
      expect(up.map((c) => c.pending)).toEqual([0, 0])
      // The latest failure stays on record (with its time) after the channel came back.
      expect(up[0]!.lastFailure?.id).toBe(`${TS}-keycloak-upgraded`)

      // A notice a week old that a channel never took is dropped, not kept for ever.
      yield* provide(postNotice({ ...upgraded!, ts: "20200101T000000Z" }))
      ntfy.down = 503
      yield* provide(deliverOutbox(context))
      expect(Fs.readdirSync(NoticeFiles.noticesDir(stateDir))).toEqual([])
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scopedLive("a notice that cannot be written is logged, never a failure", () =>
    Effect.gen(function*() {
      const { provide, stateDir } = yield* setup
      // The alerts directory is a file: nothing can be written under it.
      Fs.writeFileSync(Path.join(stateDir, "alerts"), "not a directory")
      const exit = yield* Effect.exit(provide(postNotice(upgraded)))
      expect(exit._tag).toBe("Success")
    }).pipe(Effect.provide(NodeContext.layer)))
})
