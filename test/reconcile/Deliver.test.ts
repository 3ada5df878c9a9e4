/**
 * The delivery of the outbox on the simulated world, on virtual time (its backoff takes no real
 * time), under random faults on the channels: whatever failed, one later undisturbed pass leaves
 * no alert undelivered to a channel whose filters match it, none is sent to one that does not
 * match, and without a crash none is sent twice.
 */
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Ref } from "effect"
import fc from "fast-check"
import { Alert, ALERT_SCHEMA_VERSION, AlertReason } from "../../src/domain/Alert.js"
import { matches, NotifyChannel } from "../../src/domain/Notify.js"
import { deliverOutbox } from "../../src/reconcile/Deliver.js"
import { Alerts } from "../../src/services/Alerts.js"
import { Notifier } from "../../src/services/Notifier.js"
import * as SimulatedAlerts from "../../src/simulation/Alerts.js"
import * as SimulatedNotifier from "../../src/simulation/Notifier.js"
import { runOnVirtualClock } from "../../src/simulation/VirtualClock.js"
import * as World from "../../src/simulation/World.js"
import { appOnly, simulatedWorld } from "../contract/harness.js"

const CHANNELS = [
  new NotifyChannel({ url: "ntfy://ntfy.sh/all" }),
  new NotifyChannel({ name: "pager", url: "ntfy://ntfy.sh/pager", minSeverity: "critical" }),
  new NotifyChannel({ name: "kc-mail", url: "smtp://m.example.org/?from=a@x.org&to=b@x.org", apps: ["keycloak"] })
]

const arbitraryAlert = fc.record({
  app: fc.constantFrom("keycloak", "nextcloud"),
  reason: fc.constantFrom(...AlertReason.literals),
  second: fc.integer({ min: 0, max: 5 })
}).map(({ app, reason, second }) =>
  new Alert({
    schemaVersion: ALERT_SCHEMA_VERSION,
    app,
    reason,
    ts: `2026112${second % 2}T00000${second}Z`,
    fields: {}
  })
)

const arbitraryFault = fc.record({
  after: fc.integer({ min: 0, max: 6 }),
  times: fc.integer({ min: 1, max: 8 }),
  kind: fc.constantFrom("fail" as const, "hang" as const)
})

describe("delivery under faults", () => {
  it.live("one undisturbed pass after any faults delivers every matching alert to its channels, once", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.array(arbitraryAlert, { minLength: 1, maxLength: 6 }),
          fc.array(arbitraryFault, { maxLength: 3 }),
          (alerts, faults) =>
            Effect.runPromise(Effect.scoped(Effect.gen(function*() {
              const { context, world } = yield* simulatedWorld(appOnly, SimulatedAlerts.layerTest)
              const ids = yield* Effect.forEach(alerts, (a) => Context.get(context, Alerts).write(a))
              const { notifier, sent } = yield* SimulatedNotifier.make(CHANNELS).pipe(
                Effect.provideService(World.SimulatedWorld, world)
              )
              const deliver = deliverOutbox({ host: "h", stateDir: "/s", attemptTimeout: "30 seconds" }).pipe(
                Effect.provideService(Notifier, notifier)
              )
              yield* Ref.update(world.state, (s) => ({
                ...s,
                faults: faults.map((f) => ({ step: "notify" as const, ...f }))
              }))
              yield* Effect.flatMap(runOnVirtualClock(deliver), (exit) => exit)
              yield* Ref.update(world.state, (s) => ({ ...s, faults: [] }))
              yield* Effect.flatMap(runOnVirtualClock(deliver), (exit) => exit)
              const got = (yield* Ref.get(sent)).map((x) => `${x.message.id} ${x.channel}`)
              const expected = alerts.flatMap((alert, i) =>
                CHANNELS.filter((c) => matches(c, alert)).map((c) => `${ids[i]} ${c.name ?? "ntfy"}`)
              )
              expect([...got].sort()).toEqual([...expected].sort())
            })))
        ),
        { numRuns: 60 }
      )
    ))
})
