/**
 * Issue 18 item 3: the output of `plan` and `status` is scrubbed of the secret values of the apps'
 * env files, as alerts, the history and log lines are. Here a person's chaos-version label carries
 * a password (as a Docker label, a release note or an error could), plain and URL-encoded. `snapshot`
 * prints through the same wrapper (cli/Output.ts `printingRedacted`).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { cli } from "../support/cli.js"
import { runAbra, scopedAbraWorld, writeConfig } from "../support/fakeAbra.js"
import { fakeEngine } from "../support/fakeEngine.js"

const DOMAIN = "id.example.org"
const PASSWORD = "Pa55-w0rd/+x"
const ENCODED = encodeURIComponent(PASSWORD)
const FROM = "1.1.0+1.1"
const VERSIONS = [{ tag: FROM }, { tag: "1.2.0+1.2" }]

describe("what plan and status print is redacted", () => {
  it.scopedLive(
    "a label carrying an env file's password, plain and URL-encoded: in no line of plan, plan --json or status",
    () =>
      Effect.gen(function*() {
        const world = yield* scopedAbraWorld({ recipe: "keycloak", domain: DOMAIN, versions: VERSIONS, deployed: FROM })
        Fs.appendFileSync(world.envFile(DOMAIN), `ADMIN_PASSWORD=${PASSWORD}\n`)
        expect(runAbra(world, ["app", "deploy", DOMAIN, "-C", "-o", "-n", "-f"]).code).toBe(0)
        const stateFile = Path.join(world.abraDir, ".fake-abra", "state.json")
        const state = JSON.parse(Fs.readFileSync(stateFile, "utf8"))
        // The labels as a person's tooling might have set them: `plan` shows the chaos version,
        // `status` the version label.
        state.deployed[DOMAIN].chaosVersion = `abc1234+U-${PASSWORD}-${ENCODED}`
        state.deployed[DOMAIN].version = `abc1234+U-${PASSWORD}-${ENCODED}`
        Fs.writeFileSync(stateFile, JSON.stringify(state))
        const engine = yield* fakeEngine({ abraDir: world.abraDir })
        const config = writeConfig(world, { kc: { recipe: "keycloak", domain: DOMAIN } })
        const env = { ...world.env, DOCKER_HOST: `unix://${engine.socket}` }

        for (const command of [["plan", "kc"], ["plan", "kc", "--json"], ["status"], ["status", "--json"]]) {
          const out = yield* cli([...command, "--config", config], env)
          const printed = out.stdout + out.stderr
          // The label is shown (the command did print it), its secret parts are not.
          expect(printed, command.join(" ")).toContain("abc1234+U-")
          expect(printed, command.join(" ")).not.toContain(PASSWORD)
          expect(printed, command.join(" ")).not.toContain(ENCODED)
        }
      }),
    { timeout: 120_000 }
  )
})
