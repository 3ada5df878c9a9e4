/**
 * Sending one message to an HTTP channel (Matrix, ntfy, Gotify, Slack, Mattermost, Discord, the
 * generic webhook): the request `domain/ChannelRequest.ts` builds, signed with HMAC-SHA256 when the
 * webhook has a key, and a 2xx answer as the channel's acceptance.
 */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { Effect, Either, Option } from "effect"
import { createHmac } from "node:crypto"
import { type HttpChannel, request } from "../domain/ChannelRequest.js"
import type { Message } from "../domain/Message.js"
import { SendError } from "../services/Notifier.js"

/** The header of the generic webhook's signature: `sha256=<hex>` of the body under the key. */
export const SIGNATURE_HEADER = "x-warm-reconcile-signature"

export const signature = (key: string, body: string): string =>
  `sha256=${createHmac("sha256", key).update(body).digest("hex")}`

/** An answer's body as an error shows it: one line, short. */
const excerpt = (text: string) => text.replace(/\s+/g, " ").trim().slice(0, 200)

export const send = (name: string, channel: HttpChannel, message: Message) =>
  Effect.gen(function*() {
    const fail = (why: string) => new SendError({ channel: name, message: `${name}: ${why}` })
    const post = yield* Either.mapLeft(request(channel, message), fail)
    const client = (yield* HttpClient.HttpClient).pipe(HttpClient.withTracerPropagation(false))
    const headers = Option.match(post.signWith, {
      onNone: () => post.headers,
      onSome: (key) => ({ ...post.headers, [SIGNATURE_HEADER]: signature(key, post.body) })
    })
    // The URL may hold a webhook's key in its path: errors name the host only.
    const where = `${post.method} ${new URL(post.url).host}`
    const response = yield* client.execute(
      HttpClientRequest.make(post.method)(post.url).pipe(
        HttpClientRequest.setHeaders(headers),
        HttpClientRequest.bodyText(post.body, "application/json")
      )
    ).pipe(Effect.mapError((e) => fail(`${where}: ${e.reason}${e.cause === undefined ? "" : ` (${String(e.cause)})`}`)))
    const body = yield* response.text.pipe(Effect.orElseSucceed(() => ""))
    if (response.status < 200 || response.status > 299) {
      return yield* fail(`${where} answered ${response.status}: ${excerpt(body)}`)
    }
  })
