/**
 * Random trees through a pre-copy, a take and a restore of the live store: the take's final pass
 * and the restore merge the walk of the volume with the record and the manifest as streams in
 * walk order, so an entry the merge got wrong (a rename that moves a subtree, a file turned into
 * a directory, a name that sorts between a directory and its entries) shows as a difference
 * between the volume and the snapshot, or between the restored volume and the volume at the take.
 * Python's os module reads both sides (fingerprint), independently of the code under test.
 *
 * WARM_RANDOM_SNAPSHOT_SEEDS sets how many seeds: 1 in `npm test` (about 3 s each), 40 in the
 * deep run. SnapshotRandom.test.ts is its twin with owners, modes and two volumes (deep run only).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { app, DB, fingerprint, world } from "../support/snapshotWorld.js"

const SEEDS = Number(process.env["WARM_RANDOM_SNAPSHOT_SEEDS"] ?? 1)

/** The paths whose entries differ between two fingerprints, with both sides. */
const differences = (got: Record<string, unknown>, want: Record<string, unknown>) =>
  [...new Set([...Object.keys(got), ...Object.keys(want)])]
    .filter((rel) => JSON.stringify(got[rel]) !== JSON.stringify(want[rel]))
    .map((rel) => `${rel}: ${JSON.stringify(got[rel])} (expected ${JSON.stringify(want[rel])})`)

/** mulberry32: a small deterministic generator, one per seed. */
const prng = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

// Names that sort around each other: "a" before "a-b" and "a.b", and a directory "a" before
// "a-b" although "a/..." has "/" where "a-b" has "-".
const NAMES = ["a", "a-b", "a.b", "a b", "b", "é", "日本", "~x", "-", "0", "A", "z.tmp", "ab", "a~"]
const MODES = [0o600, 0o644, 0o755, 0o700, 0o640]

class Tree {
  private serial = 0
  constructor(readonly root: string, readonly next: () => number) {}

  pick<T>(items: ReadonlyArray<T>): T {
    return items[Math.floor(this.next() * items.length)]!
  }

  name(): string {
    return this.next() < 0.7 ? this.pick(NAMES) : `${this.pick(NAMES)}${this.serial++}`
  }

  content(): Buffer {
    const size = this.next() < 0.2 ? 0 : Math.floor(this.next() ** 3 * 65_536)
    const bytes = Buffer.alloc(size)
    for (let i = 0; i < size; i++) bytes[i] = Math.floor(this.next() * 256)
    return bytes
  }

  /** Every entry below the root, relative, in no particular order. */
  entries(): Array<string> {
    return Fs.readdirSync(this.root, { recursive: true, encoding: "utf8" })
  }

  dirs(): Array<string> {
    return [".", ...this.entries().filter((p) => Fs.lstatSync(this.abs(p)).isDirectory())]
  }

  files(): Array<string> {
    return this.entries().filter((p) => Fs.lstatSync(this.abs(p)).isFile())
  }

  abs(rel: string): string {
    return Path.join(this.root, rel)
  }

  /** A path that does not exist yet, in a random directory. */
  fresh(): string {
    const dir = this.pick(this.dirs())
    for (;;) {
      const rel = Path.join(dir, this.name())
      if (!Fs.existsSync(this.abs(rel)) && !isLink(this.abs(rel))) return rel
    }
  }

  grow(count: number): void {
    for (let i = 0; i < count; i++) {
      const rel = this.fresh()
      const r = this.next()
      if (r < 0.25 && rel.split("/").length < 4) Fs.mkdirSync(this.abs(rel), { mode: 0o755 })
      else if (r < 0.8) Fs.writeFileSync(this.abs(rel), this.content(), { mode: this.pick(MODES) })
      else if (r < 0.9) Fs.symlinkSync(this.next() < 0.5 ? this.pick(NAMES) : "../nowhere", this.abs(rel))
      else {
        const files = this.files()
        if (files.length > 0) Fs.linkSync(this.abs(this.pick(files)), this.abs(rel))
      }
    }
  }

  /** One change of the kinds an app or a broken release makes; a description of it. */
  mutate(): string {
    const entries = this.entries()
    if (entries.length === 0) {
      this.grow(3)
      return "grow"
    }
    const rel = this.pick(entries)
    const abs = this.abs(rel)
    const st = Fs.lstatSync(abs)
    const r = this.next()
    if (r < 0.15) {
      this.grow(1 + Math.floor(this.next() * 4))
      return "grow"
    }
    if (r < 0.3) {
      Fs.rmSync(abs, { recursive: true, force: true })
      return `remove ${rel}`
    }
    if (r < 0.42 && st.isFile()) {
      // Rewritten in place: hard links to it see the change too.
      Fs.writeFileSync(abs, this.content())
      return `rewrite ${rel}`
    }
    if (r < 0.5 && st.isFile() && st.size > 0) {
      // The same size, and the old mtime put back: only ctime tells.
      const bytes = Fs.readFileSync(abs)
      bytes[0] = bytes[0]! ^ 0xff
      Fs.writeFileSync(abs, bytes)
      Fs.utimesSync(abs, st.atime, st.mtime)
      return `rewrite ${rel} keeping size and mtime`
    }
    if (r < 0.58 && !st.isSymbolicLink()) {
      Fs.chmodSync(abs, this.pick(MODES))
      return `chmod ${rel}`
    }
    if (r < 0.7) {
      const to = this.fresh()
      if (to.startsWith(`${rel}/`)) return "none"
      Fs.renameSync(abs, this.abs(to))
      return `rename ${rel} to ${to}`
    }
    if (r < 0.78 && st.isFile()) {
      Fs.rmSync(abs)
      Fs.mkdirSync(abs, { mode: 0o750 })
      Fs.writeFileSync(Path.join(abs, this.pick(NAMES)), this.content())
      return `file ${rel} turned into a directory`
    }
    if (r < 0.86 && st.isDirectory()) {
      Fs.rmSync(abs, { recursive: true })
      Fs.writeFileSync(abs, this.content())
      return `directory ${rel} turned into a file`
    }
    if (r < 0.92 && st.isFile()) {
      Fs.rmSync(abs)
      Fs.symlinkSync(this.pick(NAMES), abs)
      return `file ${rel} turned into a symbolic link`
    }
    if (st.isFile()) {
      Fs.truncateSync(abs, Math.floor(st.size / 2))
      return `truncate ${rel}`
    }
    this.grow(1)
    return "grow"
  }

  /**
   * Date every entry an hour back: a pre-copy leaves out the files written in its last seconds
   * (the take copies them whole), which would leave nothing for the merge to keep.
   */
  age(): void {
    const hourAgo = new Date(Date.now() - 3_600_000)
    for (const rel of [...this.entries(), "."]) {
      if (!isLink(this.abs(rel))) Fs.utimesSync(this.abs(rel), hourAgo, hourAgo)
    }
  }

  mutateMany(count: number): Array<string> {
    return Array.from({ length: count }, () => this.mutate())
  }
}

const isLink = (path: string) => {
  try {
    return Fs.lstatSync(path).isSymbolicLink()
  } catch {
    return false
  }
}

describe("live Snapshots, hard links across a partial copy (found by the random trees)", () => {
  // rsync -H links only the names it copies in one run: a file with two names, one of which a
  // directory's rename moves, must come out as one file with two names, not two files.
  const linkedPair = (root: string) => {
    Fs.mkdirSync(Path.join(root, "a"))
    Fs.writeFileSync(Path.join(root, "a", "x"), "shared")
    Fs.linkSync(Path.join(root, "a", "x"), Path.join(root, "y"))
  }
  const sameFile = (root: string, one: string, other: string) =>
    Fs.lstatSync(Path.join(root, one)).ino === Fs.lstatSync(Path.join(root, other)).ino

  it.scopedLive("the final pass copies every name of a file when one of them moved since the pre-copy", () =>
    Effect.gen(function*() {
      const w = yield* world()
      const volume = w.volumes.find((v) => v.name === DB)!
      linkedPair(volume.mountpoint)
      // An hour old (a pre-copy leaves out files written in its last seconds), and past the
      // filesystem clock's tick (an entry whose ctime is the record's own tick is copied again):
      // either would hide the case.
      const hourAgo = new Date(Date.now() - 3_600_000)
      Fs.utimesSync(Path.join(volume.mountpoint, "y"), hourAgo, hourAgo)
      yield* Effect.sleep("50 millis")
      w.deployed.value = true
      yield* w.snapshots.precopy(app, [volume])
      Fs.renameSync(Path.join(volume.mountpoint, "a"), Path.join(volume.mountpoint, "b"))
      w.deployed.value = false
      const taken = fingerprint(volume.mountpoint)
      yield* w.snapshots.take(app, "1.0.0", [volume])
      const snapshot = Path.join(w.appDir, "snapshot", "volumes", DB)
      expect(sameFile(snapshot, "b/x", "y")).toBe(true)
      expect(differences(fingerprint(snapshot), taken)).toEqual([])
    }))

  it.scopedLive("a restore copies back every name of a file when the release moved one of them", () =>
    Effect.gen(function*() {
      const w = yield* world()
      const volume = w.volumes.find((v) => v.name === DB)!
      linkedPair(volume.mountpoint)
      const taken = fingerprint(volume.mountpoint)
      yield* w.snapshots.take(app, "1.0.0", [volume])
      Fs.renameSync(Path.join(volume.mountpoint, "a"), Path.join(volume.mountpoint, "c"))
      yield* w.snapshots.restore(app, [volume])
      expect(sameFile(volume.mountpoint, "a/x", "y")).toBe(true)
      expect(differences(fingerprint(volume.mountpoint), taken)).toEqual([])
    }))
})

describe("live Snapshots, a set-group-ID volume root (found by the random trees)", () => {
  it.scopedLive("a restore keeps the modes of the directories below a set-group-ID root", () =>
    Effect.gen(function*() {
      const w = yield* world()
      const volume = w.volumes.find((v) => v.name === DB)!
      Fs.chmodSync(volume.mountpoint, 0o2755)
      Fs.mkdirSync(Path.join(volume.mountpoint, "d", "e"), { recursive: true })
      Fs.chmodSync(Path.join(volume.mountpoint, "d"), 0o755)
      Fs.chmodSync(Path.join(volume.mountpoint, "d", "e"), 0o750)
      const taken = fingerprint(volume.mountpoint)
      yield* w.snapshots.take(app, "1.0.0", [volume])
      Fs.writeFileSync(Path.join(volume.mountpoint, "junk"), "from the release")
      yield* w.snapshots.restore(app, [volume])
      expect(Fs.statSync(Path.join(volume.mountpoint, "d")).mode & 0o7777).toBe(0o755)
      expect(Fs.statSync(volume.mountpoint).mode & 0o7777).toBe(0o2755)
      expect(differences(fingerprint(volume.mountpoint), taken)).toEqual([])
    }))
})

describe("live Snapshots, random trees through the streaming merge", () => {
  for (let seed = 1; seed <= SEEDS; seed++) {
    it.scopedLive(`seed ${seed}: the take holds the volume as it was, the restore brings it back exactly`, () =>
      Effect.gen(function*() {
        const w = yield* world()
        const volume = w.volumes.find((v) => v.name === DB)!
        const tree = new Tree(volume.mountpoint, prng(seed))
        tree.grow(40 + Math.floor(tree.next() * 120))
        const log: Array<string> = []
        for (const cycle of [1, 2]) {
          tree.age()
          // Past the filesystem clock's tick, so that the record can find entries unchanged.
          yield* Effect.sleep("50 millis")
          w.deployed.value = true
          yield* w.snapshots.precopy(app, [volume])
          // The app writes after the pre-copy, then it is undeployed.
          log.push(`cycle ${cycle}, after the pre-copy:`, ...tree.mutateMany(5 + Math.floor(tree.next() * 15)))
          w.deployed.value = false
          const taken = fingerprint(volume.mountpoint)
          yield* w.snapshots.take(app, `${cycle}.0.0`, [volume])
          const snapshot = Path.join(w.appDir, "snapshot", "volumes", DB)
          const held = fingerprint(snapshot)
          expect(differences(held, taken), `seed ${seed}: the snapshot differs from the volume; ${log.join("; ")}`)
            .toEqual([])
          // A broken release changes the volume; the restore must bring back the take's state.
          log.push(`cycle ${cycle}, the release:`, ...tree.mutateMany(5 + Math.floor(tree.next() * 20)))
          yield* w.snapshots.restore(app, [volume])
          const restored = fingerprint(volume.mountpoint)
          expect(differences(restored, taken), `seed ${seed}: the restore differs from the take; ${log.join("; ")}`)
            .toEqual([])
          // Nothing left beside the volume once the background removal is done.
          yield* w.snapshots.list(app)
          expect(Fs.readdirSync(Path.dirname(volume.mountpoint))).toEqual(["_data"])
        }
      }))
  }
})
