/**
 * Notifier: the outbox of alerts and the channels they are delivered to. The outbox is the alerts
 * waiting for a person (`<stateDir>/alerts/`), and the success notices a channel asked for
 * (`<stateDir>/alerts/notices/`); a delivery is recorded per alert and channel, after
 * the channel accepted it, so that a delivery is retried until it succeeds and never repeated
 * once recorded. The program that drives it is `reconcile/Deliver.ts`.
 */
import type { Effect } from "effect"
import { Context, Schema } from "effect"
import type { Alert } from "../domain/Alert.js"
import type { Message } from "../domain/Message.js"
import type { Notice } from "../domain/Notice.js"
import type { NotifyChannel } from "../domain/Notify.js"

export class OutboxError extends Schema.TaggedError<OutboxError>()("OutboxError", {
  message: Schema.String
}) {}

/** A channel did not accept a message; the message says which channel and why, never a secret. */
export class SendError extends Schema.TaggedError<SendError>()("SendError", {
  channel: Schema.String,
  message: Schema.String
}) {}

/** An alert waiting in the outbox, by its id (the file name without `.json`). */
export interface OutboxEntry {
  readonly id: string
  readonly alert: Alert
}

/** A success notice waiting in the outbox, by its id (the file name without `.json`). */
export interface NoticeEntry {
  readonly id: string
  readonly notice: Notice
}

/** A channel's latest delivery that failed after its retries: what `status` shows. */
export interface ChannelFailure {
  readonly channel: string
  /** The alert or notice that was not delivered. */
  readonly id: string
  readonly error: string
  /** ISO 8601, UTC. */
  readonly at: string
}

export class Notifier extends Context.Tag("warm-reconcile/Notifier")<Notifier, {
  /** The configured channels, in the config's order. */
  readonly channels: ReadonlyArray<NotifyChannel>
  /** The alerts not yet acknowledged, oldest first. */
  readonly outbox: Effect.Effect<ReadonlyArray<OutboxEntry>, OutboxError>
  /** The names of the channels that have accepted this alert. */
  readonly delivered: (id: string) => Effect.Effect<ReadonlySet<string>, OutboxError>
  /** Record, durably, that `channel` accepted the alert `id`. Recording twice is recording once. */
  readonly record: (id: string, channel: string) => Effect.Effect<void, OutboxError>
  /** Drop the records of alerts that are no longer in the outbox (acknowledged or removed); answers how many. */
  readonly prune: (outbox: ReadonlyArray<string>) => Effect.Effect<number, OutboxError>
  /** The success notices waiting for the channels that asked for them, oldest first. */
  readonly notices: Effect.Effect<ReadonlyArray<NoticeEntry>, OutboxError>
  /** Write a notice into the outbox, durably (scrubbed of secrets); answers its id. */
  readonly post: (notice: Notice) => Effect.Effect<string, OutboxError>
  /** Remove a notice from the outbox: every channel that asked took it, or it waited too long. */
  readonly settle: (id: string) => Effect.Effect<void, OutboxError>
  /** Keep this failure as the channel's latest (replacing the one before). */
  readonly recordFailure: (failure: ChannelFailure) => Effect.Effect<void, OutboxError>
  /** Send one message to the channel of this name (the message is scrubbed of secrets first). */
  readonly send: (channel: string, message: Message) => Effect.Effect<void, SendError>
}>() {}
