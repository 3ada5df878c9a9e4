/**
 * The plain systemd units in contrib/systemd: `systemd-analyze verify` accepts them without a
 * warning (with the binary replaced by a stub), and they carry the settings the design needs.
 * Needs `systemd-analyze` (Debian: systemd).
 */
import { describe, expect, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const root = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../..")
const contrib = Path.join(root, "contrib/systemd")
const BINARY = "/usr/local/bin/warm-reconcile"

const read = (name: string) => Fs.readFileSync(Path.join(contrib, name), "utf8")

/** `systemd-analyze verify` on copies of the units in a temp dir, the binary replaced by a stub. */
const verify = (units: Record<string, string>) => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "warm-reconcile-units-"))
  try {
    const stub = Path.join(dir, "warm-reconcile-stub")
    Fs.writeFileSync(stub, "#!/bin/sh\nexit 0\n", { mode: 0o755 })
    const files = Object.entries(units).map(([name, text]) => {
      const file = Path.join(dir, name)
      Fs.writeFileSync(file, text.replaceAll(BINARY, stub))
      return file
    })
    const result = spawnSync("systemd-analyze", ["verify", ...files], { encoding: "utf8" })
    if (result.error) throw new Error(`systemd-analyze could not run (apt-get install -y systemd): ${result.error}`)
    // It only warns, exit 0, on unknown keys and sections: those lines name the unit file.
    const warnings = result.stderr.split("\n").filter((line) => line.includes(dir) || line.includes("warm-reconcile"))
    return { status: result.status, stderr: result.stderr, warnings }
  } finally {
    Fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** [Section] -> key -> values, from unit file text (repeated keys accumulate). */
const parseUnit = (text: string) => {
  const sections: Record<string, Record<string, Array<string>>> = {}
  let current: Record<string, Array<string>> | undefined
  for (const raw of text.split("\n")) {
    const line = raw.trim()
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue
    const header = /^\[(.+)\]$/.exec(line)
    if (header) {
      current = sections[header[1]!] ??= {}
      continue
    }
    const eq = line.indexOf("=")
    if (current === undefined || eq < 0) throw new Error(`not a unit file line: ${line}`)
    ;(current[line.slice(0, eq)] ??= []).push(line.slice(eq + 1))
  }
  return sections
}

describe("contrib/systemd", () => {
  const units = {
    "warm-reconcile.service": read("warm-reconcile.service"),
    "warm-reconcile.timer": read("warm-reconcile.timer")
  }
  const service = parseUnit(units["warm-reconcile.service"])
  const timer = parseUnit(units["warm-reconcile.timer"])

  it("systemd-analyze verify accepts the service and the timer without a warning", () => {
    const result = verify(units)
    expect(result.status, result.stderr).toBe(0)
    expect(result.warnings).toEqual([])
  })

  it("the check sees a misspelt key, and a binary that is not there", () => {
    const misspelt = verify({ ...units, "warm-reconcile.service": `${units["warm-reconcile.service"]}KillMod=mixed\n` })
    expect(misspelt.warnings.join("\n")).toContain("KillMod")
    const missing = verify({
      ...units,
      "warm-reconcile.service": units["warm-reconcile.service"].replace(
        `ExecStart=${BINARY}`,
        "ExecStart=/nonexistent/warm-reconcile"
      )
    })
    expect(missing.status).not.toBe(0)
  })

  it("the service runs `reconcile --all` on /etc/warm-reconcile/config.json as a oneshot after Docker", () => {
    expect(service.Service!.Type).toEqual(["oneshot"])
    expect(service.Service!.RemainAfterExit).toEqual(["no"])
    expect(service.Service!.ExecStart).toEqual([
      `${BINARY} reconcile --all --config /etc/warm-reconcile/config.json --concurrency 1`
    ])
    expect(service.Unit!.Wants).toEqual(["docker.service network-online.target"])
    expect(service.Unit!.After).toEqual(["docker.service network-online.target"])
    expect(service.Service!.StateDirectory).toEqual(["warm-reconcile"])
    expect(service.Service!.StateDirectoryMode).toEqual(["0700"])
  })

  it("a stop lets the rollback finish: SIGTERM to node alone, 30 minutes, 143 is not a failure but 1 and 2 are", () => {
    expect(service.Service!.KillMode).toEqual(["mixed"])
    expect(service.Service!.TimeoutStopSec).toEqual(["30min"])
    const success = service.Service!.SuccessExitStatus!.flatMap((v) => v.split(/\s+/))
    expect(success).toContain("143")
    expect(success).not.toContain("1")
    expect(success).not.toContain("2")
  })

  it("the hardening leaves /var, /root and the Docker socket reachable", () => {
    const s = service.Service!
    expect(s.ProtectSystem).toEqual(["full"])
    for (const key of ["ProtectHome", "PrivateTmp", "PrivateDevices", "RestrictSUIDSGID", "MemoryDenyWriteExecute"]) {
      expect(s[key], key).toBeUndefined()
    }
    expect(s.RestrictAddressFamilies!.join(" ").split(/\s+/)).toContain("AF_UNIX")
    expect(s.Environment).toContain("HOME=/root")
  })

  it("one unit serves boot and timer: the service is wanted at boot, the timer starts the same service", () => {
    expect(service.Install!.WantedBy).toEqual(["multi-user.target"])
    expect(timer.Timer!.Unit).toBeUndefined()
    expect(Fs.readdirSync(contrib).sort()).toEqual(["warm-reconcile.service", "warm-reconcile.timer"])
  })

  it("the timer runs daily, randomized by 900 s, catching up after downtime, like podman auto-update", () => {
    expect(timer.Timer).toEqual({ OnCalendar: ["daily"], RandomizedDelaySec: ["900"], Persistent: ["true"] })
    expect(timer.Install!.WantedBy).toEqual(["timers.target"])
    const calendar = spawnSync("systemd-analyze", ["calendar", timer.Timer!.OnCalendar![0]!], { encoding: "utf8" })
    expect(calendar.status, calendar.stderr).toBe(0)
    expect(calendar.stdout).toContain("Normalized form: *-*-* 00:00:00")
  })
})
