/**
 * Live Health: one HTTPS GET of an app's health endpoint through the local proxy.
 *
 * The request goes to `health.connect` (the proxy, 127.0.0.1:443 by default) with the Host header
 * set to the app's domain. undici derives the TLS SNI from the Host header, so the proxy sees the
 * same request a browser for `https://<domain>` would send, without DNS or /etc/hosts.
 * With `health.url` set, that URL is fetched instead, its Host header (and SNI) still the domain.
 */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import type { HttpClientError } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import * as Undici from "@effect/platform-node/Undici"
import { Duration, Effect, Layer, Stream } from "effect"
import { type AppSpec, verifiesTls } from "../domain/Config.js"
import { Health, HealthProbeError } from "../services/Health.js"
import { errnoOf } from "./FileChecks.js"

/** What to request: the URL (its origin is where the TCP connection goes) and the Host header. */
export const probeTarget = (app: AppSpec): { readonly url: string; readonly host: string } => ({
  url: app.health.url ?? `https://${app.health.connect}${app.health.path}`,
  host: app.domain
})

/** The innermost cause with a code, e.g. `ECONNREFUSED` or `DEPTH_ZERO_SELF_SIGNED_CERT`. */
const describeCause = (cause: unknown): string => {
  const { code, message } = errnoOf(cause)
  return code === undefined ? message : `${code}: ${message}`
}

const describeHttpError = (error: HttpClientError.HttpClientError): string =>
  error.cause === undefined ? error.message : describeCause(error.cause)

/** Bytes of a health answer's body read at most. */
export const MAX_BODY_BYTES = 8 * 1024

/** A client on an undici Agent of our own: the Agent decides whether the certificate is checked. */
const makeClient = (verifyTls: boolean) =>
  Effect.acquireRelease(
    Effect.sync(() => new Undici.Agent({ connect: { rejectUnauthorized: verifyTls } })),
    (agent) => Effect.promise(() => agent.destroy())
  ).pipe(
    // A health probe is not part of our trace: keep tracing headers off the wire.
    Effect.map((agent) => NodeHttpClient.makeUndici(agent).pipe(HttpClient.withTracerPropagation(false)))
  )

export const make = Effect.gen(function*() {
  // The connect address is in the URL, so two Agents (checking or not) cover every app.
  const verifying = yield* makeClient(true)
  const unverified = yield* makeClient(false)

  const probe = Effect.fn("Health.probe")(function*(app: AppSpec) {
    const { host, url } = probeTarget(app)
    const client = verifiesTls(app.health) ? verifying : unverified
    const request = app.health.url === null
      ? `GET https://${app.domain}${app.health.path} via ${app.health.connect}`
      : `GET ${url} with Host ${app.domain}`
    const hint = app.health.url === null ? `the proxy listens on ${app.health.connect}` : "the URL is right"
    const fail = (reason: string) =>
      new HealthProbeError({
        domain: app.domain,
        message: `health probe ${request} got no answer: ${reason}; check that ${hint} and the app is up`
      })
    yield* Effect.annotateCurrentSpan({ domain: app.domain, url })
    return yield* client.execute(HttpClientRequest.get(url).pipe(HttpClientRequest.setHeader("host", host))).pipe(
      // The status is the answer. Read a few KiB of the body at most (an app can answer without end)
      // and drop the connection with the rest.
      Effect.flatMap((response) =>
        Stream.runFoldWhile(response.stream, 0, (read) => read < MAX_BODY_BYTES, (read, chunk) => read + chunk.length)
          .pipe(Effect.ignore, Effect.as(response.status))
      ),
      Effect.mapError((error) => fail(describeHttpError(error))),
      Effect.timeoutFail({
        duration: app.health.attemptTimeout,
        onTimeout: () => fail(`no answer within ${Duration.format(app.health.attemptTimeout)}`)
      })
    )
  })

  return Health.of({ probe })
})

/** Health over HTTPS; the Agents are closed when the layer's scope closes. */
export const layer: Layer.Layer<Health> = Layer.scoped(Health, make)
