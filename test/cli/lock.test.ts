/** Overlapping runs (boot and timer) through the CLI entry: the second gives up with exit 75. */
import { describe, expect, it } from "@effect/vitest"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { BUNDLE, ROOT } from "../support/cli.js"

/**
 * Another run holding the app's lock: a process holding it with flock(1), the file saying who
 * it is, as a run of warm-reconcile leaves it.
 */
const holdLock = (file: string) =>
  new Promise<ChildProcess.ChildProcess>((resolve) => {
    // A group of its own, ended whole: the sleep inherits the locked descriptor.
    const holder = ChildProcess.spawn("flock", [file, "sh", "-c", "echo held; exec sleep 60"], { detached: true })
    holder.stdout.once("data", () => {
      Fs.writeFileSync(file, JSON.stringify({ pid: holder.pid, since: "2026-11-25T00:00:00.000Z" }))
      resolve(holder)
    })
  })

/** A state and abra directory, a config naming `kc`, and another run holding kc's lock. */
const lockedApp = async (prefix: string, app: Record<string, unknown>) => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), prefix))
  const stateDir = Path.join(dir, "state")
  Fs.mkdirSync(Path.join(stateDir, "kc"), { recursive: true })
  // An abra directory (it has servers/), so that a run gets as far as the lock.
  Fs.mkdirSync(Path.join(dir, "abra", "servers"), { recursive: true })
  const config = Path.join(dir, "config.json")
  Fs.writeFileSync(config, JSON.stringify({ stateDir, abraDir: Path.join(dir, "abra"), apps: { kc: app } }))
  const holder = await holdLock(Path.join(stateDir, "kc", "lock"))
  const cleanup = () => {
    if (holder.exitCode === null && holder.signalCode === null) process.kill(-holder.pid!, "SIGKILL")
    Fs.rmSync(dir, { recursive: true, force: true })
  }
  return { stateDir, config, holder, cleanup }
}

describe("reconcile while another run holds the app's lock", { timeout: 90_000 }, () => {
  it("waits up to --lock-wait, then exits 75 with one line, touching nothing", async () => {
    const { cleanup, config, holder, stateDir } = await lockedApp("warm-lock-cli-", {
      recipe: "keycloak",
      domain: "id.example.org"
    })
    try {
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
      cleanup()
    }
  })

  it("snapshot take and restore wait for the lock too (exit 75), and restore refuses an unfinished upgrade", async () => {
    const { cleanup, config, holder, stateDir } = await lockedApp("warm-lock-snap-", {
      recipe: "keycloak",
      domain: "id.example.org",
      stateful: true
    })
    try {
      const snapshot = (action: string) =>
        ChildProcess.spawnSync(
          process.execPath,
          [BUNDLE, "snapshot", action, "kc", "--config", config, "--lock-wait", "200 millis"],
          { cwd: ROOT, encoding: "utf8", env: { ...process.env, PATH: "/usr/bin:/bin" }, timeout: 60_000 }
        )
      for (const action of ["take", "restore"]) {
        const r = snapshot(action)
        expect(r.status, r.stderr).toBe(75)
        expect(r.stderr).toContain(`another warm-reconcile run (pid ${holder.pid}`)
      }
      // The holder is gone; an upgrade it left unfinished is reconcile's to recover.
      process.kill(-holder.pid!, "SIGKILL")
      await new Promise((resolve) => holder.once("exit", resolve))
      Fs.writeFileSync(
        Path.join(stateDir, "kc", "in-flight.json"),
        JSON.stringify({
          from: "1.1.0+1.1",
          to: "1.2.0+1.2",
          fromHealthy: true,
          snapshot: null,
          phase: "deploy",
          pid: holder.pid,
          startedAt: "t"
        })
      )
      const r = snapshot("restore")
      expect(r.status, r.stderr).toBe(1)
      expect(r.stderr).toContain("kc has an unfinished upgrade 1.1.0+1.1 -> 1.2.0+1.2 (in-flight.json)")
      expect(r.stderr).toContain("before you restore a snapshot")
      expect(Fs.readdirSync(Path.join(stateDir, "kc")).sort()).toEqual(["in-flight.json", "lock"])
    } finally {
      cleanup()
    }
  })
})
