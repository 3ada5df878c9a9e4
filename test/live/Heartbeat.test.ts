/**
 * The heartbeat: healthchecks.io's and Uptime Kuma's conventions (pure), and the pings sent to a
 * real local server; a heartbeat service that is down or answers an error never fails the run.
 */
import { NodeHttpClient } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { ping } from "../../src/domain/Heartbeat.js"
import * as Heartbeat from "../../src/live/Heartbeat.js"
import { closedPort, httpServer } from "../support/httpsServer.js"

describe("heartbeat", () => {
  it("healthchecks.io: /start, the URL itself on success, a POST to /fail with the exit code", () => {
    const hc = "https://hc-ping.com/5d1c3a2e-uuid/"
    expect(ping(hc, { _tag: "start" })).toEqual({ method: "GET", url: "https://hc-ping.com/5d1c3a2e-uuid/start" })
    expect(ping(hc, { _tag: "end", exitCode: 0 })).toEqual({ method: "GET", url: "https://hc-ping.com/5d1c3a2e-uuid" })
    expect(ping(hc, { _tag: "end", exitCode: 1 })).toEqual({
      method: "POST",
      url: "https://hc-ping.com/5d1c3a2e-uuid/fail",
      body: "warm-reconcile exited with code 1"
    })
  })

  it("Uptime Kuma's push URL: no start ping, status=up or status=down with the exit code", () => {
    const kuma = "https://kuma.example.org/api/push/AbC123?status=up&msg=OK&ping="
    expect(ping(kuma, { _tag: "start" })).toBeUndefined()
    expect(ping(kuma, { _tag: "end", exitCode: 0 })?.url).toBe(
      "https://kuma.example.org/api/push/AbC123?status=up&msg=OK&ping="
    )
    expect(ping(kuma, { _tag: "end", exitCode: 75 })?.url).toBe(
      "https://kuma.example.org/api/push/AbC123?status=down&msg=exit+code+75&ping="
    )
  })

  it.scopedLive("the pings reach a local server; one that is down or answers 500 is only logged", () =>
    Effect.gen(function*() {
      const server = yield* httpServer({ "/ping/uuid/start": { status: 200 }, "/ping/uuid": { status: 200 } })
      const base = `http://127.0.0.1:${server.port}/ping/uuid`
      yield* Heartbeat.send(base, { _tag: "start" })
      yield* Heartbeat.send(base, { _tag: "end", exitCode: 0 })
      // No route for /fail: a 404, logged, not a failure.
      yield* Heartbeat.send(base, { _tag: "end", exitCode: 1 })
      expect(server.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
        "GET /ping/uuid/start",
        "GET /ping/uuid",
        "POST /ping/uuid/fail"
      ])
      const port = yield* closedPort
      yield* Heartbeat.send(`http://127.0.0.1:${port}/ping/uuid`, { _tag: "start" })
    }).pipe(Effect.provide(NodeHttpClient.layerUndici)))
})
