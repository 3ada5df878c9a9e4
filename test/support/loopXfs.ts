/**
 * A small XFS with reflinks (`reflink=1`) in a sparse image, loop-mounted, for the snapshot store's
 * reflink round trips; undefined, with the reason, where this machine cannot have one (not root,
 * no mkfs.xfs from xfsprogs, no loop devices). WARM_TEST_REFLINK_DIR names a dir on such a
 * filesystem instead (an XFS or btrfs of the machine's own).
 */
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

export interface LoopXfs {
  readonly dir: string
  readonly release: () => void
}

const sh = (file: string, args: ReadonlyArray<string>) =>
  execFileSync(file, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim()

export const loopXfs = (): LoopXfs | string => {
  const given = process.env["WARM_TEST_REFLINK_DIR"]
  if (given !== undefined && given !== "") return { dir: given, release: () => {} }
  if (process.getuid?.() !== 0) return "not root: loop devices and mount need root"
  try {
    sh("sh", ["-c", "command -v mkfs.xfs"])
  } catch {
    return "mkfs.xfs is not installed (xfsprogs)"
  }
  if (!Fs.existsSync("/dev/loop-control")) return "no loop devices (/dev/loop-control)"
  const root = Fs.mkdtempSync(Path.join(Os.tmpdir(), "warm-test-xfs-"))
  const image = Path.join(root, "xfs.img")
  const dir = Path.join(root, "mnt")
  let device: string | undefined
  let mounted = false
  const release = () => {
    if (mounted) sh("umount", [dir])
    if (device !== undefined) sh("losetup", ["-d", device])
    Fs.rmSync(root, { recursive: true, force: true })
  }
  try {
    Fs.writeFileSync(image, "")
    Fs.truncateSync(image, 512 * 2 ** 20)
    sh("mkfs.xfs", ["-q", "-f", "-m", "reflink=1", image])
    device = sh("losetup", ["--find", "--show", image])
    Fs.mkdirSync(dir)
    sh("mount", [device, dir])
    mounted = true
    return { dir, release }
  } catch (e) {
    release()
    return `a loop-mounted XFS could not be made: ${(e as Error).message.split("\n")[0]}`
  }
}
