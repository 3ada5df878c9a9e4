/**
 * The manifest of a snapshot tree: one JSON line per entry (path, type, mode, owner, size, mtime
 * in nanoseconds, symlink target, sha256 of a regular file's content), in a sorted walk's order.
 *
 * Kept incrementally: a regular file whose type, size and mtime equal the previous manifest's
 * entry keeps that entry's hash (the same quick check rsync uses to decide what to copy), so a
 * take hashes only what changed. A restore checks the tree against the manifest entry by entry
 * before it changes anything, and hashes every regular file it will copy back (see `verify`).
 *
 * Written with node:fs: the platform FileSystem has no lstat, and a walk of 90,000 entries is
 * several times faster without an Effect per entry. Sync calls, with the event loop given a turn
 * every 20 ms (`breathe`): each async call costs a thread-pool round trip, which for a tree of
 * small files is most of the time.
 */
import { Effect } from "effect"
import { createHash } from "node:crypto"
import type { BigIntStats } from "node:fs"
import * as NodeFsSync from "node:fs"
import * as NodeFs from "node:fs/promises"
import * as NodePath from "node:path"
import type { Sample } from "../../domain/Progress.js"
import { compile, matchesEntry, type Pattern } from "../../domain/SnapshotExclude.js"
import { describe, Failure } from "./Failure.js"
import { Cursor, firstLine, LineFile, linesOf } from "./Ordered.js"

export type EntryType = "file" | "dir" | "symlink" | "char" | "block" | "fifo" | "socket"

export interface Entry {
  readonly path: string
  readonly type: EntryType
  readonly mode: number
  readonly uid: number
  readonly gid: number
  /** Regular files only; 0 for the rest (a directory's size differs between filesystems). */
  readonly size: number
  readonly mtimeNs: string
  readonly link?: string
  readonly sha256?: string
}

export interface Totals {
  readonly entries: number
  readonly files: number
  readonly bytes: number
  /** Regular files whose content was read for this manifest (the rest kept their hash). */
  readonly hashed: number
}

const typeOf = (st: BigIntStats): EntryType =>
  st.isFile()
    ? "file"
    : st.isDirectory()
    ? "dir"
    : st.isSymbolicLink()
    ? "symlink"
    : st.isCharacterDevice()
    ? "char"
    : st.isBlockDevice()
    ? "block"
    : st.isFIFO()
    ? "fifo"
    : "socket"

/**
 * Sync reads into one shared buffer, yielding to the event loop every few milliseconds: a tree of
 * 22,500 files (1 GiB) hashes in 1.1 s here, where streams (or async reads) took 4 s, most of it
 * in a thread-pool round trip per open, read and close.
 */
const BUFFER = Buffer.allocUnsafe(1 << 20)
const SLICE_MS = 20
let sliceStart = performance.now()

/** Whether this slice of sync work has run its time. */
const due = () => performance.now() - sliceStart >= SLICE_MS

/** Give the event loop a turn when this slice of sync work has run its time (and honour an abort). */
const breathe = async (signal?: AbortSignal) => {
  if (!due()) return
  await new Promise<void>((resolve) => setImmediate(resolve))
  sliceStart = performance.now()
  signal?.throwIfAborted()
}

export const sha256OfFile = async (file: string, signal?: AbortSignal): Promise<string> => {
  const hash = createHash("sha256")
  const fd = NodeFsSync.openSync(file, "r")
  try {
    for (;;) {
      const n = NodeFsSync.readSync(fd, BUFFER, 0, BUFFER.length, null)
      if (n === 0) break
      hash.update(BUFFER.subarray(0, n))
      await breathe(signal)
    }
  } finally {
    NodeFsSync.closeSync(fd)
  }
  await breathe(signal)
  return hash.digest("hex")
}

export const sha256Of = (file: string) =>
  Effect.tryPromise({
    try: (signal) => sha256OfFile(file, signal),
    catch: (e) => new Failure({ message: `read ${file}: ${describe(e)}` })
  })

/**
 * Every entry under `root` (the root itself as `.`), in sorted order (a directory's entries right
 * after it), with its lstat. Iterative, one generator: a recursive one costs a promise per level
 * for every entry.
 */
export async function* walk(
  root: string,
  start = ".",
  /** Skip entries that vanish during the walk (a volume in use), instead of failing. */
  live = false,
  /** Entries left out, with all below them (a snapshot's excludes). */
  skip: ReadonlyArray<Pattern> = [],
  /** Told each entry `skip` leaves out. */
  skipped?: (rel: string) => void
): AsyncGenerator<{ readonly rel: string; readonly abs: string; readonly st: BigIntStats }> {
  const stack = [start]
  for (let rel = stack.pop(); rel !== undefined; rel = stack.pop()) {
    const abs = rel === "." ? root : `${root}/${rel}`
    let st: BigIntStats
    let names: Array<string> = []
    try {
      st = NodeFsSync.lstatSync(abs, { bigint: true })
      if (rel !== "." && skip.length > 0 && matchesEntry(skip, rel, st.isDirectory())) {
        skipped?.(rel)
        continue
      }
      if (st.isDirectory()) names = NodeFsSync.readdirSync(abs).sort()
    } catch (e) {
      if (live && rel !== "." && (e as { code?: unknown }).code === "ENOENT") continue
      throw e
    }
    yield { rel, abs, st }
    for (let i = names.length - 1; i >= 0; i--) stack.push(rel === "." ? names[i]! : `${rel}/${names[i]}`)
    if (due()) await breathe()
  }
}

export const describeEntry = async (
  abs: string,
  rel: string,
  st: BigIntStats
): Promise<Omit<Entry, "sha256">> => {
  const type = typeOf(st)
  return {
    path: rel,
    type,
    mode: Number(st.mode & 0o7777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
    size: type === "file" ? Number(st.size) : 0,
    mtimeNs: String(st.mtimeNs),
    ...(type === "symlink" ? { link: NodeFsSync.readlinkSync(abs) } : {})
  }
}

/**
 * The lines of the manifest in `file` with their entries (its excludes' header left out), in its
 * order; a bad line throws.
 */
export function* linesWithEntries(file: string): Generator<{ readonly text: string; readonly entry: Entry }> {
  for (const text of linesOf(file)) {
    const entry = JSON.parse(text) as Entry
    if (isHeader(entry)) continue
    if (typeof entry.path !== "string" || typeof entry.type !== "string") throw new Error(`${file}: bad line ${text}`)
    yield { text, entry }
  }
}

/** The same, the entries alone. */
function* entriesOf(file: string): Generator<Entry> {
  for (const { entry } of linesWithEntries(file)) yield entry
}

/**
 * The last snapshot's manifest, read along a walk in the same order: its entry at each path. Only
 * an optimisation (hashes kept, bytes not counted twice): a line that cannot be read, or one out
 * of order, ends it, and every later file is taken as changed.
 */
class Previous {
  private cursor: Cursor<Entry> | undefined
  constructor(file: string | undefined) {
    this.cursor = file === undefined ? undefined : new Cursor(entriesOf(file), (entry) => entry.path)
  }

  at(rel: string): Entry | undefined {
    try {
      return this.cursor?.seek(rel)
    } catch {
      this.close()
      return undefined
    }
  }

  close(): void {
    this.cursor?.close()
    this.cursor = undefined
  }
}

/** Whether the last snapshot's `before` holds the file `st` unchanged (rsync's quick check). */
const unchanged = (before: Entry | undefined, st: BigIntStats): before is Entry & { sha256: string } =>
  before?.type === "file" && before.size === Number(st.size) && before.mtimeNs === String(st.mtimeNs) &&
  typeof before.sha256 === "string"

/**
 * Write the manifest of `root` to the new file `file` (fsynced when `durable`), keeping the
 * hashes of `previous` (the last snapshot's manifest file) for unchanged files; returns its sum
 * and totals. A snapshot taken with excludes starts with a line naming them, so that meta.json's
 * sum covers them too and a restore leaves out exactly what the take left out.
 */
export const build = (
  root: string,
  previous: string | undefined,
  exclude: ReadonlyArray<string>,
  file: string,
  durable: boolean,
  /** Told the bytes and files read for their hash so far. */
  progress?: (sample: Sample) => void
) =>
  Effect.tryPromise({
    try: async () => {
      const before = new Previous(previous)
      const byInode = new Map<bigint, string>()
      let entries = 0, files = 0, bytes = 0, hashed = 0, hashedBytes = 0
      const out = new LineFile(file)
      try {
        if (exclude.length > 0) out.write(JSON.stringify({ exclude }))
        for await (const { abs, rel, st } of walk(root)) {
          const entry: Entry = await describeEntry(abs, rel, st)
          entries++
          const was = before.at(rel)
          let sha256: string | undefined
          if (entry.type === "file") {
            files++
            bytes += entry.size
            sha256 = unchanged(was, st) ? was.sha256 : byInode.get(st.ino)
            if (sha256 === undefined) {
              sha256 = await sha256OfFile(abs)
              hashed++
              hashedBytes += entry.size
              progress?.({ bytes: hashedBytes, files: hashed })
            }
            // Only a file with other names is met again: remembering every inode would cost memory per file.
            if (st.nlink > 1n) byInode.set(st.ino, sha256)
          }
          out.write(JSON.stringify(sha256 === undefined ? entry : { ...entry, sha256 }))
        }
        const totals: Totals = { entries, files, bytes, hashed }
        return { sha256: out.close(durable), totals }
      } catch (e) {
        out.discard()
        throw e
      } finally {
        before.close()
      }
    },
    catch: (e) => new Failure({ message: `build the manifest of ${root}: ${describe(e)}` })
  })

const isHeader = (line: unknown): line is { readonly exclude: ReadonlyArray<string> } =>
  typeof line === "object" && line !== null && !("path" in line) && "exclude" in line &&
  Array.isArray(line.exclude) && line.exclude.every((p) => typeof p === "string")

/** The exclude patterns a manifest's first line names (none for a snapshot taken whole). */
export const excludeOf = (first: string): ReadonlyArray<string> => {
  try {
    const line: unknown = JSON.parse(first)
    return isHeader(line) ? line.exclude : []
  } catch {
    return []
  }
}

/** The exclude patterns the manifest in `file` names (its first line only is read). */
export const excludesIn = (file: string) =>
  Effect.try({
    try: () => excludeOf(firstLine(file) ?? ""),
    catch: (e) => new Failure({ message: `read ${file}: ${describe(e)}` })
  })

/** Parse a manifest's text; a line that is not an entry makes the whole manifest unreadable. */
export const parse = (text: string, file: string) =>
  Effect.try({
    try: () => {
      const entries = new Map<string, Entry>()
      for (const line of text.split("\n")) {
        if (line === "") continue
        const entry = JSON.parse(line) as Entry
        if (isHeader(entry)) continue
        if (typeof entry.path !== "string" || typeof entry.type !== "string") throw new Error(`bad line ${line}`)
        entries.set(entry.path, entry)
      }
      return entries
    },
    catch: (e) => new Failure({ message: `${file} is not a snapshot manifest (${describe(e)}); nothing was changed` })
  })

const FIELDS = ["type", "mode", "uid", "gid", "size", "mtimeNs", "link"] as const

export interface Check {
  /** The first difference between the tree and its manifest; undefined when they agree. */
  readonly difference: string | undefined
  /**
   * Whether the restore may take unchanged files from the live volume (rsync `--link-dest`): false
   * when a directory of the snapshot is something else there (a symbolic link a release left),
   * since a path below it would lead out of the volume. Then every file was hashed.
   */
  readonly linkSafe: boolean
  /** Regular files whose content was read and hashed. */
  readonly hashed: number
  /** Regular files left unread: the live volume holds them unchanged, so a restore takes them from there. */
  readonly fromLive: number
  /** The names of each regular file of the tree that has more than one. */
  readonly linked: ReadonlyMap<bigint, ReadonlyArray<string>>
}

const lstatOrNone = (path: string): BigIntStats | undefined => {
  try {
    return NodeFsSync.lstatSync(path, { bigint: true })
  } catch (e) {
    const code = (e as { code?: unknown }).code
    if (code === "ENOENT" || code === "ENOTDIR") return undefined
    throw e
  }
}

/**
 * Check `root` against its manifest (the file `manifest`): the same entries, each with the same
 * metadata and content. A merge of the walk and the manifest, in the same order. Reads the content
 * of every regular file (each inode once) except, with `live` (the volume a restore rebuilds), the
 * files that the live volume holds as a regular file of the manifest's size and mtime (to the
 * nanosecond) below real directories: rsync's quick check finds those unchanged and takes their
 * content from the live volume, not from the snapshot, so a restore's time grows with what changed
 * rather than with the volume. Fails with the first difference.
 */
export const verify = (
  root: string,
  manifest: string,
  live?: string,
  /**
   * Instead of `live`: the paths a restore copies back from the snapshot, because the snapshot's
   * record shows the volume does not hold them as taken (./FinalPass.ts); only those files are
   * read, the others are taken from the volume.
   */
  copied?: ReadonlySet<string>
) =>
  Effect.tryPromise({
    try: async (signal): Promise<Check> => {
      const byInode = new Map<bigint, string>()
      const unread: Array<{ readonly abs: string; readonly st: BigIntStats; readonly want: Entry }> = []
      const liveDirs = new Set<string>()
      const linked = new Map<bigint, Array<string>>()
      let linkSafe = live !== undefined || copied !== undefined
      let hashed = 0
      // Files left unread (the restore takes them from the volume).
      let kept = 0
      const hash = async (abs: string, want: Entry, st: BigIntStats) => {
        let sha256 = byInode.get(st.ino)
        if (sha256 === undefined) {
          sha256 = await sha256OfFile(abs, signal)
          hashed++
          // Only a file with other names is met again.
          if (st.nlink > 1n) byInode.set(st.ino, sha256)
        }
        return sha256 === want.sha256
          ? undefined
          : `${want.path} differs from its manifest in sha256 (${sha256}, manifest: ${String(want.sha256)})`
      }
      const result = (difference: string | undefined): Check => ({
        difference,
        linkSafe,
        hashed,
        fromLive: linkSafe ? kept : 0,
        linked
      })
      const expected = new Cursor(entriesOf(manifest), (entry) => entry.path)
      let missing: string | undefined
      const passed = (entry: Entry) => {
        missing ??= entry.path
      }
      try {
        for await (const { abs, rel, st } of walk(root)) {
          const want = expected.seek(rel, passed)
          if (missing !== undefined) return result(`${missing} is in the manifest but missing from the snapshot`)
          if (want === undefined) return result(`${rel} is in the snapshot but not in its manifest`)
          if (st.isFile() && st.nlink > 1n) linked.set(st.ino, [...linked.get(st.ino) ?? [], rel])
          const got: Record<string, unknown> = { ...(await describeEntry(abs, rel, st)) }
          const field = FIELDS.find((f) => got[f] !== (want as unknown as Record<string, unknown>)[f])
          if (field !== undefined) {
            return result(
              `${rel} differs from its manifest in ${field} (${String(got[field])}, manifest: ${
                String((want as unknown as Record<string, unknown>)[field])
              })`
            )
          }
          if (copied !== undefined) {
            if (want.type === "file" && copied.has(rel)) {
              const difference = await hash(abs, want, st)
              if (difference !== undefined) return result(difference)
            } else if (want.type === "file") {
              kept++
            }
            continue
          }
          if (live === undefined || !linkSafe) {
            if (want.type === "file") {
              const difference = await hash(abs, want, st)
              if (difference !== undefined) return result(difference)
            }
            continue
          }
          const parentIsDir = rel === "." || liveDirs.has(NodePath.dirname(rel))
          const there = parentIsDir ? lstatOrNone(rel === "." ? live : NodePath.join(live, rel)) : undefined
          if (want.type === "dir") {
            if (there?.isDirectory()) liveDirs.add(rel)
            // A missing live root (a crashed restore's) has nothing to link from either.
            else if (there !== undefined || rel === ".") linkSafe = false
          } else if (want.type === "file") {
            if (there?.isFile() && String(there.mtimeNs) === want.mtimeNs && Number(there.size) === want.size) {
              unread.push({ abs, st, want })
              kept++
            } else {
              const difference = await hash(abs, want, st)
              if (difference !== undefined) return result(difference)
            }
          }
        }
        expected.rest(passed)
      } finally {
        expected.close()
      }
      if (missing !== undefined) return result(`${missing} is in the manifest but missing from the snapshot`)
      // No link from the live volume after all: every file will come from the snapshot.
      if (!linkSafe) {
        for (const { abs, st, want } of unread) {
          const difference = await hash(abs, want, st)
          if (difference !== undefined) return result(difference)
        }
      }
      return result(undefined)
    },
    catch: (e) => new Failure({ message: `check ${root} against its manifest: ${describe(e)}` })
  })

/** The regular files under `root` whose mtime is at or after `since` (ns since the epoch). */
export const newerThan = (root: string, since: bigint) =>
  Effect.tryPromise({
    try: async () => {
      const found: Array<string> = []
      for await (const { abs, st } of walk(root)) if (st.isFile() && st.mtimeNs >= since) found.push(abs)
      return found
    },
    catch: (e) => new Failure({ message: `list the recent files of ${root}: ${describe(e)}` })
  })

/**
 * The bytes a copy of `root` adds beside `previous` (the last snapshot's manifest file): the
 * allocated size of every regular file that the quick check finds changed and no pattern of
 * `exclude` leaves out, each inode once. Reads only.
 */
export const added = (root: string, previous: string | undefined, exclude: ReadonlyArray<string> = []) =>
  Effect.tryPromise({
    try: async () => {
      const before = new Previous(previous)
      const counted = new Set<bigint>()
      let bytes = 0
      try {
        for await (const { rel, st } of walk(root, ".", true, exclude.map(compile))) {
          const was = before.at(rel)
          if (!st.isFile()) continue
          // Each inode once: a hard link's other names add nothing (only those are remembered).
          if (st.nlink > 1n) {
            if (counted.has(st.ino)) continue
            counted.add(st.ino)
          }
          if (was?.type === "file" && was.size === Number(st.size) && was.mtimeNs === String(st.mtimeNs)) continue
          // Sparse files take only their allocated blocks (rsync -S keeps the holes).
          bytes += Math.min(Number(st.size), Number(st.blocks) * 512)
        }
      } finally {
        before.close()
      }
      return bytes
    },
    catch: (e) => new Failure({ message: `measure ${root}: ${describe(e)}` })
  })

/** The topmost entries of `root` that `exclude` leaves out (below them nothing is looked at). */
export const excluded = (root: string, exclude: ReadonlyArray<string>) =>
  Effect.tryPromise({
    try: async () => {
      const patterns = exclude.map(compile)
      const found: Array<string> = []
      const dirs: Array<string> = []
      for await (const { rel, st } of walk(root, ".", false, patterns)) if (st.isDirectory()) dirs.push(rel)
      for (const dir of dirs) {
        for (const name of await NodeFs.readdir(NodePath.join(root, dir))) {
          const rel = dir === "." ? name : NodePath.join(dir, name)
          const st = await NodeFs.lstat(NodePath.join(root, rel))
          if (matchesEntry(patterns, rel, st.isDirectory())) found.push(NodePath.join(root, rel))
        }
      }
      return found
    },
    catch: (e) => new Failure({ message: `list what is excluded in ${root}: ${describe(e)}` })
  })
