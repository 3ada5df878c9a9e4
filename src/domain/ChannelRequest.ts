/**
 * The HTTP request each HTTP channel takes, as its public documentation describes it: Matrix's
 * client-server `PUT .../send/m.room.message/{txnId}`, ntfy's JSON publish, Gotify's `POST
 * /message`, the Slack/Mattermost/Discord incoming webhooks, and the generic JSON webhook. Pure:
 * the live layer sends it (and signs the webhook's body when a key is set).
 */
import { Either, Match, Option } from "effect"
import type { Channel, ChatFlavor } from "./Channel.js"
import type { Message } from "./Message.js"
import type { Severity } from "./Notify.js"

export interface HttpPost {
  readonly method: "POST" | "PUT"
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
  /** Sign the body with HMAC-SHA256 under this key (the generic webhook). */
  readonly signWith: Option.Option<string>
}

export type HttpChannel = Exclude<Channel, { readonly _tag: "smtp" }>

/** Discord refuses a `content` longer than this. */
export const DISCORD_MAX = 2000

/**
 * Matrix's transaction id for a message: the same for every retry of one alert, so that the
 * homeserver answers a repeat with the first event instead of posting it twice.
 */
export const matrixTxnId = (id: string): string => `warm-reconcile.${id.replace(/[^A-Za-z0-9._-]/g, "_")}`

const JSON_HEADERS = { "content-type": "application/json" }

const ntfyPriority = Match.type<Severity>().pipe(
  Match.when("critical", () => 5),
  Match.when("warning", () => 4),
  Match.when("info", () => 3),
  Match.exhaustive
)

const gotifyPriority = Match.type<Severity>().pipe(
  Match.when("critical", () => 8),
  Match.when("warning", () => 5),
  Match.when("info", () => 2),
  Match.exhaustive
)

const missing = (what: string) =>
  Either.left(`no ${what}: set the channel's secretFile or secretEnv, or put it in the URL`)

const post = (url: string, body: unknown, headers: Record<string, string> = {}): HttpPost => ({
  method: "POST",
  url,
  headers: { ...JSON_HEADERS, ...headers },
  body: JSON.stringify(body),
  signWith: Option.none()
})

const HTML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;" }
const escapeHtml = (text: string): string => text.replace(/[&<>"]/g, (c) => HTML_ESCAPES[c]!)

const cut = (text: string, max: number): string => text.length <= max ? text : `${text.slice(0, max - 2)} …`

const chat = (flavor: ChatFlavor, url: string, message: Message): HttpPost =>
  Match.value(flavor).pipe(
    Match.when("slack", () => post(url, { text: `${message.title}\n\n${message.text}` })),
    Match.when("mattermost", () => post(url, { text: `#### ${message.title}\n${message.markdown}` })),
    Match.when("discord", () => post(url, { content: cut(`**${message.title}**\n${message.markdown}`, DISCORD_MAX) })),
    Match.exhaustive
  )

/** The request for one message; the left side says which secret is missing. */
export const request = (channel: HttpChannel, message: Message): Either.Either<HttpPost, string> => {
  switch (channel._tag) {
    case "matrix":
      return Option.match(channel.token, {
        onNone: () => missing("Matrix access token"),
        onSome: (token) =>
          Either.right({
            ...post(
              `${channel.base}/_matrix/client/v3/rooms/${encodeURIComponent(channel.room)}/send/m.room.message/${
                encodeURIComponent(matrixTxnId(message.id))
              }`,
              {
                msgtype: "m.text",
                body: `${message.title}\n\n${message.text}`,
                // Element and other clients render this; `body` is the fallback for those that do not.
                format: "org.matrix.custom.html",
                formatted_body: `<strong>${escapeHtml(message.title)}</strong><br>${
                  escapeHtml(message.text).replaceAll("\n", "<br>")
                }`
              },
              { authorization: `Bearer ${token}` }
            ),
            method: "PUT" as const
          })
      })
    case "ntfy": {
      const auth = Option.match(channel.secret, {
        onNone: () => ({}),
        onSome: (secret) => ({
          authorization: Option.match(channel.username, {
            onNone: () => `Bearer ${secret}`,
            onSome: (user) => `Basic ${Buffer.from(`${user}:${secret}`).toString("base64")}`
          })
        })
      })
      return Either.right(post(`${channel.base}/`, {
        topic: channel.topic,
        title: message.title,
        message: message.markdown,
        markdown: true,
        priority: ntfyPriority(message.severity),
        tags: [
          message.severity === "critical"
            ? "rotating_light"
            : message.severity === "warning"
            ? "warning"
            : "information_source",
          message.app
        ]
      }, auth))
    }
    case "gotify":
      return Option.match(channel.token, {
        onNone: () => missing("Gotify app token"),
        onSome: (token) =>
          Either.right(post(`${channel.base}/message`, {
            title: message.title,
            message: message.markdown,
            priority: gotifyPriority(message.severity),
            extras: { "client::display": { contentType: "text/markdown" } }
          }, { "x-gotify-key": token }))
      })
    case "chat":
      return Either.right(chat(channel.flavor, channel.url, message))
    case "webhook":
      return Either.right({
        ...post(channel.url, {
          id: message.id,
          app: message.app,
          severity: message.severity,
          title: message.title,
          text: message.text,
          alert: message.alert ?? null,
          ...(message.notice === undefined ? {} : { notice: message.notice })
        }, { "x-warm-reconcile-delivery": message.id }),
        signWith: channel.key
      })
  }
}
