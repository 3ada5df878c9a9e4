/**
 * A filesystem of the bench's own: a fresh ext4 (journaled, as on a server) or XFS (with reflink)
 * in a sparse image file, loop-mounted with direct I/O so that the disk, not a second page cache,
 * takes the writes. Why not the temp dir's filesystem: here it is ext4 without a journal, where
 * creating a file within 30 s of many deletions scans every recently freed inode (ext4's
 * `recently_deleted`, about 1 ms per file), and other sessions delete files all the time: that
 * measures the VM, not the tool. Needs root and loop devices.
 */
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { exec, mustExec } from "./lib.js"

export type DiskKind = "ext4" | "xfs"

export interface Disk {
  readonly kind: DiskKind
  readonly mnt: string
  readonly note: string
  /** Flush the filesystem (syncfs): every timed step ends with its data on the disk. */
  readonly sync: () => Promise<void>
  readonly release: () => Promise<void>
}

const MKFS: Record<DiskKind, ReadonlyArray<string>> = {
  ext4: ["mkfs.ext4", "-q", "-F", "-L", "warm-bench"],
  // reflink=1 is xfsprogs' default since 5.1; said out loud so that an older one does it too.
  xfs: ["mkfs.xfs", "-q", "-f", "-m", "reflink=1", "-L", "warm-bench"]
}

/** Why a loop-mounted filesystem cannot be had here, or undefined when it can. */
export const unavailable = async (kind: DiskKind): Promise<string | undefined> => {
  if (process.getuid?.() !== 0) return "not root (loop devices and mount need root)"
  const mkfs = await exec("sh", ["-c", `command -v ${MKFS[kind][0]}`])
  if (mkfs.code !== 0) return `${MKFS[kind][0]} is not installed (${kind === "xfs" ? "xfsprogs" : "e2fsprogs"})`
  if (!Fs.existsSync("/dev/loop-control")) return "no /dev/loop-control"
  return undefined
}

export const makeDisk = async (kind: DiskKind, bytes: number): Promise<Disk> => {
  const root = Fs.mkdtempSync(Path.join(Os.tmpdir(), `warm-bench-${kind}-`))
  const image = Path.join(root, `${kind}.img`)
  const mnt = Path.join(root, "mnt")
  let device: string | undefined
  let mounted = false
  const undo = async () => {
    // A file still open (an interrupted run's child) makes umount fail for a moment: try again.
    for (let tries = 0; mounted && tries < 20; tries++) {
      if ((await exec("umount", [mnt])).code === 0) mounted = false
      else await new Promise((resolve) => setTimeout(resolve, 500))
    }
    if (device !== undefined) await exec("losetup", ["-d", device])
    Fs.rmSync(root, { recursive: true, force: true })
  }
  try {
    const fd = Fs.openSync(image, "wx")
    Fs.ftruncateSync(fd, bytes)
    Fs.closeSync(fd)
    const [mkfs, ...args] = MKFS[kind]
    await mustExec(mkfs!, [...args, image])
    device = (await mustExec("losetup", ["--find", "--show", "--direct-io=on", image])).stdout.trim()
    Fs.mkdirSync(mnt)
    await mustExec("mount", [device, mnt])
    mounted = true
  } catch (error) {
    await undo()
    throw error
  }
  return {
    kind,
    mnt,
    note: `a fresh ${kind === "ext4" ? "ext4 (journaled)" : "XFS (reflink=1)"} of ${
      Math.round(bytes / 2 ** 30)
    } GiB in a sparse image on the temp dir's disk, loop-mounted with direct I/O`,
    sync: async () => {
      await mustExec("sync", ["-f", mnt])
    },
    release: undo
  }
}
