/**
 * Live Notifier: the outbox is `<stateDir>/alerts/` (the alerts not yet acknowledged, and the
 * success notices in `notices/`, see NoticeFiles.ts), a delivery record is one small file
 * `<stateDir>/alerts/deliveries/<id>.<channel>.json`, written atomically once the channel
 * accepted, and each channel is a real SMTP server or HTTP endpoint.
 * Every message is scrubbed of the apps' secret values before it leaves; a channel's own secret
 * is read from its `secretFile` or `secretEnv` when it is sent to, never logged.
 */
import { FileSystem, type HttpClient } from "@effect/platform"
import { Effect, Either, Layer } from "effect"
import * as Path from "node:path"
import type { Alert } from "../domain/Alert.js"
import * as Channel from "../domain/Channel.js"
import type { Message } from "../domain/Message.js"
import type { Notice } from "../domain/Notice.js"
import { channelName, matches, noticeFor, type NotifyChannel } from "../domain/Notify.js"
import { type ChannelFailure, Notifier, OutboxError, SendError } from "../services/Notifier.js"
import { alertsDir, list } from "./Alerts.js"
import { ensureDir, removeFile, writeFileAtomic } from "./AtomicFile.js"
import { errorCode, fileError } from "./FileChecks.js"
import * as NoticeFiles from "./NoticeFiles.js"
import * as NotifyHttp from "./NotifyHttp.js"
import * as NotifySmtp from "./NotifySmtp.js"
import { Redaction, type Scrubber } from "./Redaction.js"

export interface Options {
  readonly stateDir: string
  readonly channels: ReadonlyArray<NotifyChannel>
  /** Where `secretEnv` is looked up; default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>
}

export const deliveriesDir = (stateDir: string) => Path.join(alertsDir(stateDir), "deliveries")

const RECORD = ".json"
const recordName = (id: string, channel: string) => `${id}.${channel}${RECORD}`
/** The alert id of a record's file name (channel names hold no `.`). */
const idOfRecord = (name: string) => name.slice(0, -RECORD.length).replace(/\.[^.]*$/, "")

type Standing = Record<string, "delivered" | "pending">

/** Where one outbox entry stands with each of these channels (those its filters let through). */
const standing = (names: ReadonlySet<string>, id: string, channels: ReadonlyArray<NotifyChannel>): Standing =>
  Object.fromEntries(channels.map((entry) => {
    const channel = channelName(entry)
    return [channel, names.has(recordName(id, channel)) ? "delivered" : "pending"] as const
  }))

const recordNames = (stateDir: string) =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.readDirectory(deliveriesDir(stateDir))).pipe(
    Effect.map((names) => new Set(names) as ReadonlySet<string>),
    Effect.orElseSucceed(() => new Set<string>() as ReadonlySet<string>)
  )

/**
 * Where each alert stands with each channel whose filters match it: `delivered` or `pending`. What
 * `alerts` shows; reads the delivery records once.
 */
export const deliveryStatus = (stateDir: string, channels: ReadonlyArray<NotifyChannel>) =>
  Effect.map(
    recordNames(stateDir),
    (names) => (id: string, alert: Alert): Standing =>
      standing(names, id, channels.filter((entry) => matches(entry, alert)))
  )

/** What `status` shows of a channel: its deliveries pending (alerts and notices) and its latest failure. */
export interface ChannelBacklog {
  readonly channel: string
  readonly pending: number
  readonly lastFailure: ChannelFailure | null
}

/**
 * Each channel's backlog, from the outbox as it is now: the delivery status `alerts` shows,
 * counted, with the notices waiting and each channel's latest failure record.
 */
export const backlog = (stateDir: string, channels: ReadonlyArray<NotifyChannel>) =>
  Effect.gen(function*() {
    const alerts = yield* list(stateDir)
    const status = yield* deliveryStatus(stateDir, channels)
    const names = yield* recordNames(stateDir)
    const notices = yield* NoticeFiles.listNotices(stateDir)
    const failures = yield* NoticeFiles.readFailures(stateDir)
    const standings = [
      ...alerts.flatMap((a) => a._tag === "Alert" ? [status(a.id, a.alert)] : []),
      ...notices.map(({ id, notice }) =>
        standing(names, id, channels.filter((entry) => noticeFor(entry, notice) !== undefined))
      )
    ]
    return channels.map(channelName).map((channel): ChannelBacklog => ({
      channel,
      pending: standings.filter((s) => s[channel] === "pending").length,
      lastFailure: failures.get(channel) ?? null
    }))
  })

const outboxError = (what: string) => (e: { readonly message: string }) =>
  new OutboxError({ message: `${what}: ${e.message}` })

/** A message with every secret value of the apps' env files replaced. */
const scrubbed = (message: Message, scrub: Scrubber): Message => ({
  ...message,
  title: scrub.text(message.title),
  text: scrub.text(message.text),
  markdown: scrub.text(message.markdown),
  ...(message.alert === undefined ? {} : { alert: scrub.deep(message.alert) as Record<string, unknown> })
})

/** The channel an entry names, with its secret from the file or the variable the entry names. */
const resolve = (entry: NotifyChannel, env: Readonly<Record<string, string | undefined>>) =>
  Effect.gen(function*() {
    const name = channelName(entry)
    const fail = (why: string) => new SendError({ channel: name, message: `${name}: ${why}` })
    const channel = yield* Either.mapLeft(Channel.parse(entry.url), fail)
    if (entry.secretFile !== undefined) {
      const fs = yield* FileSystem.FileSystem
      const secret = yield* fs.readFileString(entry.secretFile).pipe(
        Effect.mapError((e) => fail(`cannot read its secretFile ${entry.secretFile}: ${errorCode(e) || e.message}`))
      )
      return Channel.withSecret(channel, secret.trim())
    }
    if (entry.secretEnv !== undefined) {
      const secret = env[entry.secretEnv]
      if (secret === undefined || secret.trim() === "") {
        return yield* fail(`its secretEnv ${entry.secretEnv} is not set in the environment`)
      }
      return Channel.withSecret(channel, secret.trim())
    }
    return channel
  })

export const make = (options: Options) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const scrub = yield* Redaction
    const context = yield* Effect.context<FileSystem.FileSystem | HttpClient.HttpClient>()
    const dir = deliveriesDir(options.stateDir)
    const env = options.env ?? process.env
    const byName = new Map(options.channels.map((entry) => [channelName(entry), entry]))

    const outbox = list(options.stateDir).pipe(
      // Oldest first; an alert file that cannot be read is listed by `alerts`, not delivered.
      Effect.map((listed) => listed.flatMap((x) => x._tag === "Alert" ? [{ id: x.id, alert: x.alert }] : []).reverse()),
      Effect.mapError(outboxError("could not read the outbox"))
    )

    const records = fs.readDirectory(dir).pipe(
      Effect.map((names) => names.filter((n) => n.endsWith(RECORD) && !n.startsWith("."))),
      Effect.catchIf((e) => errorCode(e) === "ENOENT", () => Effect.succeed([] as Array<string>)),
      Effect.mapError((e) => outboxError("could not read the delivery records")(fileError("read", dir)(e)))
    )

    const delivered = (id: string) =>
      Effect.map(records, (names) => {
        const channels = [...byName.keys()].filter((channel) => names.includes(recordName(id, channel)))
        return new Set(channels) as ReadonlySet<string>
      })

    const record = (id: string, channel: string) =>
      Effect.gen(function*() {
        const what = `could not record the delivery of ${id} to ${channel}`
        yield* ensureDir(dir).pipe(Effect.mapError(outboxError(what)))
        const content = JSON.stringify({ id, channel, deliveredAt: new Date().toISOString() })
        yield* writeFileAtomic(Path.join(dir, recordName(id, channel)), content).pipe(
          Effect.mapError(outboxError(what))
        )
      }).pipe(Effect.provide(context))

    const prune = (ids: ReadonlyArray<string>) =>
      Effect.gen(function*() {
        const keep = new Set(ids)
        const stale = (yield* records).filter((name) => !keep.has(idOfRecord(name)))
        yield* Effect.forEach(stale, (name) =>
          removeFile(Path.join(dir, name)).pipe(
            Effect.mapError(outboxError("could not prune the delivery records"))
          ), { discard: true })
        return stale.length
      }).pipe(Effect.provide(context))

    const send = (name: string, message: Message) =>
      Effect.gen(function*() {
        const entry = byName.get(name)
        if (entry === undefined) {
          return yield* new SendError({ channel: name, message: `${name}: no such channel in the config` })
        }
        const channel = yield* resolve(entry, env)
        const clean = scrubbed(message, scrub)
        yield* channel._tag === "smtp"
          ? NotifySmtp.send(name, channel, clean)
          : NotifyHttp.send(name, channel, clean)
      }).pipe(Effect.provide(context), Effect.withSpan("Notifier.send", { attributes: { channel: name } }))

    const scrubJson = (json: unknown) => scrub.deep(json)
    const notices = NoticeFiles.listNotices(options.stateDir).pipe(
      Effect.mapError(outboxError("could not read the notices"))
    )
    const post = (notice: Notice) =>
      NoticeFiles.postNotice(options.stateDir, notice, scrubJson).pipe(
        Effect.mapError(outboxError(`could not write the ${notice._tag} notice`))
      )
    const settle = (id: string) =>
      NoticeFiles.settleNotice(options.stateDir, id).pipe(
        Effect.mapError(outboxError(`could not remove the notice ${id}`))
      )
    const recordFailure = (failure: ChannelFailure) =>
      NoticeFiles.writeFailure(options.stateDir, failure).pipe(
        Effect.mapError(outboxError(`could not record the failure of ${failure.channel}`))
      )

    return Notifier.of({
      channels: options.channels,
      notices: notices.pipe(Effect.provide(context)),
      post: (notice) => post(notice).pipe(Effect.provide(context)),
      settle: (id) => settle(id).pipe(Effect.provide(context)),
      recordFailure: (failure) => recordFailure(failure).pipe(Effect.provide(context)),
      outbox: outbox.pipe(Effect.provide(context)),
      delivered: (id) => delivered(id).pipe(Effect.provide(context)),
      record,
      prune,
      send
    })
  })

/** The channels of the config, their outbox in `<stateDir>/alerts/`. */
export const layer = (
  options: Options
): Layer.Layer<Notifier, never, FileSystem.FileSystem | HttpClient.HttpClient | Redaction> =>
  Layer.effect(Notifier, make(options))
