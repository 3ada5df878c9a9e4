/**
 * Deliver the outbox: every alert waiting for a person, to every channel whose filters match it
 * and that has not accepted it yet, then the success notices to the channels that asked for them
 * (a notice leaves the outbox once each of them took it, or after a week). Each send is retried with backoff; a channel's acceptance is
 * recorded right after it answers, so that a later run (or `warm-reconcile notify`) delivers what
 * this one could not, and a recorded delivery is never repeated. It never fails: a channel that
 * keeps failing is logged and reported, and never changes a reconcile's outcome or exit code.
 */
import { Clock, Duration, Effect, Schedule } from "effect"
import * as Message from "../domain/Message.js"
import { type Notice, olderThan } from "../domain/Notice.js"
import { channelName, matches, noticeFor, wantsNotice } from "../domain/Notify.js"
import { type NoticeEntry, Notifier } from "../services/Notifier.js"

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

/** How long an undelivered notice waits for a channel that is down: news of a success goes stale. */
export const NOTICE_KEPT = Duration.days(7)

const empty: DeliveryReport = { delivered: [], failed: [] }

/** The channel's latest failure, for `status`; a record that cannot be written is only logged. */
const keepFailure = (channel: string, id: string, error: string) =>
  Effect.gen(function*() {
    const at = new Date(yield* Clock.currentTimeMillis).toISOString()
    yield* Effect.flatMap(Notifier, (n) => n.recordFailure({ channel, id, error, at }))
  }).pipe(Effect.catchAll((e) => Effect.logWarning(`could not record the failure of ${channel}: ${e.message}`)))

/**
 * A notice leaves the outbox once every channel that asks for it took it (none left that asks:
 * at once), or once it has waited a week; a notice that cannot be removed is tried next time.
 */
const settleNotices = (notices: ReadonlyArray<NoticeEntry>) =>
  Effect.gen(function*() {
    const notifier = yield* Notifier
    const now = yield* Clock.currentTimeMillis
    yield* Effect.forEach(notices, ({ id, notice }) =>
      Effect.gen(function*() {
        const taken = yield* notifier.delivered(id)
        const waiting = notifier.channels.map(channelName).filter((channel, i) =>
          noticeFor(notifier.channels[i]!, notice) !== undefined && !taken.has(channel)
        )
        if (waiting.length === 0) return yield* notifier.settle(id)
        if (olderThan(notice.ts, NOTICE_KEPT, now)) {
          yield* Effect.logWarning(`dropping the notice ${id}, undelivered for a week to ${waiting.join(", ")}`)
          yield* notifier.settle(id)
        }
      }).pipe(Effect.catchAll((e) => Effect.logWarning(`could not settle the notice ${id}: ${e.message}`))), {
      discard: true
    })
  })

export const deliverOutbox = (options: DeliverOptions): Effect.Effect<DeliveryReport, never, Notifier> =>
  Effect.gen(function*() {
    const notifier = yield* Notifier
    if (notifier.channels.length === 0) return empty
    const outbox = yield* notifier.outbox
    // Notices that cannot be read never hold up the alerts; their records are then not pruned.
    const read = yield* Effect.either(notifier.notices)
    const notices = read._tag === "Right" ? read.right : []
    if (read._tag === "Left") yield* Effect.logWarning(`could not read the notices: ${read.left.message}`)
    if (read._tag === "Right") {
      yield* notifier.prune([...outbox, ...notices].map((e) => e.id)).pipe(
        Effect.catchAll((e) => Effect.logWarning(`could not prune the delivery records: ${e.message}`))
      )
    }
    const limit = options.attemptTimeout ?? Duration.seconds(30)
    const results = yield* Effect.forEach(notifier.channels, (entry) => {
      const channel = channelName(entry)
      // Set once one alert could not be delivered after its retries: the channel is down, and the
      // rest of its alerts wait for the next run instead of each waiting out the retries again.
      let down: string | undefined
      // One channel's alerts in order, oldest first, then the notices it asked for (as it gets them:
      // a summary cut to its apps); the channels side by side, so that one that is down (and waits
      // out its retries) does not hold up the others.
      const items = [
        ...outbox.filter((e) => matches(entry, e.alert)).map(({ alert, id }) => ({
          id,
          message: () => Message.fromAlert(id, alert, options)
        })),
        ...notices.flatMap(({ id, notice }) => {
          const mine = noticeFor(entry, notice)
          return mine === undefined ? [] : [{ id, message: () => Message.fromNotice(id, mine, options) }]
        })
      ]
      return Effect.forEach(items, ({ id, message }) =>
        Effect.gen(function*() {
          if ((yield* notifier.delivered(id)).has(channel)) return []
          if (down !== undefined) return [{ id, channel, ok: false as const, error: `not tried: ${down}` }]
          yield* notifier.send(channel, message()).pipe(
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
              Effect.zipLeft(keepFailure(channel, id, e.message)),
              Effect.as([{ id, channel, ok: false as const, error: e.message }])
            )
          )
        ), { concurrency: 1 }).pipe(Effect.map((xs) => xs.flat()))
    }, { concurrency: "unbounded" }).pipe(Effect.map((xs) => xs.flat()))
    yield* settleNotices(notices)
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

/**
 * Put a success notice into the outbox, when some channel asked for its kind (else nothing is
 * written). It never fails: a notice that cannot be written is logged and not sent, and never
 * changes an outcome or an exit code.
 */
export const postNotice = (notice: Notice | undefined): Effect.Effect<void, never, Notifier> =>
  notice === undefined ? Effect.void : Effect.gen(function*() {
    const notifier = yield* Notifier
    if (!wantsNotice(notifier.channels, notice._tag)) return
    const id = yield* notifier.post(notice)
    yield* Effect.logInfo(`the notice ${id} waits in the outbox`)
  }).pipe(
    Effect.catchAll((e) =>
      Effect.logWarning(`could not write the ${notice._tag} notice; it is not sent: ${e.message}`)
    ),
    Effect.annotateLogs({ phase: "notify" })
  )
