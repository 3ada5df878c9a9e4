/**
 * Notification channels written as URLs, in the shoutrrr/watchtower style operators already write
 * (`smtp://`, `matrix://`, `ntfy://`, `gotify://`, `slack://`, `mattermost://`, `discord://`,
 * `webhook://`). Parsing is pure and checks everything that can be checked without the secret: a
 * bad URL is a config error that names the entry. Secrets may sit in the URL, but need not: the
 * config's `secretFile` / `secretEnv` fills the slot each kind documents ({@link withSecret}).
 */
import { Data, Either, Option } from "effect"

export const CHANNEL_KINDS = ["smtp", "matrix", "ntfy", "gotify", "slack", "mattermost", "discord", "webhook"] as const
export type ChannelKind = (typeof CHANNEL_KINDS)[number]

/** The chat services whose incoming webhooks take the same `{"text": ...}`-like post. */
export type ChatFlavor = "slack" | "mattermost" | "discord"

export type Channel = Data.TaggedEnum<{
  smtp: {
    readonly host: string
    readonly port: number
    /** `starttls`: required upgrade (smtp://); `implicit`: TLS from the start (smtps://); `none`: plain. */
    readonly tls: "starttls" | "implicit" | "none"
    readonly verifyTls: boolean
    readonly username: Option.Option<string>
    readonly password: Option.Option<string>
    readonly from: string
    readonly to: ReadonlyArray<string>
  }
  matrix: {
    readonly base: string
    readonly room: string
    readonly token: Option.Option<string>
  }
  ntfy: {
    readonly base: string
    readonly topic: string
    readonly username: Option.Option<string>
    /** A password with `username`, else an access token (Bearer). */
    readonly secret: Option.Option<string>
  }
  gotify: {
    readonly base: string
    readonly token: Option.Option<string>
  }
  chat: {
    readonly flavor: ChatFlavor
    /** The webhook's URL; the secret (when given apart) is appended to its path. */
    readonly url: string
  }
  webhook: {
    readonly url: string
    /** The HMAC-SHA256 key of the `X-Warm-Reconcile-Signature` header; unsigned without one. */
    readonly key: Option.Option<string>
  }
}>
export const Channel = Data.taggedEnum<Channel>()

/** The query parameters each kind takes; anything else is a typo worth an error. */
const PARAMS: { readonly [K in ChannelKind]: ReadonlyArray<string> } = {
  smtp: ["from", "to", "starttls", "tlsverify"],
  matrix: ["room", "disabletls"],
  ntfy: ["disabletls"],
  gotify: ["disabletls"],
  slack: ["disabletls"],
  mattermost: ["disabletls"],
  discord: ["disabletls"],
  webhook: ["disabletls"]
}

const isKind = (s: string): s is ChannelKind => (CHANNEL_KINDS as ReadonlyArray<string>).includes(s)

const EMAIL = /^[^\s@<>,]+@[^\s@<>,]+$/

const yesNo = (url: URL, name: string, fallback: boolean): Either.Either<boolean, string> => {
  const v = url.searchParams.get(name)
  if (v === null) return Either.right(fallback)
  if (v === "yes" || v === "true") return Either.right(true)
  if (v === "no" || v === "false") return Either.right(false)
  return Either.left(`${name}=${v}: expected yes or no`)
}

const decoded = (s: string): Option.Option<string> => s === "" ? Option.none() : Option.some(decodeURIComponent(s))

/** `https://host[:port]` (or http with `disabletls=yes`), and the path below it. */
const httpBase = (url: URL): Either.Either<string, string> =>
  Either.map(yesNo(url, "disabletls", false), (plain) => `${plain ? "http" : "https"}://${url.host}`)

const pathOf = (url: URL) => url.pathname.replace(/\/+$/, "")

/** The URL's query without our own parameters: `?a=1`, or nothing. */
const query = (url: URL, ours: ReadonlyArray<string>): string => {
  const rest = new URLSearchParams([...url.searchParams].filter(([k]) => !ours.includes(k)))
  return rest.size === 0 ? "" : `?${rest.toString()}`
}

/** Parse a channel URL; the left side is a one-line reason that never repeats a secret. */
export const parse = (text: string): Either.Either<Channel, string> => {
  const scheme = /^([a-z]+):\/\//.exec(text)?.[1]
  const kind = scheme === "smtps" ? "smtp" : scheme
  if (kind === undefined || !isKind(kind)) {
    return Either.left(
      `expected a URL starting with one of ${[...CHANNEL_KINDS, "smtps"].map((k) => `${k}://`).join(", ")}`
    )
  }
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return Either.left(`not a valid ${scheme}:// URL`)
  }
  if (url.hostname === "") return Either.left(`${scheme}:// needs a host`)
  // A generic webhook keeps its own query (a receiver may want `?token=`); other kinds take only theirs.
  const unknown = [...url.searchParams.keys()].filter((k) => !PARAMS[kind].includes(k))
  if (kind !== "webhook" && unknown.length > 0) {
    return Either.left(`unknown parameter ${unknown[0]} (a ${kind} URL takes ${PARAMS[kind].join(", ")})`)
  }
  const username = decoded(url.username)
  const password = decoded(url.password)
  return Either.flatMap(httpBase(url), (base): Either.Either<Channel, string> => {
    switch (kind) {
      case "smtp": {
        const from = url.searchParams.get("from") ?? ""
        const to = (url.searchParams.get("to") ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "")
        if (!EMAIL.test(from)) return Either.left("smtp:// needs from=<address>")
        if (to.length === 0 || !to.every((a) => EMAIL.test(a))) return Either.left("smtp:// needs to=<address>[,...]")
        const implicit = scheme === "smtps"
        return Either.all([yesNo(url, "starttls", true), yesNo(url, "tlsverify", true)]).pipe(
          Either.map(([starttls, verifyTls]) =>
            Channel.smtp({
              host: url.hostname.replace(/^\[|\]$/g, ""),
              port: url.port === "" ? (implicit ? 465 : 587) : Number(url.port),
              tls: implicit ? "implicit" : starttls ? "starttls" : "none",
              verifyTls,
              username,
              password,
              from,
              to
            })
          )
        )
      }
      case "matrix": {
        const room = url.searchParams.get("room") ?? ""
        // A room id, not an alias: sending takes the id (an alias would need a directory look-up first).
        if (!/^![^:\s]+:\S+$/.test(room)) return Either.left("matrix:// needs room=!<id>:<server> (the room's id)")
        return Either.right(Channel.matrix({ base, room, token: Option.orElse(password, () => username) }))
      }
      case "ntfy": {
        const topic = pathOf(url).slice(1)
        if (!/^[A-Za-z0-9_-]{1,64}$/.test(topic)) return Either.left("ntfy:// needs a topic: ntfy://<host>/<topic>")
        return Either.right(
          Channel.ntfy({
            base,
            topic,
            username: Option.filter(username, () => Option.isSome(password)),
            secret: Option.orElse(password, () => username)
          })
        )
      }
      case "gotify":
        return Either.right(
          Channel.gotify({
            base: base + pathOf(url).replace(/\/[^/]*$/, ""),
            token: decoded(pathOf(url).split("/").pop() ?? "")
          })
        )
      case "slack":
      case "mattermost":
      case "discord":
        return Either.right(Channel.chat({ flavor: kind, url: base + pathOf(url) }))
      case "webhook":
        return Either.right(Channel.webhook({ url: base + pathOf(url) + query(url, ["disabletls"]), key: password }))
    }
  })
}

/** The kind as the config spells it. */
export const kindOf = (channel: Channel): ChannelKind => channel._tag === "chat" ? channel.flavor : channel._tag

/** Fill the kind's secret slot with a secret read from a file or an environment variable. */
export const withSecret = (channel: Channel, secret: string): Channel =>
  Channel.$match(channel, {
    smtp: (c) => Channel.smtp({ ...c, password: Option.some(secret) }),
    matrix: (c) => Channel.matrix({ ...c, token: Option.some(secret) }),
    ntfy: (c) => Channel.ntfy({ ...c, secret: Option.some(secret) }),
    gotify: (c) => Channel.gotify({ ...c, token: Option.some(secret) }),
    chat: (c) => Channel.chat({ ...c, url: `${c.url}/${secret.replace(/^\/+/, "")}` }),
    webhook: (c) => Channel.webhook({ ...c, key: Option.some(secret) })
  })

/** Where a channel goes, without any secret: for logs, `status` and error messages. */
export const describe = (channel: Channel): string =>
  Channel.$match(channel, {
    smtp: (c) => `smtp ${c.host}:${c.port} to ${c.to.join(",")}`,
    matrix: (c) => `matrix ${c.base} room ${c.room}`,
    ntfy: (c) => `ntfy ${c.base}/${c.topic}`,
    gotify: (c) => `gotify ${c.base}`,
    chat: (c) => `${c.flavor} ${new URL(c.url).host}`,
    webhook: (c) => `webhook ${new URL(c.url).host}${new URL(c.url).pathname}`
  })
