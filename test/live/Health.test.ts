import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Schema } from "effect"
import * as Http from "node:http"
import { AppConfig, AppName, appSpec, HealthConfig } from "../../src/domain/Config.js"
import * as LiveHealth from "../../src/live/Health.js"
import { Health, HealthProbeError } from "../../src/services/Health.js"
import { closedPort, httpServer, httpsServer } from "../support/httpsServer.js"
import { GIVES_UP_AT_DEADLINE, realPause, timeline } from "../support/virtualTime.js"

const domain = "id.example.test"

const app = (health: ConstructorParameters<typeof HealthConfig>[0]) =>
  appSpec(
    Schema.decodeSync(AppName)("id"),
    AppConfig.make({ recipe: "keycloak", domain, health: HealthConfig.make(health) })
  )

const probe = (health: ConstructorParameters<typeof HealthConfig>[0]) =>
  Effect.flatMap(Health, (h) => h.probe(app(health))).pipe(Effect.provide(LiveHealth.layer))

const expectProbeError = <A>(exit: Exit.Exit<A, HealthProbeError>) => {
  expect(Exit.isFailure(exit)).toBe(true)
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
  expect(error).toBeInstanceOf(HealthProbeError)
  expect(error?.domain).toBe(domain)
  return error!
}

describe("live Health", () => {
  it.scopedLive("connects to the connect address with SNI and Host set to the domain", () =>
    Effect.gen(function*() {
      const server = yield* httpsServer(domain, { "/health": { status: 200 } })
      const status = yield* probe({ path: "/health", connect: `127.0.0.1:${server.port}` })
      expect(status).toBe(200)
      expect(server.requests).toEqual([{ method: "GET", path: "/health", host: domain, servername: domain }])
    }))

  it.scopedLive("answers any HTTP status, 500 included", () =>
    Effect.gen(function*() {
      const server = yield* httpsServer(domain, { "/": { status: 500, body: "boom" }, "/gone": { status: 404 } })
      const connect = `127.0.0.1:${server.port}`
      expect(yield* probe({ connect })).toBe(500)
      expect(yield* probe({ connect, path: "/gone" })).toBe(404)
      expect(server.requests.map((r) => r.path)).toEqual(["/", "/gone"])
    }))

  it.scopedLive("accepts a self-signed certificate unless verifyTls is on", () =>
    Effect.gen(function*() {
      const server = yield* httpsServer(domain, { "/": { status: 200 } })
      const connect = `127.0.0.1:${server.port}`
      expect(yield* probe({ connect, verifyTls: false })).toBe(200)
      const error = expectProbeError(yield* Effect.exit(probe({ connect, verifyTls: true })))
      expect(error.message).toMatch(/SELF_SIGNED|self-signed/i)
      expect(error.message).toContain(domain)
      // The TLS handshake failed, so no HTTP request reached the server.
      expect(server.requests).toHaveLength(1)
    }))

  it.scopedLive("reads a few KiB of an answer's body at most: an endless body is answered by its status", () =>
    Effect.gen(function*() {
      let sent = 0
      const server = yield* Effect.acquireRelease(
        Effect.async<Http.Server>((resume) => {
          const s = Http.createServer((_, res) => {
            res.writeHead(200)
            const chunk = Buffer.alloc(64 * 1024, 120)
            const pump = () => {
              while (!res.destroyed && res.write(chunk)) sent += chunk.length
            }
            res.on("drain", pump)
            pump()
          })
          s.listen(0, "127.0.0.1", () => resume(Effect.succeed(s)))
        }),
        (s) => Effect.sync(() => s.close())
      )
      const port = (server.address() as { port: number }).port
      const status = yield* probe({ url: `http://127.0.0.1:${port}/`, attemptTimeout: Duration.seconds(5) })
      expect(status).toBe(200)
      // What was written before the connection was dropped: socket buffers, far from an endless body.
      expect(sent).toBeLessThan(16 * 1024 * 1024)
    }))

  // On the TestClock: the probe gives up at the attempt timeout of Effect's clock, not before.
  it.scoped("gives up on a slow endpoint at the attempt timeout", () =>
    Effect.gen(function*() {
      const server = yield* httpsServer(domain, { "/slow": { status: 200, delay: 5_000 } })
      const probing = yield* Effect.fork(
        probe({ connect: `127.0.0.1:${server.port}`, path: "/slow", attemptTimeout: Duration.millis(300) })
      )
      expect(yield* timeline(probing, 300)).toEqual(GIVES_UP_AT_DEADLINE)
      const error = expectProbeError(yield* Fiber.await(probing))
      expect(error.message).toContain("no answer within")
      // The abandoned request's connection is closed, not left waiting for the answer (5 s of real
      // time: the server's delay is not on the TestClock).
      for (let i = 0; i < 200 && server.aborted.length === 0; i++) yield* realPause(10)
      expect(server.aborted).toEqual(["/slow"])
    }))

  it.scopedLive("GETs health.url instead when set, plain HTTP, Host still the domain", () =>
    Effect.gen(function*() {
      const server = yield* httpServer({ "/status?full=1": { status: 204 } })
      const status = yield* probe({
        url: `http://127.0.0.1:${server.port}/status?full=1`,
        // Ignored when url is set: nothing listens there.
        connect: "127.0.0.1:1"
      })
      expect(status).toBe(204)
      expect(server.requests).toEqual([
        { method: "GET", path: "/status?full=1", host: domain, servername: undefined }
      ])
    }))

  it.scopedLive("fails quickly with HealthProbeError on a closed port", () =>
    Effect.gen(function*() {
      const port = yield* closedPort
      // The kernel refuses at once, well before any timeout: real socket time, a generous real-time bound.
      const started = Date.now()
      const error = expectProbeError(yield* Effect.exit(probe({ connect: `127.0.0.1:${port}` })))
      expect(Date.now() - started).toBeLessThan(1_000)
      expect(error.message).toContain("ECONNREFUSED")
      expect(error.message).toContain(`127.0.0.1:${port}`)
    }))
})
