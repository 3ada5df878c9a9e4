/**
 * Streams in walk order. A volume's walk (./Manifest.ts `walk`), a manifest and a record all list
 * their entries in the same order: a directory right before its entries, the names of a directory
 * in code-unit order. So two of them are compared by a merge, one entry of each at a time, and a
 * take or a restore holds in memory only what changed, never a map of every entry of the volume.
 */
import { createHash } from "node:crypto"
import * as NodeFsSync from "node:fs"

const SLASH = 47

/** Walk order of two relative paths (`.` is the root, first of all). */
export const compareWalk = (a: string, b: string): number => {
  if (a === b) return 0
  if (a === ".") return -1
  if (b === ".") return 1
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i)
    const y = b.charCodeAt(i)
    if (x === y) continue
    // A name that ends first comes first: "a/z" before "a-b", as "a" sorts before "a-b".
    if (x === SLASH) return -1
    if (y === SLASH) return 1
    return x - y
  }
  return a.length - b.length
}

const CHUNK = 1 << 16

/**
 * The lines of `file`, read in chunks. Synchronous: an async line reader (node:readline) costs a
 * promise per line, which for a manifest of a large volume is a good part of an upgrade's downtime.
 */
export function* linesOf(file: string): Generator<string> {
  const fd = NodeFsSync.openSync(file, "r")
  try {
    const chunk = Buffer.allocUnsafe(CHUNK)
    let rest = Buffer.alloc(0)
    for (;;) {
      const read = NodeFsSync.readSync(fd, chunk, 0, CHUNK, null)
      if (read === 0) break
      // A newline byte is never part of a multi-byte UTF-8 character: splitting bytes is safe.
      const buffer = rest.length === 0 ? chunk.subarray(0, read) : Buffer.concat([rest, chunk.subarray(0, read)])
      let start = 0
      for (let end = buffer.indexOf(10, start); end !== -1; end = buffer.indexOf(10, start)) {
        if (end > start) yield buffer.toString("utf8", start, end)
        start = end + 1
      }
      rest = Buffer.from(buffer.subarray(start))
    }
    if (rest.length > 0) yield rest.toString("utf8")
  } finally {
    NodeFsSync.closeSync(fd)
  }
}

/** The first line of `file` (undefined for an empty one); reads one chunk. */
export const firstLine = (file: string): string | undefined => {
  const lines = linesOf(file)
  try {
    return lines.next().value ?? undefined
  } finally {
    lines.return(undefined)
  }
}

export class OutOfOrder extends Error {}

/**
 * One stream of items in walk order, read by a merge: `seek(rel)` passes the items before `rel`
 * (to `passed`) and returns the one at `rel`, if any. An item out of order throws OutOfOrder.
 */
export class Cursor<T> {
  private head: IteratorResult<T> | undefined
  private last: string | undefined
  constructor(private readonly items: Iterator<T>, private readonly pathOf: (item: T) => string) {}

  private peek(): T | undefined {
    this.head ??= this.items.next()
    return this.head.done ? undefined : this.head.value
  }

  private take(): T {
    const item = this.peek() as T
    const path = this.pathOf(item)
    if (this.last !== undefined && compareWalk(this.last, path) >= 0) {
      throw new OutOfOrder(`${JSON.stringify(path)} comes after ${JSON.stringify(this.last)}: not in walk order`)
    }
    this.last = path
    this.head = undefined
    return item
  }

  seek(rel: string, passed?: (item: T) => void): T | undefined {
    for (let item = this.peek(); item !== undefined; item = this.peek()) {
      const order = compareWalk(this.pathOf(item), rel)
      if (order > 0) return undefined
      const taken = this.take()
      if (order === 0) return taken
      passed?.(taken)
    }
    return undefined
  }

  /** Stop reading (closes the file under a generator over one). */
  close(): void {
    this.items.return?.(undefined)
  }

  /** Every item left. */
  rest(passed: (item: T) => void): void {
    while (this.peek() !== undefined) passed(this.take())
  }
}

/**
 * A new file (mode 0600, never an existing one) written line by line through a buffer, with the
 * sha256 of what was written: a manifest's sum is known when it is closed, without its text in
 * memory.
 */
export class LineFile {
  private readonly fd: number
  private readonly hash = createHash("sha256")
  private buffered: Array<string> = []
  private size = 0
  lines = 0

  constructor(readonly file: string) {
    this.fd = NodeFsSync.openSync(file, "wx", 0o600)
  }

  /** One line: JSON text, which has no raw newline. */
  write(line: string): void {
    this.buffered.push(line, "\n")
    this.lines++
    this.size += line.length + 1
    if (this.size >= CHUNK) this.flush()
  }

  private flush(): void {
    if (this.buffered.length === 0) return
    const text = this.buffered.join("")
    this.hash.update(text)
    const bytes = Buffer.from(text)
    for (let at = 0; at < bytes.length;) at += NodeFsSync.writeSync(this.fd, bytes, at)
    this.buffered = []
    this.size = 0
  }

  /** Flush, fsync when `durable`, close; the sha256 of the whole file. */
  close(durable: boolean): string {
    try {
      this.flush()
      if (durable) NodeFsSync.fsyncSync(this.fd)
    } finally {
      this.release()
    }
    return this.hash.digest("hex")
  }

  /** Close and remove a file left half-written (its caller failed). */
  discard(): void {
    this.release()
    NodeFsSync.rmSync(this.file, { force: true })
  }

  // Once only: the number of a closed descriptor may already name another open file.
  private closed = false
  private release(): void {
    if (this.closed) return
    this.closed = true
    NodeFsSync.closeSync(this.fd)
  }
}
