/** Overlapping runs (boot and timer) through the CLI entry: the second gives up with exit 75. */
import { describe, expect, it } from "@effect/vitest"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { BUNDLE, ROOT } from "../support/cli.js"

describe("reconcile while another run holds the app's lock", { timeout: 90_000 }, () => {
  it("waits up to --lock-wait, then exits 75 with one line, touching nothing", () => {
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "warm-lock-cli-"))
    const holder = ChildProcess.spawn("sleep", ["60"])
    try {
      const stateDir = Path.join(dir, "state")
      Fs.mkdirSync(Path.join(stateDir, "kc"), { recursive: true })
      const bootId = Fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim()
      Fs.writeFileSync(
        Path.join(stateDir, "kc", "lock"),
        JSON.stringify({ pid: holder.pid, bootId, since: "2026-11-25T00:00:00.000Z" })
      )
      const config = Path.join(dir, "config.json")
      Fs.writeFileSync(
        config,
        JSON.stringify({
          stateDir,
          abraDir: Path.join(dir, "abra"),
          apps: { kc: { recipe: "keycloak", domain: "id.example.org" } }
        })
      )
      const started = Date.now()
      const r = ChildProcess.spawnSync(
        process.execPath,
        [
          BUNDLE,
          "reconcile",
          "kc",
          "--config",
          config,
          "--lock-wait",
          "1 second"
        ],
        // No abra on PATH: had the run gone past the lock, it would have failed with exit 1 instead.
        { cwd: ROOT, encoding: "utf8", env: { ...process.env, PATH: "/usr/bin:/bin" }, timeout: 60_000 }
      )
      expect(r.status).toBe(75)
      const lines = r.stderr.trim().split("\n").filter((l) => l.startsWith("warm-reconcile:"))
      expect(lines).toHaveLength(1)
      expect(lines[0]).toContain(`another warm-reconcile run (pid ${holder.pid}`)
      // The CLI is a real process: its --lock-wait is measured on the wall clock.
      expect(Date.now() - started).toBeGreaterThanOrEqual(1000)
      expect(Fs.readdirSync(Path.join(stateDir, "kc"))).toEqual(["lock"])
    } finally {
      holder.kill("SIGKILL")
      Fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
