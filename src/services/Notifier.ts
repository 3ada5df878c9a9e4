/**
 * Notifier: the outbox of alerts and the channels they are delivered to. The outbox is the alerts
 * waiting for a person (`<stateDir>/alerts/`); a delivery is recorded per alert and channel, after
 * the channel accepted it, so that a delivery is retried until it succeeds and never repeated
 * once recorded. The program that drives it is `reconcile/Deliver.ts`.
 */
import type { Effect } from "effect"
import { Context, Schema } from "effect"
import type { Alert } from "../domain/Alert.js"
import type { Message } from "../domain/Message.js"
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
  /** Send one message to the channel of this name (the message is scrubbed of secrets first). */
  readonly send: (channel: string, message: Message) => Effect.Effect<void, SendError>
}>() {}
