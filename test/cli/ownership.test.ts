/**
 * Issue 18 item 10: the config file and the state tree decide what root deploys and restores, so
 * one that another account could write is refused at the start (exit 2, one line, nothing written).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { cli } from "../support/cli.js"

const setup = () => {
  const root = Fs.mkdtempSync(Path.join(Os.tmpdir(), "warm-ownership-"))
  const stateDir = Path.join(root, "state")
  const abraDir = Path.join(root, "abra")
  Fs.mkdirSync(Path.join(abraDir, "servers"), { recursive: true })
  Fs.mkdirSync(stateDir, { mode: 0o700 })
  const config = Path.join(root, "config.json")
  Fs.writeFileSync(
    config,
    JSON.stringify({ stateDir, abraDir, apps: { kc: { recipe: "keycloak", domain: "id.example.org" } } }),
    { mode: 0o600 }
  )
  return { root, stateDir, config }
}

const isRoot = process.getuid?.() === 0

describe("a config file or state tree another account could write is refused", () => {
  const cases = [
    {
      name: "a config file every account can write",
      change: (s: ReturnType<typeof setup>) => Fs.chmodSync(s.config, 0o666),
      what: "the config file",
      problem: "writable by every account"
    },
    {
      name: "a state directory its group can write",
      change: (s: ReturnType<typeof setup>) => Fs.chmodSync(s.stateDir, 0o770),
      what: "stateDir",
      problem: "writable by its group"
    },
    ...(isRoot
      ? [{
        name: "a state directory owned by another uid",
        change: (s: ReturnType<typeof setup>) => Fs.chownSync(s.stateDir, 4242, 4242),
        what: "stateDir",
        problem: "belongs to uid 4242, not root"
      }]
      : [])
  ]
  for (const c of cases) {
    it.effect(`${c.name}: exit 2, one line, nothing written`, () =>
      Effect.gen(function*() {
        const s = setup()
        try {
          c.change(s)
          const r = yield* cli(["status", "--config", s.config])
          expect(r.code, r.stderr).toBe(2)
          expect(r.stdout).toBe("")
          const line = r.stderr.trim().split("\n").filter((l) => l.includes("refusing"))
          expect(line).toHaveLength(1)
          expect(line[0]).toContain(`refusing ${c.what} `)
          expect(line[0]).toContain(c.problem)
          expect(line[0]).toContain("chmod go-w")
          expect(Fs.readdirSync(s.stateDir)).toEqual([])
        } finally {
          Fs.rmSync(s.root, { recursive: true, force: true })
        }
      }), 60_000)
  }

  it.effect(
    "the same files owned by root (or this user) with no write for others are accepted",
    () =>
      Effect.gen(function*() {
        const s = setup()
        try {
          const r = yield* cli(["status", "--config", s.config])
          expect(r.stderr).not.toContain("refusing")
          expect(r.stdout).toContain("kc")
        } finally {
          Fs.rmSync(s.root, { recursive: true, force: true })
        }
      }),
    60_000
  )
})
