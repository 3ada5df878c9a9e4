/**
 * Issue 18 item 7: text from outside (here a person's chaos-version label, as any Docker label,
 * tag, note or error could carry) reaches the terminal with its control characters escaped: an
 * escape sequence cannot recolour or rewrite the screen, and a newline cannot split the result line.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { cli } from "../support/cli.js"
import { deployWithAbra, makeAbraWorld, runAbra } from "../support/fakeAbra.js"
import { fakeEngine } from "../support/fakeEngine.js"

const DOMAIN = "id.example.org"
// ESC [2J (clear screen), a bare carriage return, a newline, a C1 CSI and BEL.
const LABEL = "abc1234+U\u001b[2J\rFORGED\nRECONCILE RESULT: upgraded\u009b31m\u0007"

describe("control characters from outside are shown escaped", () => {
  it.scopedLive(
    "a chaos label with escape sequences: one result line, plan and status escaped",
    () =>
      Effect.gen(function*() {
        const world = makeAbraWorld()
        yield* Effect.addFinalizer(() => Effect.sync(() => world.cleanup()))
        deployWithAbra(world, {
          recipe: "keycloak",
          domain: DOMAIN,
          versions: [{ tag: "1.1.0+1.1" }, { tag: "1.2.0+1.2" }],
          deployed: "1.1.0+1.1"
        })
        expect(runAbra(world, ["app", "deploy", DOMAIN, "-C", "-o", "-n", "-f"]).code).toBe(0)
        // The label as a person's tooling might have set it.
        const stateFile = Path.join(world.abraDir, ".fake-abra", "state.json")
        const state = JSON.parse(Fs.readFileSync(stateFile, "utf8"))
        state.deployed[DOMAIN].chaosVersion = LABEL
        Fs.writeFileSync(stateFile, JSON.stringify(state))
        const engine = yield* fakeEngine({ abraDir: world.abraDir })
        const stateDir = Path.join(world.root, "state")
        const config = Path.join(world.root, "config.json")
        Fs.writeFileSync(
          config,
          JSON.stringify({ stateDir, abraDir: world.abraDir, apps: { kc: { recipe: "keycloak", domain: DOMAIN } } })
        )
        const env = { ...world.env, DOCKER_HOST: `unix://${engine.socket}` }
        // eslint-disable-next-line no-control-regex
        const raw = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/

        const r = yield* cli(["reconcile", "kc", "--config", config], env)
        expect(r.code, r.stderr).toBe(0)
        expect(r.stdout).toBe(
          "RECONCILE RESULT: held-chaos:abc1234+U\\u001b[2J\\rFORGED\\nRECONCILE RESULT: upgraded\\u009b31m\\u0007\n"
        )
        expect(r.stderr).not.toMatch(raw)
        for (const command of [["plan", "kc"], ["status"], ["alerts"]]) {
          const out = yield* cli([...command, "--config", config], env)
          expect(out.stdout, command.join(" ")).toContain("abc1234+U\\u001b[2J")
          expect(out.stdout + out.stderr, command.join(" ")).not.toMatch(raw)
          // No line of output begins with what the label tried to forge.
          expect(out.stdout.split("\n").some((l) => l.startsWith("RECONCILE RESULT: upgraded"))).toBe(false)
        }
      }),
    { timeout: 120_000 }
  )
})
