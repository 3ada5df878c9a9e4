/**
 * What both unit tests (contrib/systemd and the NixOS module's renders) ask of systemd itself:
 * which targets want a unit of ours once it is enabled as the docs say.
 */
import { spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

/**
 * `systemctl --root <fresh dir> enable` on every unit given (services included: what an operator
 * used to an older unit types), then the `<target>.wants: <units>` links systemd made.
 */
export const wantsAfterEnable = (units: Record<string, string>): ReadonlyArray<string> => {
  const root = Fs.mkdtempSync(Path.join(Os.tmpdir(), "warm-reconcile-root-"))
  try {
    const system = Path.join(root, "etc/systemd/system")
    Fs.mkdirSync(system, { recursive: true })
    for (const [name, text] of Object.entries(units)) Fs.writeFileSync(Path.join(system, name), text)
    const result = spawnSync("systemctl", ["--root", root, "enable", ...Object.keys(units)], { encoding: "utf8" })
    if (result.status !== 0) throw new Error(`systemctl --root enable failed: ${result.stderr}`)
    return Fs.readdirSync(system).filter((d) => d.endsWith(".wants")).sort().map((d) =>
      `${d}: ${Fs.readdirSync(Path.join(system, d)).sort().join(" ")}`
    )
  } finally {
    Fs.rmSync(root, { recursive: true, force: true })
  }
}

/** The boot targets a unit of ours must never be wanted by or ordered before. */
export const BOOT_TARGETS = /multi-user\.target|default\.target|graphical\.target|basic\.target/

/** The contrib units as shipped, by file name. */
export const contribUnits = (root: string): Record<string, string> => {
  const dir = Path.join(root, "contrib/systemd")
  return Object.fromEntries(
    Fs.readdirSync(dir).sort().map((name) => [name, Fs.readFileSync(Path.join(dir, name), "utf8")])
  )
}

/**
 * Where systemd finds a program an Exec line names without a directory, in a system whose files
 * sit under `sysroot`: the first directory of systemd's compiled-in search path
 * (`systemd-path search-binaries-default`) that holds it, executable. Undefined when none does.
 */
export const resolveAsSystemd = (sysroot: string, program: string): string | undefined => {
  const search = spawnSync("systemd-path", ["search-binaries-default"], { encoding: "utf8" })
  if (search.status !== 0) throw new Error(`systemd-path failed: ${search.stderr}`)
  for (const dir of search.stdout.trim().split(":")) {
    const file = Path.join(sysroot, dir, program)
    try {
      Fs.accessSync(file, Fs.constants.X_OK)
      return file
    } catch {
      continue
    }
  }
  return undefined
}

/** `systemd-analyze verify` on the units, each rewritten first: exit status and the warnings that name our units. */
export const verifyRewritten = (units: Record<string, string>, rewrite: (text: string) => string) => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "warm-reconcile-units-"))
  try {
    const files = Object.entries(units).map(([name, text]) => {
      const file = Path.join(dir, name)
      Fs.writeFileSync(file, rewrite(text))
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

/** The same, with `warm-reconcile` at the start of the units' Exec lines replaced by `binary`. */
export const verifyWithBinary = (units: Record<string, string>, binary: string) =>
  verifyRewritten(units, (text) => text.replaceAll(/^(Exec\w+=)warm-reconcile /gm, `$1${binary} `))
