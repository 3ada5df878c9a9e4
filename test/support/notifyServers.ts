/**
 * Local servers on 127.0.0.1 that implement each notification endpoint as its public
 * documentation describes it, and reject anything else: Matrix's client-server `PUT
 * /_matrix/client/v3/rooms/{roomId}/send/m.room.message/{txnId}` (Bearer token, idempotent per
 * transaction id), ntfy's JSON publish (`POST /` with a topic), Gotify's `POST /message`
 * (`X-Gotify-Key`), Slack's (`POST /services/...`, answers `ok`), Mattermost's (`POST
 * /hooks/<key>`) and Discord's (`POST /api/webhooks/<id>/<token>`, 2000 characters, 204)
 * incoming webhooks, and a generic webhook that checks an HMAC-SHA256 signature. An SMTP server
 * (the `smtp-server` package) with STARTTLS and auth receives mail.
 */
import { Effect } from "effect"
import { createHmac } from "node:crypto"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { SMTPServer } from "smtp-server"
import { selfSignedCertificate } from "./httpsServer.js"

export type HttpKind = "matrix" | "ntfy" | "gotify" | "slack" | "mattermost" | "discord" | "webhook"

export interface Received {
  readonly path: string
  readonly headers: Http.IncomingHttpHeaders
  readonly body: string
  readonly json: Record<string, unknown>
}

export interface NotifyServer {
  readonly port: number
  /** What the endpoint accepted (a post), in order; a Matrix repeat of a txn id is not a second one. */
  readonly accepted: Array<Received>
  /** Every request, accepted or not, with the status it got. */
  readonly requests: Array<{ readonly method: string; readonly path: string; readonly status: number }>
  /** While set, every request gets this status (the service is down). */
  down: number | undefined
  /** While set, called on each acceptance before the answer goes out (to kill the sender there). */
  onAccepted: (() => void) | undefined
}

export interface HttpOptions {
  /** The token, app key, webhook key path or HMAC key the endpoint expects. */
  readonly secret: string
}

type Answer = { readonly status: number; readonly body: string; readonly accept?: boolean }

const json = (status: number, body: unknown): Answer => ({ status, body: JSON.stringify(body) })

const bearer = (headers: Http.IncomingHttpHeaders) => /^Bearer (.+)$/.exec(headers.authorization ?? "")?.[1]

/** How each endpoint answers a request, as its documentation says. */
const answer = (
  kind: HttpKind,
  secret: string,
  method: string,
  path: string,
  headers: Http.IncomingHttpHeaders,
  body: string,
  seen: Map<string, string>
): Answer => {
  let parsed: Record<string, unknown> | undefined
  try {
    parsed = JSON.parse(body) as Record<string, unknown>
  } catch {
    parsed = undefined
  }
  switch (kind) {
    case "matrix": {
      const m = /^\/_matrix\/client\/v3\/rooms\/([^/]+)\/send\/m\.room\.message\/([^/?]+)$/.exec(path)
      if (method !== "PUT" || m === null) return json(404, { errcode: "M_UNRECOGNIZED", error: "Unrecognized request" })
      const token = bearer(headers)
      if (token === undefined) return json(401, { errcode: "M_MISSING_TOKEN", error: "Missing access token" })
      if (token !== secret) return json(401, { errcode: "M_UNKNOWN_TOKEN", error: "Unknown access token" })
      if (decodeURIComponent(m[1]!) !== "!room:example.org") {
        return json(403, { errcode: "M_FORBIDDEN", error: "not in room" })
      }
      if (parsed?.["msgtype"] !== "m.text" || typeof parsed["body"] !== "string") {
        return json(400, { errcode: "M_BAD_JSON", error: "msgtype and body required" })
      }
      // The spec: a repeat of a transaction id (for this access token) answers the first event.
      const txn = decodeURIComponent(m[2]!)
      const first = seen.get(txn)
      if (first !== undefined) return json(200, { event_id: first })
      const event = `$event${seen.size + 1}`
      seen.set(txn, event)
      return { ...json(200, { event_id: event }), accept: true }
    }
    case "ntfy": {
      if (method !== "POST" || path !== "/") return json(404, { code: 40401, http: 404, error: "page not found" })
      if (bearer(headers) !== secret) return json(401, { code: 40101, http: 401, error: "unauthorized" })
      if (typeof parsed?.["topic"] !== "string") {
        return json(400, { code: 40007, http: 400, error: "invalid request: topic" })
      }
      return { ...json(200, { id: "x", event: "message", topic: parsed["topic"] }), accept: true }
    }
    case "gotify": {
      if (method !== "POST" || path !== "/message") return json(404, { error: "Not Found", errorCode: 404 })
      if (headers["x-gotify-key"] !== secret) {
        return json(401, {
          error: "Unauthorized",
          errorCode: 401,
          errorDescription: "you need to provide a valid access token"
        })
      }
      if (typeof parsed?.["message"] !== "string") return json(400, { error: "Bad Request", errorCode: 400 })
      return { ...json(200, { id: 1, ...parsed }), accept: true }
    }
    case "slack": {
      if (method !== "POST" || !path.startsWith("/services/")) return { status: 404, body: "no_service" }
      if (path !== `/services/${secret}`) return { status: 403, body: "invalid_token" }
      if (typeof parsed?.["text"] !== "string") return { status: 400, body: "no_text" }
      return { status: 200, body: "ok", accept: true }
    }
    case "mattermost": {
      if (method !== "POST" || path !== `/hooks/${secret}`) {
        return json(404, { id: "web.incoming_webhook.invalid.app_error" })
      }
      if (typeof parsed?.["text"] !== "string") return json(400, { id: "web.incoming_webhook.text.app_error" })
      return { status: 200, body: "ok", accept: true }
    }
    case "discord": {
      if (method !== "POST" || path !== `/api/webhooks/${secret}`) {
        return json(404, { message: "Unknown Webhook", code: 10015 })
      }
      const content = parsed?.["content"]
      if (typeof content !== "string" || content.length > 2000) {
        return json(400, { message: "Invalid Form Body", code: 50035 })
      }
      return { status: 204, body: "", accept: true }
    }
    case "webhook": {
      if (method !== "POST" || path !== "/hooks/warm-reconcile") return { status: 404, body: "not found" }
      const expected = `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`
      if (headers["x-warm-reconcile-signature"] !== expected) return { status: 401, body: "bad signature" }
      return { status: 200, body: "ok", accept: true }
    }
  }
}

/** A channel of each HTTP kind: what its endpoint expects, its config URL, where the text lands. */
export interface HttpCase {
  readonly kind: HttpKind
  /** What the endpoint expects as its token, key path or HMAC key. */
  readonly secret: string
  readonly url: (port: number) => string
  /** Where the message's text is in what the endpoint received. */
  readonly text: (json: Record<string, unknown>) => string
}

export const HTTP_CASES: ReadonlyArray<HttpCase> = [
  {
    kind: "matrix",
    secret: "syt_matrix_access_token",
    url: (port) => `matrix://127.0.0.1:${port}/?room=!room:example.org&disabletls=yes`,
    text: (j) => String(j["body"])
  },
  {
    kind: "ntfy",
    secret: "tk_ntfyaccesstoken",
    url: (port) => `ntfy://127.0.0.1:${port}/alerts?disabletls=yes`,
    text: (j) => `${String(j["title"])}\n${String(j["message"])}`
  },
  {
    kind: "gotify",
    secret: "AgotifyAppToken",
    url: (port) => `gotify://127.0.0.1:${port}?disabletls=yes`,
    text: (j) => `${String(j["title"])}\n${String(j["message"])}`
  },
  {
    kind: "slack",
    secret: "T0000/B0000/XXXXXXXXXXXX",
    url: (port) => `slack://127.0.0.1:${port}/services?disabletls=yes`,
    text: (j) => String(j["text"])
  },
  {
    kind: "mattermost",
    secret: "xmattermosthookkeyx",
    url: (port) => `mattermost://127.0.0.1:${port}/hooks?disabletls=yes`,
    text: (j) => String(j["text"])
  },
  {
    kind: "discord",
    secret: "123456789/discord-webhook-token",
    url: (port) => `discord://127.0.0.1:${port}/api/webhooks?disabletls=yes`,
    text: (j) => String(j["content"])
  },
  {
    kind: "webhook",
    secret: "hmac-signing-key",
    url: (port) => `webhook://127.0.0.1:${port}/hooks/warm-reconcile?disabletls=yes`,
    text: (j) => `${String(j["title"])}\n${String(j["text"])}\n${JSON.stringify(j["alert"])}`
  }
]

/** One endpoint of `kind` on a free port of 127.0.0.1, closed with the scope. */
export const notifyServer = (kind: HttpKind, options: HttpOptions) =>
  Effect.gen(function*() {
    const seen = new Map<string, string>()
    const handle: NotifyServer = { port: 0, accepted: [], requests: [], down: undefined, onAccepted: undefined }
    const server = Http.createServer((req, res) => {
      let body = ""
      req.setEncoding("utf8")
      req.on("data", (chunk: string) => body += chunk)
      req.on("end", () => {
        const path = req.url ?? "/"
        const method = req.method ?? ""
        const a: Answer = handle.down !== undefined
          ? { status: handle.down, body: "down" }
          : answer(kind, options.secret, method, path, req.headers, body, seen)
        handle.requests.push({ method, path, status: a.status })
        if (a.accept === true) {
          handle.accepted.push({ path, headers: req.headers, body, json: JSON.parse(body) as Record<string, unknown> })
          handle.onAccepted?.()
        }
        res.writeHead(a.status, { "content-type": a.body.startsWith("{") ? "application/json" : "text/plain" })
        res.end(a.body)
      })
    })
    yield* Effect.acquireRelease(
      Effect.async<void>((resume) => void server.listen(0, "127.0.0.1", () => resume(Effect.void))),
      () =>
        Effect.async<void>((resume) => {
          server.close(() => resume(Effect.void))
          server.closeAllConnections()
        })
    )
    return Object.assign(handle, { port: (server.address() as AddressInfo).port })
  })

export interface Mail {
  readonly from: string
  readonly to: ReadonlyArray<string>
  readonly user: string | undefined
  readonly secured: boolean
  readonly raw: string
}

/** An SMTP server on 127.0.0.1 that offers STARTTLS, requires it and auth (`user` / `password`), closed with the scope. */
export const smtpServer = (user: string, password: string) =>
  Effect.gen(function*() {
    const tls = yield* selfSignedCertificate("mail.example.org")
    const mails: Array<Mail> = []
    const handle = {
      port: 0,
      mails,
      /** While set, every mail is refused with a temporary error (the server is down). */
      down: false,
      onAccepted: undefined as (() => void) | undefined
    }
    const server = new SMTPServer({
      key: tls.key,
      cert: tls.cert,
      secure: false,
      authMethods: ["PLAIN", "LOGIN"],
      // Auth only over TLS (the default): a client that skips STARTTLS cannot log in.
      allowInsecureAuth: false,
      logger: false,
      onMailFrom: (_address, _session, callback) =>
        handle.down ? callback(new Error("421 service not available")) : callback(),
      onAuth: (auth, _session, callback) =>
        auth.username === user && auth.password === password
          ? callback(null, { user: auth.username })
          : callback(new Error("535 authentication failed")),
      onData: (stream, session, callback) => {
        let raw = ""
        stream.setEncoding("utf8")
        stream.on("data", (chunk: string) => raw += chunk)
        stream.on("end", () => {
          mails.push({
            from: session.envelope.mailFrom === false ? "" : session.envelope.mailFrom.address,
            to: session.envelope.rcptTo.map((r) => r.address),
            user: session.user as string | undefined,
            secured: session.secure,
            raw
          })
          handle.onAccepted?.()
          callback()
        })
      }
    })
    yield* Effect.acquireRelease(
      Effect.async<void>((resume) => void server.listen(0, "127.0.0.1", () => resume(Effect.void))),
      () => Effect.async<void>((resume) => server.close(() => resume(Effect.void)))
    )
    return Object.assign(handle, { port: (server.server.address() as AddressInfo).port })
  })
