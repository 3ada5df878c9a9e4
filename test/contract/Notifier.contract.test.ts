/**
 * Notifier, live (the outbox in a temp state dir, a real local ntfy endpoint) and in memory (the
 * simulated world's alerts, a fault on the `notify` step): the outbox holds the alerts written,
 * oldest first, under the ids the Alerts layer answered; a delivery recorded is held, once, until
 * its alert leaves the outbox; a send reaches the channel or fails naming it; and the delivery
 * program over either twin delivers each alert once, a broken channel's on the next pass.
 */
import { NodeHttpClient } from "@effect/platform-node"
import { expect } from "@effect/vitest"
import { Context, Effect, Layer, Ref, Schedule } from "effect"
import * as Path from "node:path"
import { Alert, ALERT_SCHEMA_VERSION } from "../../src/domain/Alert.js"
import * as Message from "../../src/domain/Message.js"
import { NotifyChannel } from "../../src/domain/Notify.js"
import * as LiveAlerts from "../../src/live/Alerts.js"
import * as LiveNotifier from "../../src/live/Notifier.js"
import { Redaction, SecretBook } from "../../src/live/Redaction.js"
import { deliverOutbox } from "../../src/reconcile/Deliver.js"
import { Alerts } from "../../src/services/Alerts.js"
import { Notifier } from "../../src/services/Notifier.js"
import * as SimulatedAlerts from "../../src/simulation/Alerts.js"
import * as SimulatedNotifier from "../../src/simulation/Notifier.js"
import * as World from "../../src/simulation/World.js"
import { notifyServer } from "../support/notifyServers.js"
import * as Contract from "./harness.js"

const alertAt = (ts: string, reason: "rollback" | "held-major") =>
  new Alert({
    schemaVersion: ALERT_SCHEMA_VERSION,
    app: "keycloak",
    reason,
    ts,
    fields: reason === "rollback" ? { attempted: "1.2", last_good: "1.1", cause: "crash loop" } : {
      current: "1.1",
      latest: "2.0"
    }
  })
const older = alertAt("20261125T201535Z", "rollback")
const newer = alertAt("20261126T030000Z", "held-major")
const context = { host: "srv1", stateDir: "/var/lib/warm-reconcile" }

interface NotifierWorld {
  readonly notifier: Notifier["Type"]
  /** Write an alert as the program does; answers its id. */
  readonly write: (alert: Alert) => Effect.Effect<string, unknown>
  /** The titles the channel `ntfy` accepted, in order. */
  readonly received: Effect.Effect<ReadonlyArray<string>>
  /** The channel refuses (true) or accepts (false) from now on. */
  readonly broken: (down: boolean) => Effect.Effect<void>
  readonly provide: <A, E>(effect: Effect.Effect<A, E, Notifier>) => Effect.Effect<A, E>
}

const channels = [new NotifyChannel({ url: "ntfy://127.0.0.1/alerts?disabletls=yes", secretEnv: "NTFY_TOKEN" })]

const liveTwin = Contract.live<NotifierWorld>(Effect.gen(function*() {
  const stateDir = yield* Contract.scratchDir("contract-notifier-")
  const server = yield* notifyServer("ntfy", { secret: "tok" })
  const live = [new NotifyChannel({ ...channels[0]!, url: `ntfy://127.0.0.1:${server.port}/alerts?disabletls=yes` })]
  const layer = LiveNotifier.layer({ stateDir, channels: live, env: { NTFY_TOKEN: "tok" } }).pipe(
    Layer.provide(Layer.mergeAll(NodeHttpClient.layerUndici, Layer.succeed(Redaction, new SecretBook())))
  )
  const ctx = yield* Contract.layerContext(Layer.merge(layer, LiveAlerts.layer({ stateDir })))
  return {
    notifier: Context.get(ctx, Notifier),
    write: (alert) => Effect.map(Context.get(ctx, Alerts).write(alert), (path) => Path.basename(path, ".json")),
    received: Effect.sync(() => server.accepted.map((r) => String(r.json["title"]))),
    broken: (down) => Effect.sync(() => void (server.down = down ? 503 : undefined)),
    provide: (effect) => Effect.provide(effect, ctx)
  } satisfies NotifierWorld
}))

const simulatedTwin = Contract.simulated<NotifierWorld>(Effect.gen(function*() {
  const { context: alertsCtx, world } = yield* Contract.simulatedWorld(Contract.appOnly, SimulatedAlerts.layerTest)
  const { notifier, sent } = yield* SimulatedNotifier.make(channels).pipe(
    Effect.provideService(World.SimulatedWorld, world)
  )
  return {
    notifier,
    write: (alert) => Context.get(alertsCtx, Alerts).write(alert),
    received: Effect.map(Ref.get(sent), (xs) => xs.map((x) => x.message.title)),
    broken: (down) =>
      Ref.update(world.state, (s) => ({
        ...s,
        faults: down ?
          [...s.faults, { step: "notify" as const, kind: "fail" as const }] :
          s.faults.filter((f) => f.step !== "notify")
      })),
    provide: (effect) => Effect.provideService(effect, Notifier, notifier)
  } satisfies NotifierWorld
}))

Contract.suite("Notifier", [liveTwin, simulatedTwin], (test) => {
  test("the outbox holds the alerts written, oldest first, under the ids Alerts answered", (w) =>
    Effect.gen(function*() {
      expect(yield* w.notifier.outbox).toEqual([])
      const b = yield* w.write(newer)
      const a = yield* w.write(older)
      expect(yield* w.notifier.outbox).toEqual([{ id: a, alert: older }, { id: b, alert: newer }])
      expect(a).toBe("20261125T201535Z-keycloak-rollback")
    }))

  test("a recorded delivery is held, recording twice is once, and prune drops it with its alert", (w) =>
    Effect.gen(function*() {
      const a = yield* w.write(older)
      const b = yield* w.write(newer)
      expect([...(yield* w.notifier.delivered(a))]).toEqual([])
      yield* w.notifier.record(a, "ntfy")
      yield* w.notifier.record(a, "ntfy")
      yield* w.notifier.record(b, "ntfy")
      expect([...(yield* w.notifier.delivered(a))]).toEqual(["ntfy"])
      // `a` acknowledged: only `b` is still in the outbox.
      expect(yield* w.notifier.prune([b])).toBe(1)
      expect([...(yield* w.notifier.delivered(a))]).toEqual([])
      expect([...(yield* w.notifier.delivered(b))]).toEqual(["ntfy"])
      expect(yield* w.notifier.prune([b])).toBe(0)
    }))

  test("notices: post answers the id (a second of one name gets -2), listed oldest first, settle removes one", (w) =>
    Effect.gen(function*() {
      const upgraded = { _tag: "upgraded", ts: "20261126T030000Z", app: "keycloak", from: "1.1", to: "1.2" } as const
      const summary = { _tag: "summary", ts: "20261125T201535Z", apps: [] } as const
      expect(yield* w.notifier.notices).toEqual([])
      expect(yield* w.notifier.post(summary)).toBe("20261125T201535Z-summary")
      expect(yield* w.notifier.post(upgraded)).toBe("20261126T030000Z-keycloak-upgraded")
      expect(yield* w.notifier.post(upgraded)).toBe("20261126T030000Z-keycloak-upgraded-2")
      expect((yield* w.notifier.notices).map((n) => n.id)).toEqual([
        "20261125T201535Z-summary",
        "20261126T030000Z-keycloak-upgraded",
        "20261126T030000Z-keycloak-upgraded-2"
      ])
      expect((yield* w.notifier.notices)[1]!.notice).toEqual(upgraded)
      yield* w.notifier.settle("20261126T030000Z-keycloak-upgraded")
      expect((yield* w.notifier.notices).map((n) => n.id)).toEqual([
        "20261125T201535Z-summary",
        "20261126T030000Z-keycloak-upgraded-2"
      ])
      // Notices are not alerts: the alerts' outbox does not hold them.
      expect(yield* w.notifier.outbox).toEqual([])
    }))

  test("send reaches the channel; a broken channel or an unknown name fails naming the channel", (w) =>
    Effect.gen(function*() {
      const message = Message.fromAlert("x", older, context)
      yield* w.notifier.send("ntfy", message)
      expect(yield* w.received).toEqual([message.title])
      yield* w.broken(true)
      const down = yield* Contract.failureOf(w.notifier.send("ntfy", message))
      expect(down._tag).toBe("SendError")
      expect(down.channel).toBe("ntfy")
      expect(down.message).toMatch(/^ntfy: /)
      const unknown = yield* Contract.failureOf(w.notifier.send("pager", message))
      expect(unknown.message).toBe("pager: no such channel in the config")
      expect(yield* w.received).toHaveLength(1)
    }))

  test("delivery: each alert once; a broken channel's alerts on the next pass, never twice", (w) =>
    Effect.gen(function*() {
      const deliver = w.provide(deliverOutbox({ ...context, retry: Schedule.recurs(1) }))
      const a = yield* w.write(older)
      const b = yield* w.write(newer)
      yield* w.broken(true)
      const failed = yield* deliver
      expect(failed.failed.map((f) => [f.id, f.channel])).toEqual([[a, "ntfy"], [b, "ntfy"]])
      // The channel is down: the second alert is not tried (and its retries not waited out) this pass.
      expect(failed.failed[1]!.error).toMatch(/^not tried: ntfy: /)
      expect(yield* w.received).toEqual([])
      yield* w.broken(false)
      const next = yield* deliver
      expect(next.delivered).toEqual([{ id: a, channel: "ntfy" }, { id: b, channel: "ntfy" }])
      expect((yield* deliver).delivered).toEqual([])
      expect(yield* w.received).toEqual([
        "[warm-reconcile] srv1: keycloak rolled back 1.2 -> 1.1",
        "[warm-reconcile] srv1: keycloak held at 1.1: 2.0 is a major upgrade"
      ])
    }))
})
