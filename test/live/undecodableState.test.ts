/**
 * Issue 18 item 4: an in-flight record, hold record or last-good that exists but does not decode
 * stops that app: outcome `failed` naming the file and what to do, exit 1, an alert, and nothing
 * else runs for that app (no undeploy, no deploy, no snapshot). Through the CLI on the live layers.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { cli } from "../support/cli.js"
import { deployWithAbra, makeAbraWorld, writeConfig } from "../support/fakeAbra.js"
import { fakeEngine, stackOf, stackVolume } from "../support/fakeEngine.js"

const DOMAIN = "id.example.org"
const STACK = stackOf(DOMAIN)

const cases = [
  { file: "in-flight.json", text: "{\"from\": \"1.1.0+1.1\", \"phase\": \"deplo" },
  { file: "hold.json", text: "{\"reason\": \"held-sideways\"}" },
  { file: "last_good", text: "1.1.0+1.1\n$(reboot)\n" }
] as const

describe("a state record that does not decode stops its app", () => {
  for (const { file, text } of cases) {
    it.scopedLive(`${file}: failed naming the file, exit 1, an alert, nothing deployed`, () =>
      Effect.gen(function*() {
        const world = makeAbraWorld()
        yield* Effect.addFinalizer(() => Effect.sync(() => world.cleanup()))
        deployWithAbra(world, {
          recipe: "keycloak",
          domain: DOMAIN,
          versions: [{ tag: "1.1.0+1.1" }, { tag: "1.2.0+1.2" }],
          deployed: "1.1.0+1.1"
        })
        const volume = Path.join(world.root, "volumes", `${STACK}_data`, "_data")
        Fs.mkdirSync(volume, { recursive: true })
        Fs.writeFileSync(Path.join(volume, "db"), "rows\n")
        const engine = yield* fakeEngine({
          abraDir: world.abraDir,
          state: { volumes: [stackVolume(STACK, "data", volume)] }
        })
        const stateDir = Path.join(world.root, "state")
        const record = Path.join(stateDir, "keycloak", file)
        Fs.mkdirSync(Path.dirname(record), { recursive: true, mode: 0o700 })
        Fs.writeFileSync(record, text, { mode: 0o600 })
        const config = writeConfig(world, { keycloak: { recipe: "keycloak", domain: DOMAIN, stateful: true } })
        const callsBefore = world.readCalls().length
        const r = yield* cli(["reconcile", "keycloak", "--config", config], {
          ...world.env,
          DOCKER_HOST: `unix://${engine.socket}`
        })
        expect(r.code).toBe(1)
        expect(r.stdout).toMatch(/^RECONCILE RESULT: failed:/)
        expect(r.stdout).toContain(record)
        expect(r.stdout).toMatch(/then move the file aside\n$/)
        // One line: the decoding problem is its innermost issue, not Schema's tree.
        expect(r.stdout.trimEnd().split("\n")).toHaveLength(1)
        // Nothing ran for the app: no undeploy, deploy or checkout; the record is left as it was.
        const calls = world.readCalls().slice(callsBefore).map((c) => c.argv.slice(0, 2).join(" "))
        expect(calls.filter((c) => c === "app deploy" || c === "app undeploy")).toEqual([])
        expect(world.readState().deployed[DOMAIN]?.version).toBe("1.1.0+1.1")
        expect(Fs.readFileSync(record, "utf8")).toBe(text)
        expect(Fs.existsSync(Path.join(stateDir, "keycloak", "snapshot"))).toBe(false)
        const alerts = Fs.readdirSync(Path.join(stateDir, "alerts")).filter((f) => f.endsWith(".json"))
        expect(alerts).toHaveLength(1)
        const alert = JSON.parse(Fs.readFileSync(Path.join(stateDir, "alerts", alerts[0]!), "utf8"))
        expect(alert.app).toBe("keycloak")
        expect(JSON.stringify(alert)).toContain(record)
      }), { timeout: 120_000 })
  }
})
