/** `config check` (issue 13, item 7) through the CLI with the fake abra and the fake Engine API: read-only. */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as Path from "node:path"
import { cli } from "../support/cli.js"
import { deployWithAbra, makeAbraWorld } from "../support/fakeAbra.js"
import { fakeEngine } from "../support/fakeEngine.js"

const DOMAIN = "id.example.org"

/** Every file under `dir` (git's objects left out) with its content: what "nothing written" compares. */
const tree = (dir: string): Record<string, string> =>
  Object.fromEntries(
    (Fs.readdirSync(dir, { recursive: true }) as Array<string>).filter((f) => !f.includes(".git"))
      .map((f) => Path.join(dir, f)).filter((f) => Fs.statSync(f).isFile())
      .map((f) => [f, Fs.readFileSync(f, "utf8")])
  )

describe("config check", () => {
  it.scopedLive(
    "a good config: exit 0; a domain typo and a wrong recipe: one line each, exit 2; nothing written",
    () =>
      Effect.gen(function*() {
        const world = makeAbraWorld()
        yield* Effect.addFinalizer(() => Effect.sync(() => world.cleanup()))
        deployWithAbra(world, {
          recipe: "keycloak",
          domain: DOMAIN,
          versions: [{ tag: "1.1.0+1.1" }],
          deployed: "1.1.0+1.1"
        })
        const engine = yield* fakeEngine({ abraDir: world.abraDir })
        const env = { ...world.env, DOCKER_HOST: `unix://${engine.socket}` }
        const write = (apps: Record<string, unknown>) => {
          const path = Path.join(world.root, "config.json")
          Fs.writeFileSync(
            path,
            JSON.stringify({ stateDir: Path.join(world.root, "state"), abraDir: world.abraDir, apps })
          )
          return path
        }
        // The health endpoint must answer (any status): a local one that says 503.
        const health = Http.createServer((_req, res) => res.writeHead(503).end())
        yield* Effect.acquireRelease(
          Effect.async<void>((resume) => void health.listen(0, "127.0.0.1", () => resume(Effect.void))),
          () => Effect.sync(() => void health.close())
        )
        const url = `http://127.0.0.1:${(health.address() as AddressInfo).port}/`
        const good = yield* cli(
          ["config", "check", "--config", write({ kc: { recipe: "keycloak", domain: DOMAIN, health: { url } } })],
          env
        )
        expect(good.code, good.stderr + good.stdout).toBe(0)
        expect(good.stdout).toContain("ok, 1 app(s)")

        const before = tree(world.abraDir)
        const bad = yield* cli([
          "config",
          "check",
          "--config",
          write({
            kc: { recipe: "keycloak", domain: "id.exmaple.org" },
            nc: { recipe: "nextcloud", domain: DOMAIN }
          })
        ], env)
        expect(bad.code, bad.stderr).toBe(2)
        const lines = bad.stdout.trim().split("\n")
        expect(lines.filter((l) => l.startsWith("kc: no env file"))[0]).toContain(`did you mean ${DOMAIN}?`)
        expect(lines.filter((l) => l.startsWith("nc: "))[0]).toContain("is for the recipe keycloak")
        expect(lines.at(-1)).toMatch(/problem\(s\)$/)
        expect(tree(world.abraDir)).toEqual(before)
      }),
    { timeout: 120_000 }
  )
})
