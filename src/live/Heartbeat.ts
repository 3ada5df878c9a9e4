/** Sending a heartbeat ping (domain/Heartbeat.ts): 10 seconds at most, and a failure is only logged. */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { Duration, Effect } from "effect"
import { type HeartbeatEvent, ping } from "../domain/Heartbeat.js"

const LIMIT = Duration.seconds(10)

export const send = (base: string, event: HeartbeatEvent) =>
  Effect.gen(function*() {
    const p = ping(base, event)
    if (p === undefined) return
    const client = (yield* HttpClient.HttpClient).pipe(HttpClient.withTracerPropagation(false))
    const request = p.body === undefined
      ? HttpClientRequest.make(p.method)(p.url)
      : HttpClientRequest.make(p.method)(p.url).pipe(HttpClientRequest.bodyText(p.body))
    const response = yield* client.execute(request).pipe(Effect.timeout(LIMIT))
    if (response.status < 200 || response.status > 299) {
      yield* Effect.logWarning(`the heartbeat ping to ${new URL(p.url).host} answered ${response.status}`)
    }
  }).pipe(
    // The heartbeat watches the run; it never decides how the run ends.
    Effect.catchAll((e) => Effect.logWarning(`the heartbeat ping failed: ${"message" in e ? e.message : String(e)}`)),
    Effect.annotateLogs({ phase: "heartbeat" })
  )
