/** The `simulate` command as a person runs it: `npm start` runs its default. */
import { describe, expect, it } from "@effect/vitest"
import * as ChildProcess from "node:child_process"
import { scenarios } from "../../src/simulation/Scenarios.js"
import { BUNDLE, ROOT } from "../support/cli.js"

const cli = (args: ReadonlyArray<string>) => {
  const r = ChildProcess.spawnSync(process.execPath, [BUNDLE, ...args], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 60_000
  })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

// Each case starts the CLI; on a loaded 2-core machine that alone can take seconds.
describe("warm-reconcile simulate", { timeout: 90_000 }, () => {
  it("the default rehearses a broken release: attempt, failed gate, restore, redeploy, alert, rolled-back", () => {
    const r = cli(["simulate"])
    expect(r.code).toBe(0)
    const out = r.stdout
    const at = (text: string) => {
      const i = out.indexOf(text)
      expect(i, `output shows ${text}`).toBeGreaterThanOrEqual(0)
      return i
    }
    const order = [
      at("app deploy id.example.org 1.2.0+1.2"),
      at("-> 500"),
      at("restore 1 volume(s)"),
      at("app deploy id.example.org 1.1.0+1.1"),
      at("alert rollback")
    ]
    expect([...order].sort((a, b) => a - b)).toEqual(order)
    expect(out.trim().split("\n").at(-1)).toBe("RECONCILE RESULT: rolled-back:1.2.0+1.2->1.1.0+1.1")
    // The program's own log lines on stderr tell the failed health gate.
    expect(r.stderr).toContain("did not become healthy")
  })

  it("--list lists every scenario", () => {
    const r = cli(["simulate", "--list"])
    expect(r.code).toBe(0)
    const names = r.stdout.trim().split("\n").map((l) => l.split(/\s+/)[0])
    expect(names).toEqual(scenarios.map((s) => s.name))
    expect(names.length).toBeGreaterThanOrEqual(8)
  })

  it("--json prints one object with the outcome and the exit code matches it", () => {
    const r = cli(["simulate", "restore-fails", "--json"])
    expect(r.code).toBe(1)
    const json = JSON.parse(r.stdout)
    expect(json).toMatchObject({ app: "keycloak", outcome: "rollback-failed", exitCode: 1 })
    expect(json.alerts.map((a: { reason: string }) => a.reason)).toEqual(["rollback-failed"])
  })

  it("an unknown scenario is one line on stderr and exit 2", () => {
    const r = cli(["simulate", "no-such-thing"])
    expect(r.code).toBe(2)
    expect(r.stderr.trim().split("\n")).toHaveLength(1)
    expect(r.stderr).toContain("unknown scenario \"no-such-thing\"")
  })
})
