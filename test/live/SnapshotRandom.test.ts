/**
 * A randomized differential test of the live snapshot store's tree format. For each seed, in a
 * fresh world: a random tree in both volumes (nested directories, files of random content and
 * size, symbolic links, hard links within and across directories, names that sort around each
 * other), then two cycles of a pre-copy while the app runs, random changes, a take after the
 * undeploy, random changes as a broken release would make, and a restore. The take's final pass
 * and the restore merge a walk of the volume with the record and the manifest in walk order: an
 * entry the merge gets wrong shows as a difference between the snapshot and the volume at the
 * take, or between the restored volume and the volume at the take. Both sides are listed by this
 * file's own walk (type, mode, owner; a file's size, sha256, mtime to the nanosecond and the other
 * names of its inode; a symbolic link's target), independently of the code under test.
 *
 * WARM_RANDOM_SNAPSHOT_SEEDS sets how many seeds (seeds 1..N, about 3 s each: 40 in the deep run,
 * 2 in the mutation checks; `npm test` leaves this file out and runs its twin,
 * SnapshotStreams.test.ts); WARM_RANDOM_SNAPSHOT_SEED runs that one seed only (to replay a failure).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { createHash } from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { SnapshotConfig } from "../../src/domain/SnapshotConfig.js"
import { app, type World, world } from "../support/snapshotWorld.js"

const SEEDS: ReadonlyArray<number> = process.env["WARM_RANDOM_SNAPSHOT_SEED"] !== undefined
  ? [Number(process.env["WARM_RANDOM_SNAPSHOT_SEED"])]
  : Array.from({ length: Number(process.env["WARM_RANDOM_SNAPSHOT_SEEDS"] ?? 2) }, (_, i) => i + 1)

// ---------------------------------------------------------------------------------------------
// A deterministic generator per seed.

/** mulberry32. */
class Gen {
  private state: number
  constructor(seed: number) {
    this.state = (seed * 0x9e3779b1) >>> 0
  }
  u32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0
    let t = this.state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return (t ^ (t >>> 14)) >>> 0
  }
  float(): number {
    return this.u32() / 4294967296
  }
  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.float() * (hi - lo + 1))
  }
  chance(p: number): boolean {
    return this.float() < p
  }
  pick<T>(items: ReadonlyArray<T>): T {
    return items[Math.floor(this.float() * items.length)]!
  }
  bytes(size: number): Buffer {
    const out = Buffer.alloc(size)
    let i = 0
    for (; i + 4 <= size; i += 4) out.writeUInt32LE(this.u32(), i)
    for (; i < size; i++) out[i] = this.u32() & 0xff
    return out
  }
  /** 0-64 KiB, mostly small, a fifth empty. */
  size(): number {
    return this.chance(0.2) ? 0 : Math.floor(this.float() ** 3 * 65_536)
  }
}

// Names that sort around each other: a directory "a" (whose entries "a/..." come right after it)
// before "a b", "a!", "a-b", "a.b" (all of which sort after "a" and have a character below "/",
// or just above it, where "a/..." has "/"); non-ASCII, a newline, characters rsync treats
// specially elsewhere.
const NAMES = [
  "a",
  "a b",
  "a!",
  "a-b",
  "a.b",
  "a0",
  "a~",
  "ab",
  "b",
  "-",
  "--x",
  ".hidden",
  "~",
  "~x",
  "é",
  "é-é",
  "日本",
  "日本.txt",
  "😀",
  "A",
  "0",
  "data.db",
  "data.db-wal",
  "x y",
  "[x]",
  "*",
  "new\nline",
  "back\\slash",
  "..x",
  "a.",
  "colon:x"
]
const FILE_MODES = [0o600, 0o644, 0o755, 0o700, 0o640, 0o444, 0o4755, 0o000]
const DIR_MODES = [0o755, 0o700, 0o750, 0o2770, 0o1777, 0o500]
// The volume's own root: set-group-ID now and then (its subdirectories then need not be).
const ROOT_MODES = [0o755, 0o700, 0o750, 0o775, 0o2775]
const OWNERS = [0, 1000, 1234, 65534]
const MAX_DEPTH = 4

// ---------------------------------------------------------------------------------------------
// The oracle: a listing of a tree, read by this file's own walk.

type Listed = Record<string, Readonly<Record<string, unknown>>>

/** Every entry under `root` (the root included, as "."), in sorted order; directories' mtimes left out. */
const listing = (root: string): { readonly entries: Listed; readonly inodes: ReadonlySet<bigint> } => {
  const entries: Record<string, Record<string, unknown>> = {}
  const byInode = new Map<bigint, Array<string>>()
  const visit = (rel: string) => {
    const abs = rel === "." ? root : `${root}/${rel}`
    const st = Fs.lstatSync(abs, { bigint: true })
    const entry: Record<string, unknown> = { mode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid) }
    entries[rel] = entry
    if (st.isDirectory()) {
      entry["type"] = "dir"
      for (const name of Fs.readdirSync(abs).sort()) visit(rel === "." ? name : `${rel}/${name}`)
    } else if (st.isFile()) {
      entry["type"] = "file"
      entry["size"] = Number(st.size)
      entry["sha256"] = createHash("sha256").update(Fs.readFileSync(abs)).digest("hex")
      entry["mtimeNs"] = String(st.mtimeNs)
      const names = byInode.get(st.ino) ?? []
      names.push(rel)
      byInode.set(st.ino, names)
      entry["ino"] = st.ino
    } else if (st.isSymbolicLink()) {
      entry["type"] = "symlink"
      entry["target"] = Fs.readlinkSync(abs)
    } else {
      entry["type"] = "other"
    }
  }
  visit(".")
  // The hard-link structure, canonically: the names of each file's inode (when it has others).
  for (const entry of Object.values(entries)) {
    if (entry["ino"] === undefined) continue
    const names = byInode.get(entry["ino"] as bigint)!
    delete entry["ino"]
    if (names.length > 1) entry["links"] = [...names].sort()
  }
  return { entries, inodes: new Set(byInode.keys()) }
}

/** The paths whose entries differ, both sides shown (at most 25). */
const differences = (got: Listed, want: Listed): Array<string> => {
  const show = (e: unknown) => (e === undefined ? "(none)" : JSON.stringify(e))
  const diff = [...new Set([...Object.keys(got), ...Object.keys(want)])].sort()
    .filter((rel) => JSON.stringify(got[rel]) !== JSON.stringify(want[rel]))
    .map((rel) => `${JSON.stringify(rel)}: got ${show(got[rel])}, want ${show(want[rel])}`)
  return diff.length > 25 ? [...diff.slice(0, 25), `... and ${diff.length - 25} more`] : diff
}

// ---------------------------------------------------------------------------------------------
// A random tree, and random changes to it.

interface Scan {
  /** Directories, the root (".") first. */
  readonly dirs: Array<string>
  readonly files: Array<string>
  readonly symlinks: Array<string>
}

const scan = (root: string): Scan => {
  const out: Scan = { dirs: [], files: [], symlinks: [] }
  const visit = (rel: string) => {
    const st = Fs.lstatSync(rel === "." ? root : `${root}/${rel}`)
    if (st.isDirectory()) {
      out.dirs.push(rel)
      for (const name of Fs.readdirSync(rel === "." ? root : `${root}/${rel}`).sort()) {
        visit(rel === "." ? name : `${rel}/${name}`)
      }
    } else if (st.isFile()) out.files.push(rel)
    else if (st.isSymbolicLink()) out.symlinks.push(rel)
  }
  visit(".")
  return out
}

const depthOf = (rel: string) => (rel === "." ? 0 : rel.split("/").length)
const join = (dir: string, name: string) => (dir === "." ? name : `${dir}/${name}`)
const isUnder = (rel: string, dir: string) => rel === dir || rel.startsWith(`${dir}/`)
const q = (rel: string) => JSON.stringify(rel)

/** A whole-second time between an hour and about four months back. */
const oldTime = (g: Gen) => Math.floor(Date.now() / 1000) - g.int(3600, 10_000_000)

/** Changes a tree under `root`, logging each to `log`. */
class Volume {
  private serial = 0
  constructor(readonly root: string, readonly g: Gen, readonly log: Array<string>, readonly label: string) {}

  abs(rel: string) {
    return rel === "." ? this.root : `${this.root}/${rel}`
  }

  note(text: string) {
    this.log.push(`${this.label}: ${text}`)
  }

  /** A name not yet in `dir`. */
  freshName(dir: string): string {
    for (let i = 0; i < 4; i++) {
      const name = this.g.pick(NAMES)
      if (!this.exists(join(dir, name))) return name
    }
    for (;;) {
      const name = `${this.g.pick(NAMES)}~${this.serial++}`
      if (!this.exists(join(dir, name))) return name
    }
  }

  /** Whether `rel` names an entry (a dangling symbolic link included). */
  exists(rel: string) {
    try {
      Fs.lstatSync(this.abs(rel))
      return true
    } catch {
      return false
    }
  }

  writeFile(rel: string, size = this.g.size()) {
    Fs.writeFileSync(this.abs(rel), this.g.bytes(size))
    Fs.chmodSync(this.abs(rel), this.g.pick(FILE_MODES.slice(0, 5)))
  }

  /** A relative target from the link at `rel`: an entry of the tree, or nothing at all. */
  target(rel: string, s: Scan): string {
    if (this.g.chance(0.25)) return this.g.pick(["nowhere", "../../../nowhere/at/all", "dangling.txt", "/etc/hostname"])
    const to = this.g.pick([...s.files, ...s.dirs.slice(1), ...s.symlinks, "."])
    return Path.posix.relative(Path.posix.dirname(rel), to) || "."
  }

  /** A random tree of about `count` entries below the root. */
  build(count: number) {
    const g = this.g
    const dirs = ["."]
    const files: Array<string> = []
    const links: Array<string> = []
    const placeable = () => dirs.filter((d) => depthOf(d) < MAX_DEPTH)
    let made = 0
    while (made < count - 7) {
      const kind = g.float()
      if (kind < 0.22) {
        const parent = g.pick(placeable().length > 0 ? placeable() : ["."])
        if (depthOf(parent) >= MAX_DEPTH) continue
        const rel = join(parent, this.freshName(parent))
        Fs.mkdirSync(this.abs(rel))
        dirs.push(rel)
      } else if (kind < 0.72) {
        const parent = g.pick(dirs)
        const rel = join(parent, this.freshName(parent))
        // A few files of equal size, for a quick check to confuse.
        this.writeFile(rel, g.chance(0.1) ? 4096 : g.size())
        files.push(rel)
      } else if (kind < 0.86) {
        const parent = g.pick(dirs)
        const rel = join(parent, this.freshName(parent))
        Fs.symlinkSync(this.target(rel, { dirs, files, symlinks: links }), this.abs(rel))
        links.push(rel)
      } else if (files.length > 0) {
        const parent = g.pick(dirs)
        const rel = join(parent, this.freshName(parent))
        Fs.linkSync(this.abs(g.pick(files)), this.abs(rel))
        files.push(rel)
      } else continue
      made++
    }
    // Names that sort around a directory's entries, always: a directory "a" with entries, and its
    // neighbours, somewhere in the tree.
    const at = g.pick(placeable())
    const a = join(at, this.exists(join(at, "a")) ? `a~${this.serial++}` : "a")
    Fs.mkdirSync(this.abs(a))
    dirs.push(a)
    for (const rel of [join(a, "z"), join(a, "a b"), `${a} b`, `${a}-b`, `${a}.b`, `${a}!`]) {
      if (this.exists(rel)) continue
      this.writeFile(rel)
      files.push(rel)
    }
    // Owners, then modes (a chown clears the set-user-ID bit); a directory with mode 0700 always.
    for (const rel of [...files, ...links, ...dirs]) {
      if (g.chance(0.2)) Fs.lchownSync(this.abs(rel), g.pick(OWNERS), g.pick(OWNERS))
    }
    for (const rel of files) if (g.chance(0.3)) Fs.chmodSync(this.abs(rel), g.pick(FILE_MODES))
    for (const rel of dirs.slice(1)) if (g.chance(0.4)) Fs.chmodSync(this.abs(rel), g.pick(DIR_MODES))
    if (dirs.length > 1) Fs.chmodSync(this.abs(g.pick(dirs.slice(1))), 0o700)
    if (g.chance(0.3)) {
      Fs.chownSync(this.root, g.pick(OWNERS), g.pick(OWNERS))
      Fs.chmodSync(this.root, g.pick(ROOT_MODES))
    }
    // Most entries dated back (a pre-copy leaves out the files written in the seconds before it);
    // a few left just written, one perhaps in the future (written in the copy's clock tick).
    for (const rel of [...files, ...links, ...dirs.slice(1).reverse(), "."]) {
      const recent = g.chance(0.12)
      if (recent) continue
      const t = g.chance(0.02) ? Math.floor(Date.now() / 1000) + 3600 : oldTime(g)
      Fs.lutimesSync(this.abs(rel), t, t)
    }
    this.note(
      `built ${dirs.length - 1} dirs, ${files.length} file names, ${links.length} symlinks (${count} entries)`
    )
  }

  /** `count` random changes; `release` adds the rougher ones a broken release makes. */
  mutate(count: number, release: boolean) {
    for (let done = 0, tries = 0; done < count && tries < count * 10; tries++) {
      if (this.step(scan(this.root), release)) done++
    }
  }

  /** One random change; false when it did not apply. */
  step(s: Scan, release: boolean): boolean {
    const g = this.g
    const dirs = s.dirs
    const subdirs = dirs.slice(1)
    const nonDirs = [...s.files, ...s.symlinks]
    const kinds = [
      "create-file",
      "create-dir",
      "delete",
      "delete-dir",
      "rewrite-same-size",
      "rewrite",
      "rewrite-keep-mtime",
      "chmod",
      "chown",
      "rename",
      "rename-over",
      "rename-dir",
      "file-to-dir",
      "dir-to-file",
      "file-to-symlink",
      "retarget",
      "hard-link",
      "atomic-save",
      "truncate",
      "touch-old",
      "recreate-identical",
      "swap",
      "root-attrs",
      ...(release ? ["junk", "dir-to-symlink", "delete-dir", "dir-to-file", "rewrite"] : [])
    ]
    const kind = g.pick(kinds)
    switch (kind) {
      case "create-file": {
        const parent = g.pick(dirs)
        const rel = join(parent, this.freshName(parent))
        this.writeFile(rel)
        if (g.chance(0.3)) {
          const t = oldTime(g)
          Fs.utimesSync(this.abs(rel), t, t)
        }
        this.note(`${kind} ${q(rel)}`)
        return true
      }
      case "create-dir": {
        const parent = g.pick(dirs)
        const rel = join(parent, this.freshName(parent))
        Fs.mkdirSync(this.abs(rel))
        const n = g.int(0, 3)
        for (let i = 0; i < n; i++) this.writeFile(join(rel, this.freshName(rel)))
        if (g.chance(0.3)) Fs.chmodSync(this.abs(rel), g.pick(DIR_MODES))
        this.note(`${kind} ${q(rel)} with ${n} files`)
        return true
      }
      case "delete": {
        if (nonDirs.length === 0) return false
        const rel = g.pick(nonDirs)
        Fs.unlinkSync(this.abs(rel))
        this.note(`${kind} ${q(rel)}`)
        return true
      }
      case "delete-dir": {
        if (subdirs.length === 0) return false
        const rel = g.pick(subdirs)
        Fs.rmSync(this.abs(rel), { recursive: true })
        this.note(`${kind} ${q(rel)}`)
        return true
      }
      case "rewrite-same-size":
      case "rewrite":
      case "rewrite-keep-mtime":
      case "truncate": {
        if (s.files.length === 0) return false
        const rel = g.pick(s.files)
        const st = Fs.lstatSync(this.abs(rel), { bigint: true })
        const size = Number(st.size)
        if (kind === "rewrite-same-size" && size > 0) {
          // In place: the other names of the inode change too.
          const fd = Fs.openSync(this.abs(rel), "r+")
          const at = g.int(0, size - 1)
          Fs.writeSync(fd, g.bytes(g.int(1, size - at)), 0, undefined, at)
          Fs.closeSync(fd)
        } else if (kind === "truncate") {
          Fs.truncateSync(this.abs(rel), size === 0 ? 0 : g.int(0, size - 1))
        } else if (kind === "rewrite-keep-mtime") {
          Fs.writeFileSync(this.abs(rel), g.bytes(g.chance(0.5) ? size : g.size()))
          // The mtime put back (to the nanosecond when it is a whole second, as the tree's are).
          const seconds = st.mtimeNs % 1_000_000_000n === 0n
            ? Number(st.mtimeNs / 1_000_000_000n)
            : Number(st.mtimeNs) / 1e9
          Fs.utimesSync(this.abs(rel), seconds, seconds)
        } else {
          Fs.writeFileSync(this.abs(rel), g.bytes(g.size()))
        }
        this.note(`${kind} ${q(rel)} (was ${size} bytes, now ${Fs.lstatSync(this.abs(rel)).size})`)
        return true
      }
      case "chmod": {
        const rel = g.pick([...s.files, ...subdirs])
        if (rel === undefined) return false
        const mode = Fs.lstatSync(this.abs(rel)).isDirectory() ? g.pick(DIR_MODES) : g.pick(FILE_MODES)
        Fs.chmodSync(this.abs(rel), mode)
        this.note(`${kind} ${q(rel)} ${mode.toString(8)}`)
        return true
      }
      case "chown": {
        const rel = g.pick([...nonDirs, ...subdirs])
        if (rel === undefined) return false
        const [uid, gid] = [g.pick(OWNERS), g.pick(OWNERS)]
        Fs.lchownSync(this.abs(rel), uid, gid)
        this.note(`${kind} ${q(rel)} ${uid}:${gid}`)
        return true
      }
      case "rename":
      case "rename-over": {
        if (nonDirs.length === 0) return false
        const rel = g.pick(nonDirs)
        const over = kind === "rename-over" ? nonDirs.filter((r) => r !== rel) : []
        let to: string
        if (kind === "rename-over") {
          if (over.length === 0) return false
          to = g.pick(over)
        } else {
          const parent = g.pick(dirs)
          to = join(parent, this.freshName(parent))
        }
        // Renaming one name of an inode over another of the same inode is a no-op (POSIX).
        Fs.renameSync(this.abs(rel), this.abs(to))
        this.note(`${kind} ${q(rel)} -> ${q(to)}`)
        return true
      }
      case "rename-dir": {
        if (subdirs.length === 0) return false
        const rel = g.pick(subdirs)
        const parents = dirs.filter((d) => !isUnder(d, rel) && depthOf(d) < MAX_DEPTH + 1)
        const parent = g.pick(parents)
        const to = join(parent, this.freshName(parent))
        Fs.renameSync(this.abs(rel), this.abs(to))
        this.note(`${kind} ${q(rel)} -> ${q(to)}`)
        return true
      }
      case "file-to-dir": {
        if (nonDirs.length === 0) return false
        const rel = g.pick(nonDirs)
        Fs.unlinkSync(this.abs(rel))
        Fs.mkdirSync(this.abs(rel))
        const n = g.int(0, 2)
        for (let i = 0; i < n; i++) this.writeFile(join(rel, this.freshName(rel)))
        this.note(`${kind} ${q(rel)} with ${n} files`)
        return true
      }
      case "dir-to-file": {
        if (subdirs.length === 0) return false
        const rel = g.pick(subdirs)
        Fs.rmSync(this.abs(rel), { recursive: true })
        this.writeFile(rel)
        this.note(`${kind} ${q(rel)}`)
        return true
      }
      // A file made a symlink, or a symlink pointed elsewhere: the same steps from another list.
      case "file-to-symlink":
      case "retarget": {
        const from = kind === "file-to-symlink" ? s.files : s.symlinks
        if (from.length === 0) return false
        const rel = g.pick(from)
        Fs.unlinkSync(this.abs(rel))
        const target = this.target(rel, s)
        Fs.symlinkSync(target, this.abs(rel))
        this.note(`${kind} ${q(rel)} -> ${q(target)}`)
        return true
      }
      case "hard-link": {
        if (s.files.length === 0) return false
        const from = g.pick(s.files)
        const parent = g.pick(dirs)
        const to = join(parent, this.freshName(parent))
        Fs.linkSync(this.abs(from), this.abs(to))
        this.note(`${kind} ${q(from)} as ${q(to)}`)
        return true
      }
      case "atomic-save": {
        if (s.files.length === 0) return false
        const rel = g.pick(s.files)
        const tmp = `${rel}.tmp-save`
        if (this.exists(tmp)) return false
        this.writeFile(tmp)
        Fs.renameSync(this.abs(tmp), this.abs(rel))
        this.note(`${kind} ${q(rel)}`)
        return true
      }
      case "touch-old": {
        const rel = g.pick([...s.files, ...subdirs])
        if (rel === undefined) return false
        const t = oldTime(g)
        Fs.utimesSync(this.abs(rel), t, t)
        this.note(`${kind} ${q(rel)} ${t}`)
        return true
      }
      case "recreate-identical": {
        // A new inode with the same content, mode, owner and mtime.
        if (s.files.length === 0) return false
        const rel = g.pick(s.files)
        const st = Fs.lstatSync(this.abs(rel), { bigint: true })
        const bytes = Fs.readFileSync(this.abs(rel))
        Fs.unlinkSync(this.abs(rel))
        Fs.writeFileSync(this.abs(rel), bytes)
        Fs.chownSync(this.abs(rel), Number(st.uid), Number(st.gid))
        Fs.chmodSync(this.abs(rel), Number(st.mode & 0o7777n))
        if (st.mtimeNs % 1_000_000_000n === 0n) {
          const seconds = Number(st.mtimeNs / 1_000_000_000n)
          Fs.utimesSync(this.abs(rel), seconds, seconds)
        }
        this.note(`${kind} ${q(rel)}`)
        return true
      }
      case "swap": {
        // Two entries (of any types) exchange their names.
        const all = [...nonDirs, ...subdirs]
        if (all.length < 2) return false
        const a = g.pick(all)
        const b = g.pick(all.filter((r) => !isUnder(r, a) && !isUnder(a, r)))
        if (b === undefined) return false
        const tmp = join(Path.posix.dirname(a), `swap-${this.serial++}`)
        Fs.renameSync(this.abs(a), this.abs(tmp))
        Fs.renameSync(this.abs(b), this.abs(a))
        Fs.renameSync(this.abs(tmp), this.abs(b))
        this.note(`${kind} ${q(a)} <-> ${q(b)}`)
        return true
      }
      case "root-attrs": {
        const mode = g.pick(ROOT_MODES)
        const [uid, gid] = [g.pick(OWNERS), g.pick(OWNERS)]
        Fs.chownSync(this.root, uid, gid)
        Fs.chmodSync(this.root, mode)
        this.note(`${kind} ${mode.toString(8)} ${uid}:${gid}`)
        return true
      }
      case "junk": {
        const parent = g.pick(dirs)
        const rel = join(parent, this.freshName(parent))
        Fs.mkdirSync(this.abs(rel))
        const n = g.int(1, 12)
        for (let i = 0; i < n; i++) this.writeFile(join(rel, `junk-${i}`))
        this.note(`${kind} ${q(rel)} with ${n} files`)
        return true
      }
      case "dir-to-symlink": {
        if (subdirs.length === 0) return false
        const rel = g.pick(subdirs)
        Fs.rmSync(this.abs(rel), { recursive: true })
        const target = g.chance(0.5) ? "." : "../../outside"
        Fs.symlinkSync(target, this.abs(rel))
        this.note(`${kind} ${q(rel)} -> ${q(target)}`)
        return true
      }
    }
    return false
  }
}

// ---------------------------------------------------------------------------------------------
// The store's places, and its leftovers.

const treeOf = (w: World, volume: string, snapshot = "snapshot") => Path.join(w.appDir, snapshot, "volumes", volume)

/** The app's state dir once the removals a take leaves running are done (`list` waits for them). */
const settledEntries = (w: World) => Effect.map(w.snapshots.list(app), () => Fs.readdirSync(w.appDir).sort())

/** Leftovers of a restore's swap beside each volume's data dir, once its removals are done. */
const settledSiblings = (w: World) =>
  Effect.map(
    w.snapshots.list(app),
    () => w.volumes.flatMap((v) => Fs.readdirSync(Path.dirname(v.mountpoint)).filter((e) => e !== "_data"))
  )

// ---------------------------------------------------------------------------------------------

const roundTrips = (seed: number) =>
  Effect.gen(function*() {
    const g = new Gen(seed)
    const w = yield* world()
    // Half the seeds keep the replaced snapshot: the second take must leave it as it was.
    const keep = g.chance(0.5) ? 1 : 0
    const spec = keep === 0 ? app : { ...app, snapshot: SnapshotConfig.make({ keep }) }
    // One volume mostly (each costs its own copies); both now and then, for a restore of several.
    const used = seed % 4 === 0 ? w.volumes : w.volumes.slice(0, 1)
    const log: Array<string> = [`seed ${seed}, keep ${keep}, ${used.length} volume(s)`]
    const volumes = used.map((v) => new Volume(v.mountpoint, g, log, v.name))
    for (const v of volumes) v.build(g.int(30, 200))
    const failed = (what: string, diff: ReadonlyArray<string>) =>
      `seed ${seed}: ${what}:\n  ${diff.join("\n  ")}\nchanges so far:\n  ${log.join("\n  ")}`
    let first: ReadonlyArray<Listed> | undefined

    for (const cycle of [1, 2]) {
      // The first cycle's take is without a pre-copy now and then: it copies the volumes whole.
      const precopy = cycle === 2 || g.chance(0.8)
      log.push(`cycle ${cycle}: ${precopy ? "pre-copy" : "no pre-copy"}`)
      if (precopy) {
        w.deployed.value = true
        yield* w.snapshots.precopy(spec, used)
        // While the app still runs.
        for (const v of volumes) v.mutate(g.chance(0.1) ? 0 : g.int(1, 25), false)
      }
      w.deployed.value = false
      const atTake = used.map((v) => listing(v.mountpoint))
      log.push(`cycle ${cycle}: take`)
      yield* w.snapshots.take(spec, `${cycle}.0.0`, used)
      used.forEach((v, i) => {
        const snapshot = listing(treeOf(w, v.name))
        const diff = differences(snapshot.entries, atTake[i]!.entries)
        expect(diff, failed(`cycle ${cycle}, take of ${v.name}`, diff)).toEqual([])
        // Never a link between a snapshot and the live volume.
        const live = listing(v.mountpoint).inodes
        expect([...snapshot.inodes].filter((ino) => live.has(ino)), `seed ${seed}: shared inodes`).toEqual([])
      })
      const entries = yield* settledEntries(w)
      expect(entries.filter((e) => e !== "snapshot" && !e.startsWith("snapshot.kept-")), `seed ${seed}`).toEqual([])
      expect(entries.length, `seed ${seed}: ${entries.join(", ")}`).toBe(1 + Math.min(keep, cycle - 1))
      if (cycle === 2 && keep > 0) {
        // The kept first snapshot, which the second one shares files with, is as it was taken.
        const kept = entries.find((e) => e.startsWith("snapshot.kept-"))!
        used.forEach((v, i) => {
          const diff = differences(listing(treeOf(w, v.name, kept)).entries, first![i]!)
          expect(diff, failed(`the kept first snapshot of ${v.name}`, diff)).toEqual([])
        })
      }
      first ??= atTake.map((l) => l.entries)

      // A broken release, then the rollback.
      for (const v of volumes) v.mutate(g.int(1, 25), true)
      log.push(`cycle ${cycle}: restore`)
      yield* w.snapshots.restore(spec, used)
      used.forEach((v, i) => {
        const restored = listing(v.mountpoint)
        const diff = differences(restored.entries, atTake[i]!.entries)
        expect(diff, failed(`cycle ${cycle}, restore of ${v.name}`, diff)).toEqual([])
        const snapshot = listing(treeOf(w, v.name))
        const changed = differences(snapshot.entries, atTake[i]!.entries)
        expect(changed, failed(`cycle ${cycle}, the snapshot of ${v.name} after the restore`, changed)).toEqual([])
        expect([...snapshot.inodes].filter((ino) => restored.inodes.has(ino)), `seed ${seed}: shared inodes`)
          .toEqual([])
      })
      expect(yield* settledSiblings(w), `seed ${seed}`).toEqual([])
    }
  })

describe("live Snapshots, random trees through pre-copy, take and restore", () => {
  for (const seed of SEEDS) {
    it.scopedLive(`seed ${seed}: a random tree, changed while running, taken, changed, restored (two cycles)`, () =>
      roundTrips(seed))
  }
})
