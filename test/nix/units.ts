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
