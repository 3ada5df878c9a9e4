/**
 * The plain systemd units in contrib/systemd: `systemd-analyze verify` accepts them without a
 * warning (with the binary replaced by a stub), and they carry the settings the design needs.
 * Needs `systemd-analyze` and `systemctl` (Debian: systemd).
 */
import { describe, expect, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { BOOT_TARGETS, verifyWithBinary, wantsAfterEnable } from "./units.js"

const root = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../..")
const contrib = Path.join(root, "contrib/systemd")
/** ExecStart names the program alone: systemd looks it up in /usr/local/bin, /usr/bin, ... */
const BINARY = "warm-reconcile"
const UNITS = [
  "warm-reconcile-notify.service",
  "warm-reconcile-notify.timer",
  "warm-reconcile.service",
  "warm-reconcile.timer"
]

const read = (name: string) => Fs.readFileSync(Path.join(contrib, name), "utf8")

/** `systemd-analyze verify` on copies of the units in a temp dir, the binary replaced by a stub. */
const verify = (units: Record<string, string>) => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "warm-reconcile-stub-"))
  try {
    const stub = Path.join(dir, "warm-reconcile-stub")
    Fs.writeFileSync(stub, "#!/bin/sh\nexit 0\n", { mode: 0o755 })
    return verifyWithBinary(units, stub)
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
  const units: Record<string, string> = Object.fromEntries(UNITS.map((name) => [name, read(name)]))
  const service = parseUnit(units["warm-reconcile.service"]!)
  const timer = parseUnit(units["warm-reconcile.timer"]!)

  it("systemd-analyze verify accepts the services and the timers without a warning", () => {
    const result = verify(units)
    expect(result.status, result.stderr).toBe(0)
    expect(result.warnings).toEqual([])
  })

  it("the check sees a misspelt key, and a binary that is not there", () => {
    const misspelt = verify({
      ...units,
      "warm-reconcile.service": `${units["warm-reconcile.service"]!}KillMod=mixed\n`
    })
    expect(misspelt.warnings.join("\n")).toContain("KillMod")
    const missing = verify({
      ...units,
      "warm-reconcile.service": units["warm-reconcile.service"]!.replace(
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
    // The defaults' deployTimeout and health.timeout (15 minutes each) and 15 for the restore.
    expect(service.Service!.TimeoutStopSec).toEqual(["45min"])
    const success = service.Service!.SuccessExitStatus!.flatMap((v) => v.split(/\s+/))
    expect(success).toContain("143")
    expect(success).not.toContain("1")
    expect(success).not.toContain("2")
  })

  it("the hardening leaves Docker's volumes, abra's directory and the Docker socket reachable, little else", () => {
    const s = service.Service!
    expect(s.UMask).toEqual(["0077"])
    expect(s.ProtectSystem).toEqual(["strict"])
    expect(s.ProtectHome).toEqual(["read-only"])
    expect(s.ReadWritePaths!.join(" ").split(/\s+/)).toEqual(["-/var/lib/docker", "-/root/.abra", "-/root/.docker"])
    expect(s.PrivateTmp).toEqual(["yes"])
    expect(s.NoNewPrivileges).toEqual(["yes"])
    expect(s.ProtectProc).toEqual(["invisible"])
    expect(s.SystemCallFilter).toEqual(["@system-service"])
    // The restore: setuid bits, device nodes, chown; Node's JIT; the lock's boot_id.
    for (const key of ["PrivateDevices", "RestrictSUIDSGID", "MemoryDenyWriteExecute", "ProcSubset"]) {
      expect(s[key], key).toBeUndefined()
    }
    const caps = s.CapabilityBoundingSet!.join(" ").split(/\s+/)
    expect(caps).toEqual(expect.arrayContaining(["CAP_CHOWN", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID"]))
    for (const cap of ["CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_SYS_MODULE", "CAP_NET_ADMIN", "CAP_SETUID"]) {
      expect(caps, cap).not.toContain(cap)
    }
    expect(s.RestrictAddressFamilies!.join(" ").split(/\s+/)).toContain("AF_UNIX")
    expect(s.Environment).toContain("HOME=/root")
  })

  it("systemd-analyze security rates both services OK (below 4), the reconcile down from 6.5 MEDIUM", () => {
    for (const name of ["warm-reconcile.service", "warm-reconcile-notify.service"]) {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "warm-reconcile-security-"))
      try {
        const file = Path.join(dir, name)
        Fs.writeFileSync(file, units[name]!)
        const result = spawnSync("systemd-analyze", ["security", "--offline=true", "--no-pager", file], {
          encoding: "utf8"
        })
        const level = /Overall exposure level for \S+: ([\d.]+) (\w+)/.exec(result.stdout + result.stderr)
        expect(level, result.stdout + result.stderr).not.toBeNull()
        expect(Number(level![1]), name).toBeLessThan(4)
        expect(level![2], name).toBe("OK")
      } finally {
        Fs.rmSync(dir, { recursive: true, force: true })
      }
    }
  })

  it("timers start every run: no target wants a service, the boot run comes from the timer", () => {
    expect(service.Install).toBeUndefined()
    expect(parseUnit(units["warm-reconcile-notify.service"]!).Install).toBeUndefined()
    expect(timer.Timer!.Unit).toBeUndefined()
    expect(Fs.readdirSync(contrib).sort()).toEqual(UNITS)
  })

  it("the timer runs daily, randomized by 900 s, and 5 minutes after boot instead of a catch-up at boot", () => {
    expect(timer.Timer).toEqual({
      OnCalendar: ["daily"],
      OnBootSec: ["5min"],
      RandomizedDelaySec: ["900"],
      Persistent: ["false"]
    })
    expect(timer.Install!.WantedBy).toEqual(["timers.target"])
    const calendar = spawnSync("systemd-analyze", ["calendar", timer.Timer!.OnCalendar![0]!], { encoding: "utf8" })
    expect(calendar.status, calendar.stderr).toBe(0)
    expect(calendar.stdout).toContain("Normalized form: *-*-* 00:00:00")
  })

  it("enabled as the docs say, only timers.target wants a unit of ours; multi-user.target none", () => {
    expect(wantsAfterEnable(units)).toEqual(["timers.target.wants: warm-reconcile-notify.timer warm-reconcile.timer"])
    // The check sees the old boot run: a service wanted by multi-user.target holds up the boot.
    const old = {
      ...units,
      "warm-reconcile.service": `${units["warm-reconcile.service"]!}\n[Install]\nWantedBy=multi-user.target\n`
    }
    expect(wantsAfterEnable(old)).toContain("multi-user.target.wants: warm-reconcile.service")
    // Nor is anything of ours ordered before a boot target.
    for (const [name, text] of Object.entries(units)) {
      const unit = parseUnit(text).Unit ?? {}
      for (const key of ["Before", "RequiredBy", "WantedBy"]) {
        expect((unit[key] ?? []).join(" "), `${name} ${key}`).not.toMatch(BOOT_TARGETS)
      }
    }
  })

  it("a failed run starts `warm-reconcile notify`, and a timer runs it every 15 minutes, not during a run", () => {
    expect(service.Unit!.OnFailure).toEqual(["warm-reconcile-notify.service"])
    const notify = parseUnit(units["warm-reconcile-notify.service"]!)
    expect(notify.Service!.Type).toEqual(["oneshot"])
    expect(notify.Service!.ExecStart).toEqual([`${BINARY} notify --config /etc/warm-reconcile/config.json`])
    expect(notify.Service!.ExecCondition!.join("")).toContain("--value warm-reconcile.service)\" != activating")
    expect(notify.Service!.StateDirectory).toEqual(["warm-reconcile"])
    // The hook must not fail in turn and start itself: no OnFailure= on the notify unit.
    expect(notify.Unit!.OnFailure).toBeUndefined()
    const notifyTimer = parseUnit(units["warm-reconcile-notify.timer"]!)
    expect(notifyTimer.Timer!.Unit).toBeUndefined()
    expect(notifyTimer.Install!.WantedBy).toEqual(["timers.target"])
    const calendar = spawnSync(
      "systemd-analyze",
      ["calendar", "--iterations=5", "--base-time=2026-01-01 00:07:00 UTC", notifyTimer.Timer!.OnCalendar![0]!],
      { encoding: "utf8", env: { ...process.env, TZ: "UTC" } }
    )
    expect(calendar.status, calendar.stderr).toBe(0)
    const times = [...calendar.stdout.matchAll(/(\d\d:\d\d):00/g)].map((m) => m[1])
    expect(times).toEqual(expect.arrayContaining(["00:15", "00:30", "00:45", "01:00", "01:15"]))
  })

  it("the notify unit's condition skips while a reconcile runs, and runs after a failed one or between runs", () => {
    const line = parseUnit(units["warm-reconcile-notify.service"]!).Service!.ExecCondition![0]!
    // `/bin/sh -c '<script>'`, with systemd's `$$` for a literal `$`.
    const script = /^\/bin\/sh -c '(.*)'$/.exec(line)![1]!.replaceAll("$$", "$")
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "warm-reconcile-condition-"))
    try {
      // A systemctl that answers `show --property=ActiveState --value warm-reconcile.service` with $STATE.
      Fs.writeFileSync(
        Path.join(dir, "systemctl"),
        "#!/bin/sh\n[ \"$*\" = \"show --property=ActiveState --value warm-reconcile.service\" ] || exit 99\necho \"$STATE\"\n",
        { mode: 0o755 }
      )
      const run = (state: string) =>
        spawnSync("/bin/sh", ["-c", script], { env: { PATH: `${dir}:/usr/bin:/bin`, STATE: state } }).status
      expect(run("activating")).not.toBe(0)
      for (const state of ["failed", "inactive", "active"]) expect(run(state), state).toBe(0)
    } finally {
      Fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
