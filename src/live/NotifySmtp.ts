/** Sending one message as an email over SMTP (STARTTLS, implicit TLS or plain; with auth) through nodemailer. */
import { Duration, Effect, Option } from "effect"
import { isIP } from "node:net"
import * as Nodemailer from "nodemailer"
import type { Channel } from "../domain/Channel.js"
import type { Message } from "../domain/Message.js"
import { SendError } from "../services/Notifier.js"

type Smtp = Extract<Channel, { readonly _tag: "smtp" }>

/** nodemailer's own limits, each well under the caller's attempt timeout. */
const TIMEOUT = Duration.toMillis(Duration.seconds(20))

export const send = (name: string, channel: Smtp, message: Message) =>
  Effect.acquireUseRelease(
    Effect.sync(() =>
      Nodemailer.createTransport({
        host: channel.host,
        port: channel.port,
        secure: channel.tls === "implicit",
        requireTLS: channel.tls === "starttls",
        ignoreTLS: channel.tls === "none",
        // SNI names a host, never an address (RFC 6066).
        tls: {
          rejectUnauthorized: channel.verifyTls,
          ...(isIP(channel.host) === 0 ? { servername: channel.host } : {})
        },
        connectionTimeout: TIMEOUT,
        greetingTimeout: TIMEOUT,
        socketTimeout: TIMEOUT,
        ...(Option.isSome(channel.username)
          ? { auth: { user: channel.username.value, pass: Option.getOrElse(channel.password, () => "") } }
          : {})
      })
    ),
    (transport) =>
      Effect.tryPromise({
        try: () =>
          transport.sendMail({
            from: channel.from,
            to: [...channel.to],
            subject: message.title,
            text: message.text,
            headers: { "X-Warm-Reconcile-Alert": message.id }
          }),
        catch: (e) =>
          new SendError({
            channel: name,
            message: `${name}: smtp ${channel.host}:${channel.port}: ${e instanceof Error ? e.message : String(e)}`
          })
      }),
    (transport) => Effect.sync(() => transport.close())
  ).pipe(Effect.asVoid)
