/**
 * Deliver the outbox: every alert waiting for a person, to every channel whose filters match it
 * and that has not accepted it yet. Each send is retried with backoff; a channel's acceptance is
 * recorded right after it answers, so that a later run (or `warm-reconcile notify`) delivers what
 * this one could not, and a recorded delivery is never repeated. It never fails: a channel that
 * keeps failing is logged and reported, and never changes a reconcile's outcome or exit code.
 */
import { Duration, Effect, Schedule } from "effect"
import * as Message from "../domain/Message.js"
import { channelName, matches } from "../domain/Notify.js"
import { Notifier } from "../services/Notifier.js"

export interface DeliverOptions extends Message.Context {
  /** Between the attempts of one send; default: 2 s doubling, 4 retries (about half a minute). */
  readonly retry?: Schedule.Schedule<unknown, unknown>
  /** The time limit of one attempt; default 30 s. */
  readonly attemptTimeout?: Duration.DurationInput
}

export interface Delivery {
  readonly id: string
  readonly channel: string
}

export interface DeliveryReport {
  readonly delivered: ReadonlyArray<Delivery>
  readonly failed: ReadonlyArray<Delivery & { readonly error: string }>
  /** The outbox could not be read (nothing was sent): why. */
  readonly outboxError?: string
}

export const DELIVERY_RETRY = Schedule.exponential(Duration.seconds(2)).pipe(Schedule.intersect(Schedule.recurs(4)))

const empty: DeliveryReport = { delivered: [], failed: [] }

export const deliverOutbox = (options: DeliverOptions): Effect.Effect<DeliveryReport, never, Notifier> =>
  Effect.gen(function*() {
    const notifier = yield* Notifier
    if (notifier.channels.length === 0) return empty
    const outbox = yield* notifier.outbox
    yield* notifier.prune(outbox.map((e) => e.id)).pipe(
      Effect.catchAll((e) => Effect.logWarning(`could not prune the delivery records: ${e.message}`))
    )
    const limit = options.attemptTimeout ?? Duration.seconds(30)
    const results = yield* Effect.forEach(notifier.channels, (entry) => {
      const channel = channelName(entry)
      // Set once one alert could not be delivered after its retries: the channel is down, and the
      // rest of its alerts wait for the next run instead of each waiting out the retries again.
      let down: string | undefined
      // One channel's alerts in order, oldest first; the channels side by side, so that one that is
      // down (and waits out its retries) does not hold up the others.
      return Effect.forEach(outbox.filter((e) => matches(entry, e.alert)), ({ alert, id }) =>
        Effect.gen(function*() {
          if ((yield* notifier.delivered(id)).has(channel)) return []
          if (down !== undefined) return [{ id, channel, ok: false as const, error: `not tried: ${down}` }]
          const message = Message.fromAlert(id, alert, options)
          yield* notifier.send(channel, message).pipe(
            Effect.timeoutFail({
              duration: limit,
              onTimeout: () => ({ message: `${channel}: no answer within ${Duration.format(limit)}` })
            }),
            Effect.tapError((e) =>
              Effect.logWarning(`delivery of ${id} to ${channel} failed (will retry): ${e.message}`)
            ),
            Effect.retry(options.retry ?? DELIVERY_RETRY)
          )
          yield* notifier.record(id, channel).pipe(Effect.retry(Schedule.recurs(2)))
          yield* Effect.logInfo(`delivered ${id} to ${channel}`)
          return [{ id, channel, ok: true as const }]
        }).pipe(
          Effect.catchAll((e) =>
            Effect.logError(`could not deliver ${id} to ${channel}; the next run retries: ${e.message}`).pipe(
              Effect.zipLeft(Effect.sync(() => void (down = e.message))),
              Effect.as([{ id, channel, ok: false as const, error: e.message }])
            )
          )
        ), { concurrency: 1 }).pipe(Effect.map((xs) => xs.flat()))
    }, { concurrency: "unbounded" }).pipe(Effect.map((xs) => xs.flat()))
    return {
      delivered: results.filter((r) => r.ok).map(({ channel, id }) => ({ id, channel })),
      failed: results.flatMap((r) => r.ok ? [] : [{ id: r.id, channel: r.channel, error: r.error }])
    }
  }).pipe(
    Effect.catchAll((e) =>
      Effect.logError(`could not read the outbox: ${e.message}`).pipe(Effect.as({ ...empty, outboxError: e.message }))
    ),
    Effect.annotateLogs({ phase: "notify" }),
    Effect.withSpan("deliver")
  )
