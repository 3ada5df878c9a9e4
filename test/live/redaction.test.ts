/**
 * Redaction belongs to the live composition, not to the CLI: `Reconcile.run` on `Live.layer`, as a
 * library user calls it (no CLI, no list of apps), with a password in the app's env file and a
 * deploy whose error prints it. The password is in no alert, no line of the history, no log line;
 * a `KEY=value` secret that no env file holds neither.
 */
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Logger } from "effect"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Path from "node:path"
import { appSpecs, decodeConfig } from "../../src/domain/Config.js"
import { REDACTED } from "../../src/domain/Redaction.js"
import * as DockerLive from "../../src/live/Docker.js"
import * as Live from "../../src/live/Live.js"
import { run } from "../../src/reconcile/Reconcile.js"
import { deployWithAbra, fakeAbraPath, makeAbraWorld } from "../support/fakeAbra.js"
import { fakeEngine, stackOf, stackVolume } from "../support/fakeEngine.js"

const DOMAIN = "cloud.example.org"
const PASSWORD = "correct-horse-battery"
/** In no env file: only the `KEY=value` rule can catch it. */
const FROM_ABRA = "abra-printed-this"

/** Set environment variables for the test's scope (the live ProcessRunner spawns abra with them). */
const withEnv = (vars: Record<string, string>) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const before = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]))
      Object.assign(process.env, vars)
      return before
    }),
    (before) =>
      Effect.sync(() => {
        for (const [k, v] of Object.entries(before)) {
          if (v === undefined) delete process.env[k]
          else process.env[k] = v
        }
      })
  )

/** 200 while the fake abra says the app is deployed. */
const healthEndpoint = (deployed: () => boolean) =>
  Effect.acquireRelease(
    Effect.async<Http.Server>((resume) => {
      const server = Http.createServer((_, res) => void res.writeHead(deployed() ? 200 : 404).end())
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
    }),
    (server) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
  ).pipe(Effect.map((server) => (server.address() as { readonly port: number }).port))

describe("redaction on the live layers", () => {
  it.scopedLive(
    "Reconcile.run on Live.layer: a password of the env file in no alert, history line or log line",
    () =>
      Effect.gen(function*() {
        const world = makeAbraWorld()
        yield* Effect.addFinalizer(() => Effect.sync(() => world.cleanup()))
        deployWithAbra(world, {
          recipe: "nextcloud",
          domain: DOMAIN,
          versions: [{ tag: "1.1.0+1.1" }, { tag: "1.2.0+1.2", notes: "New." }],
          deployed: "1.1.0+1.1"
        })
        Fs.appendFileSync(world.envFile(DOMAIN), `NEXTCLOUD_ADMIN_PASSWORD="${PASSWORD}"\n`)

        // abra's deploy of 1.2.0 fails, and so does a fetch once `fail-fetch` exists; both print the
        // password and another secret.
        const wrap = Path.join(world.root, "wrap")
        const failFetch = Path.join(world.root, "fail-fetch")
        const said = `echo 'FATA login as admin:${PASSWORD} failed; REDIS_TOKEN=${FROM_ABRA}' >&2; exit 1`
        Fs.mkdirSync(wrap)
        Fs.writeFileSync(
          Path.join(wrap, "abra"),
          `#!/bin/sh\ncase " $* " in\n  *" app deploy "*" 1.2.0+1.2 "*) ${said} ;;\n` +
            `  *" recipe fetch "*) [ -e '${failFetch}' ] && { ${said}; } ;;\n` +
            `esac\nexec "${fakeAbraPath}" "$@"\n`,
          { mode: 0o755 }
        )
        yield* withEnv({ ...world.env, PATH: [wrap, world.env.PATH].join(Path.delimiter) })

        const stack = stackOf(DOMAIN)
        const volume = Path.join(world.root, "volumes", `${stack}_data`, "_data")
        Fs.mkdirSync(volume, { recursive: true })
        const engine = yield* fakeEngine({
          abraDir: world.abraDir,
          state: { volumes: [stackVolume(stack, "data", volume)] }
        })
        const port = yield* healthEndpoint(() => world.readState().deployed[DOMAIN] !== undefined)
        const stateDir = Path.join(world.root, "state")
        const config = decodeConfig({
          stateDir,
          apps: {
            cloud: {
              recipe: "nextcloud",
              domain: DOMAIN,
              health: { url: `http://127.0.0.1:${port}/`, timeout: "20 seconds", interval: 0.2 }
            }
          }
        }, "test")
        if (Either.isLeft(config)) throw new Error(config.left.message)
        const [app] = appSpecs(config.right)

        // The logger a library user installs: Live.layer wraps it.
        const lines: Array<string> = []
        const collect = Logger.map(Logger.logfmtLogger, (line) => void lines.push(line))
        // Two runs on one layer: the first rolls the failing deploy back (an alert), the second fails
        // to fetch (a history line with abra's error). Neither was given the list of apps.
        const outcomes = yield* Effect.all([
          run(app!),
          Effect.sync(() => Fs.writeFileSync(failFetch, "")).pipe(Effect.zipRight(run(app!)))
        ]).pipe(
          Effect.provide(
            Live.layer({ stateDir, abraDir: world.abraDir, docker: DockerLive.layerSocket(engine.socket) })
          ),
          Effect.provide(Logger.replace(Logger.defaultLogger, collect))
        )
        expect(outcomes.map((o) => o._tag)).toEqual(["rolled-back", "failed"])

        const alerts = Fs.readdirSync(Path.join(stateDir, "alerts")).filter((f) => f.endsWith(".json"))
        expect(alerts).toHaveLength(1)
        const alert = Fs.readFileSync(Path.join(stateDir, "alerts", alerts[0]!), "utf8")
        const history = Fs.readFileSync(Path.join(stateDir, "cloud", "history.jsonl"), "utf8")
        const logs = lines.join("\n")
        // The error was there, scrubbed: the test would pass vacuously if nothing had been written.
        for (const text of [alert, history, logs]) {
          expect(text).toContain(`admin:${REDACTED} failed`)
          expect(text).toContain(`REDIS_TOKEN=${REDACTED}`)
          expect(text).not.toContain(PASSWORD)
          expect(text).not.toContain(FROM_ABRA)
        }
      }).pipe(Effect.provide(NodeContext.layer)),
    { timeout: 120_000 }
  )
})
