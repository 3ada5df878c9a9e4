/**
 * `config check` (issue 13, item 7) looks at what a run reaches, read-only, in one run: the app's
 * server (abra has a directory for it) and its health endpoint (any HTTP status is an answer; a
 * refused connection or no answer within a few seconds is a problem line).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { cli } from "../support/cli.js"
import { scopedAbraWorld, writeConfig } from "../support/fakeAbra.js"
import { fakeEngine } from "../support/fakeEngine.js"

/** A local HTTP server answering every request after `delay` ms (never, for Infinity) with `status`. */
const server = (status: number, delay = 0) =>
  Effect.acquireRelease(
    Effect.async<Http.Server>((resume) => {
      const s = Http.createServer((_req, res) => {
        if (Number.isFinite(delay)) setTimeout(() => res.writeHead(status).end(), delay)
      })
      s.listen(0, "127.0.0.1", () => resume(Effect.succeed(s)))
    }),
    (s) => Effect.sync(() => s.close()).pipe(Effect.zipRight(Effect.sync(() => s.closeAllConnections())))
  ).pipe(Effect.map((s) => `http://127.0.0.1:${(s.address() as AddressInfo).port}/`))

describe("config check: the server and the health endpoint", () => {
  it.scopedLive(
    "an answer of any status passes; refused, silent and an unknown server are one line each",
    () =>
      Effect.gen(function*() {
        const world = yield* scopedAbraWorld({
          recipe: "keycloak",
          domain: "up.example.org",
          versions: [{ tag: "1.1.0+1.1" }],
          deployed: "1.1.0+1.1"
        })
        const engine = yield* fakeEngine({ abraDir: world.abraDir })
        const [unavailable, silent] = [yield* server(503), yield* server(200, Infinity)]
        // A port nothing listens on: refused.
        const refused = yield* server(200).pipe(Effect.scoped)
        const app = (domain: string, health: Record<string, unknown>, more: Record<string, unknown> = {}) => ({
          recipe: "keycloak",
          domain,
          health: { attemptTimeout: "30s", ...health },
          ...more
        })
        const config = writeConfig(world, {
          up: app("up.example.org", { url: unavailable }),
          // The same deployed app, its health settings pointing elsewhere.
          down: app("up.example.org", { url: refused }),
          mute: app("up.example.org", { url: silent }),
          far: app("up.example.org", { url: unavailable }, { server: "far" })
        })
        const started = Date.now()
        const r = yield* cli(["config", "check", "--config", config], {
          ...world.env,
          DOCKER_HOST: `unix://${engine.socket}`
        })
        expect(r.code, r.stderr + r.stdout).toBe(2)
        const lines = r.stdout.trim().split("\n")
        const of = (app: string) => lines.filter((l) => l.startsWith(`${app}: `))
        // 503 is an answer: nothing to say about `up`.
        expect(of("up")).toEqual([])
        expect(of("down")).toHaveLength(1)
        expect(of("down")[0]).toMatch(/^down: health probe GET .* got no answer: ECONNREFUSED/)
        expect(of("mute")).toEqual([
          expect.stringMatching(/^mute: health probe GET .* got no answer: no answer within 3s/)
        ])
        expect(of("far")[0]).toBe("far: abra does not know the server far: add it with `abra server add` first")
        expect(lines.at(-1)).toMatch(/problem\(s\)$/)
        // A short probe, whatever the config allows a run (30 s here).
        expect(Date.now() - started).toBeLessThan(25_000)
      }),
    { timeout: 120_000 }
  )
})
