/**
 * Issue 18 item 10: a config file or state directory another account could change is refused at
 * the start (exit 2, one line, nothing run or written): root runs what the config says and
 * restores what the state tree holds.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { cli, type CliResult } from "../support/cli.js"

const isRoot = process.getuid?.() === 0

const setup = () => {
  const root = Fs.mkdtempSync(Path.join(Os.tmpdir(), "warm-reconcile-ownership-"))
  const stateDir = Path.join(root, "state")
  Fs.mkdirSync(stateDir, { mode: 0o700 })
  const config = Path.join(root, "config.json")
  Fs.writeFileSync(
    config,
    JSON.stringify({
      stateDir,
      abraDir: Path.join(root, "no-abra"),
      apps: { kc: { recipe: "keycloak", domain: "id.example.org" } }
    }),
    { mode: 0o600 }
  )
  return { root, stateDir, config }
}

const expectRefused = (r: CliResult, fragment: string) => {
  expect(r.code, r.stderr).toBe(2)
  expect(r.stdout).toBe("")
  const lines = r.stderr.split("\n").filter((l) => l !== "")
  expect(lines, r.stderr).toHaveLength(1)
  expect(lines[0]).toContain(fragment)
  expect(lines[0]).toContain("chmod go-w")
}

describe("the config file and the state directory must be root's alone", () => {
  it.live("a config file every account can write is refused, and nothing is written", () =>
    Effect.gen(function*() {
      const { config, root, stateDir } = setup()
      Fs.chmodSync(config, 0o666)
      const r = yield* cli(["plan", "kc", "--config", config])
      expectRefused(r, `refusing ${config}: it is writable by every account`)
      expect(Fs.readdirSync(stateDir)).toEqual([])
      Fs.rmSync(root, { recursive: true, force: true })
    }))

  it.live("a state directory every account can write is refused", () =>
    Effect.gen(function*() {
      const { config, root, stateDir } = setup()
      Fs.chmodSync(stateDir, 0o777)
      const r = yield* cli(["plan", "kc", "--config", config])
      expectRefused(r, `stateDir: refusing ${stateDir}: it is writable by every account`)
      expect(Fs.readdirSync(stateDir)).toEqual([])
      Fs.rmSync(root, { recursive: true, force: true })
    }))

  it.live("0600 and 0700 pass the check (the run then goes on to its own errors)", () =>
    Effect.gen(function*() {
      const { config, root } = setup()
      const r = yield* cli(["plan", "kc", "--config", config])
      expect(r.stderr).not.toContain("refusing")
      Fs.rmSync(root, { recursive: true, force: true })
    }))

  it.live.skipIf(!isRoot)(
    "as root: another account's file, or one its group can write, is refused; root's group is not",
    () =>
      Effect.gen(function*() {
        const { config, root } = setup()
        Fs.chownSync(config, 4242, 0)
        expectRefused(yield* cli(["plan", "kc", "--config", config]), "it belongs to uid 4242, not root")
        Fs.chownSync(config, 0, 4242)
        Fs.chmodSync(config, 0o660)
        expectRefused(yield* cli(["plan", "kc", "--config", config]), "it is writable by group 4242")
        Fs.chownSync(config, 0, 0)
        expect((yield* cli(["plan", "kc", "--config", config])).stderr).not.toContain("refusing")
        Fs.rmSync(root, { recursive: true, force: true })
      })
  )
})
