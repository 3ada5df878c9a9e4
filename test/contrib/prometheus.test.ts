/**
 * contrib/prometheus: the alerting rules pass `promtool check rules`, fire and stay quiet as
 * `promtool test rules` expects, and name only series the metrics file has. Needs `promtool`
 * (Debian: prometheus; `.ci/run` installs it); skipped with a message where it is missing.
 */
import { describe, expect, it } from "@effect/vitest"
import { Option } from "effect"
import { spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Metrics from "../../src/live/Metrics.js"
import { ROOT } from "../support/cli.js"

const dir = Path.join(ROOT, "contrib", "prometheus")
const hasPromtool = spawnSync("promtool", ["--version"]).status === 0
if (!hasPromtool) console.warn("promtool not found (Debian: apt-get install prometheus): the rule tests are skipped")

const promtool = (...args: ReadonlyArray<string>) => spawnSync("promtool", args, { cwd: dir, encoding: "utf8" })

describe("contrib/prometheus alerting rules", () => {
  it.skipIf(!hasPromtool)("promtool check rules accepts them, and promtool test rules passes", () => {
    const check = promtool("check", "rules", "warm-reconcile.rules.yml")
    expect(check.status, check.stdout + check.stderr).toBe(0)
    expect(check.stdout).toContain("SUCCESS: 4 rules found")
    const test = promtool("test", "rules", "warm-reconcile.rules.test.yml")
    expect(test.status, test.stdout + test.stderr).toBe(0)
    expect(test.stdout).toContain("SUCCESS")
  }, 60_000)

  it("name only series that the metrics file has", () => {
    const rules = Fs.readFileSync(Path.join(dir, "warm-reconcile.rules.yml"), "utf8")
    const used = new Set(rules.match(/warm_reconcile_[a-z_]+/g))
    expect(used.size).toBeGreaterThanOrEqual(4)
    const text = Metrics.render([{
      app: "kc",
      lastRun: Option.some({ endedAt: 1, outcome: "upgraded", exitCode: 0 }),
      lastSuccess: Option.some(1),
      durations: new Map(),
      counts: { rollbacks: 0, upgrades: 0, holds: 0 },
      waiting: Option.some({ from: "1", to: "2", reason: "major" }),
      unacknowledgedAlerts: 0
    }])
    const written = new Set(text.split("\n").filter((l) => l.startsWith("# TYPE ")).map((l) => l.split(" ")[2]))
    for (const name of used) expect(written, name).toContain(name)
  })
})
