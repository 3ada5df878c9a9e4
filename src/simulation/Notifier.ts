/**
 * In-memory Notifier over the simulated world: the outbox is the world's alerts (with the ids the
 * live files would have) and the notices posted here, the delivery records, the latest failure of
 * each channel and the messages each channel accepted are kept here, and a fault injected into
 * the `notify` step makes a channel fail.
 */
import { Effect, Layer, Ref } from "effect"
import type { Message } from "../domain/Message.js"
import { baseId } from "../domain/Notice.js"
import { channelName, type NotifyChannel } from "../domain/Notify.js"
import { type ChannelFailure, type NoticeEntry, Notifier, type OutboxEntry, SendError } from "../services/Notifier.js"
import { SimulatedWorld } from "./World.js"

/** What a simulated channel accepted. */
export interface Sent {
  readonly channel: string
  readonly message: Message
}

/** The ids the live Alerts layer gives: `<ts>-<app>-<reason>`, then `-2`, `-3` within one second. */
const withIds = (alerts: ReadonlyArray<OutboxEntry["alert"]>): ReadonlyArray<OutboxEntry> => {
  const seen = new Map<string, number>()
  return alerts.map((alert) => {
    const base = `${alert.ts}-${alert.app}-${alert.reason}`
    const n = (seen.get(base) ?? 0) + 1
    seen.set(base, n)
    return { id: n === 1 ? base : `${base}-${n}`, alert }
  })
}

/** The notifier and what its channels accepted, for a test to look at. */
export const make = (channels: ReadonlyArray<NotifyChannel>) =>
  Effect.gen(function*() {
    const world = yield* SimulatedWorld
    const records = yield* Ref.make(new Map<string, ReadonlySet<string>>())
    const sent = yield* Ref.make<ReadonlyArray<Sent>>([])
    const notices = yield* Ref.make<ReadonlyArray<NoticeEntry>>([])
    const failures = yield* Ref.make<ReadonlyMap<string, ChannelFailure>>(new Map())
    const names = new Set(channels.map(channelName))
    const notifier = Notifier.of({
      channels,
      // Oldest first by time, as the live file names sort (within one second: in the order written).
      outbox: Effect.map(Ref.get(world.state), (s) =>
        [...withIds(s.alerts)].sort((a, b) => a.alert.ts.localeCompare(b.alert.ts))),
      delivered: (id) =>
        Effect.map(Ref.get(records), (r) => r.get(id) ?? new Set<string>()),
      record: (id, channel) => Ref.update(records, (r) => new Map(r).set(id, new Set([...(r.get(id) ?? []), channel]))),
      prune: (outbox) =>
        Ref.modify(records, (r) => {
          const kept = new Map([...r].filter(([id]) => outbox.includes(id)))
          return [r.size - kept.size, kept] as const
        }),
      // In the order posted, which is oldest first; the ids as the live files would have them.
      notices: Ref.get(notices),
      post: (notice) =>
        Ref.modify(notices, (xs) => {
          const base = baseId(notice)
          let n = 1
          while (xs.some((x) => x.id === (n === 1 ? base : `${base}-${n}`))) n++
          const id = n === 1 ? base : `${base}-${n}`
          return [id, [...xs, { id, notice }]] as const
        }),
      settle: (id) => Ref.update(notices, (xs) => xs.filter((x) => x.id !== id)),
      recordFailure: (failure) => Ref.update(failures, (m) => new Map(m).set(failure.channel, failure)),
      send: (channel, message) =>
        Effect.gen(function*() {
          if (!names.has(channel)) {
            return yield* new SendError({ channel, message: `${channel}: no such channel in the config` })
          }
          yield* world.step("notify", message.app, `notify ${channel} ${message.id}`).pipe(
            Effect.mapError((fault) => new SendError({ channel, message: `${channel}: ${fault.message}` }))
          )
          yield* Ref.update(sent, (xs) => [...xs, { channel, message }])
        })
    })
    return { notifier, sent, notices, failures }
  })

/** In-memory channels for `channels`, over the simulated world. */
export const layerTest = (channels: ReadonlyArray<NotifyChannel>): Layer.Layer<Notifier, never, SimulatedWorld> =>
  Layer.effect(Notifier, Effect.map(make(channels), (m) => m.notifier))
