import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { createHash } from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll, afterEach } from "vitest"
import { walk } from "../../src/live/snapshot/Manifest.js"
import { compareWalk, Cursor, LineFile, linesOf, OutOfOrder } from "../../src/live/snapshot/Ordered.js"

const CHUNK = 1 << 20

const dirs: Array<string> = []
const tempDir = (): string => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "warm-ordered-"))
  dirs.push(dir)
  return dir
}
afterEach(() => {
  for (const dir of dirs.splice(0)) Fs.rmSync(dir, { recursive: true, force: true })
})
afterAll(() => {
  for (const dir of dirs.splice(0)) Fs.rmSync(dir, { recursive: true, force: true })
})

/** The rels `walk` yields for `root`, in its order. */
const walked = async (root: string): Promise<Array<string>> => {
  const rels: Array<string> = []
  for await (const { rel } of walk(root)) rels.push(rel)
  return rels
}

/** Make `dirs` (relative, any depth) and then `files` (relative, their parents made) under `root`. */
const build = (root: string, tree: { readonly dirs: ReadonlyArray<string>; readonly files: ReadonlyArray<string> }) => {
  for (const dir of tree.dirs) Fs.mkdirSync(Path.join(root, dir), { recursive: true })
  for (const file of tree.files) {
    Fs.mkdirSync(Path.dirname(Path.join(root, file)), { recursive: true })
    Fs.writeFileSync(Path.join(root, file), file)
  }
}

/** compareWalk sorts `rels` back into the same list, and puts each strictly before the next. */
const expectWalkOrder = (rels: ReadonlyArray<string>) => {
  expect([...rels].reverse().sort(compareWalk)).toEqual(rels)
  for (let i = 1; i < rels.length; i++) {
    const [x, y] = [rels[i - 1]!, rels[i]!]
    expect({ x, y, order: Math.sign(compareWalk(x, y)) }).toEqual({ x, y, order: -1 })
    expect({ x, y, order: Math.sign(compareWalk(y, x)) }).toEqual({ x, y, order: 1 })
  }
}

/** Fisher-Yates with a fixed seed: the same shuffle every run. */
const shuffled = <A>(items: ReadonlyArray<A>, seed: number): Array<A> => {
  const out = [...items]
  let s = seed
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2147483648
    const j = s % (i + 1)
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}

describe("compareWalk against a real walk", () => {
  it("agrees with the order walk yields on a tree of awkward names", async () => {
    const root = tempDir()
    build(root, {
      dirs: [
        "a/b",
        "a/b/c",
        "a.b",
        "a-",
        "A",
        "é",
        "日本",
        "日本/本",
        "-dash",
        " space",
        "x/y z/-",
        "x/y",
        "x/y-z",
        "😀",
        "10"
      ],
      files: [
        "a-b",
        "a!b",
        "a~",
        "a/b-c",
        "a/b.c",
        "a/b/c!",
        "a/b/c/d",
        "a/b0",
        "a/B",
        "a.b/z",
        "a-/a",
        "A/a",
        "b",
        "B",
        "e",
        "e\u0301",
        "é/é",
        "日",
        "日本/a",
        "日本-",
        "日本/本/x",
        "-dash/-",
        " space/ ",
        "!bang",
        "~tilde",
        "0",
        "1",
        "10/0",
        "2",
        "9",
        "😀/x",
        "😀x",
        "\uffff",
        "x/y/z",
        "x/y z/a",
        "x/y.z",
        "x/y!",
        "x/yz",
        ".hidden",
        ".a/.b"
      ]
    })
    const rels = await walked(root)
    // The tree is what it should be: every name was made and walked.
    expect(rels[0]).toBe(".")
    expect(rels).toContain("a/b/c/d")
    expect(rels).toContain("日本/本/x")
    expect(rels.length).toBe(new Set(rels).size)
    // The cases the slash rule exists for: a directory's entries before a sibling it prefixes.
    expect(rels.indexOf("a/b/c/d")).toBeLessThan(rels.indexOf("a-b"))
    expect(rels.indexOf("a/b/c/d")).toBeLessThan(rels.indexOf("a!b"))
    expect(rels.indexOf("a/b/c/d")).toBeLessThan(rels.indexOf("a.b"))
    expect(rels.indexOf("x/y/z")).toBeLessThan(rels.indexOf("x/y z"))
    expect(rels.indexOf("x/y/z")).toBeLessThan(rels.indexOf("x/y!"))
    expectWalkOrder(rels)
    // From any starting order, not only from the reversed list.
    for (const seed of [1, 2, 3, 42, 1234]) expect(shuffled(rels, seed).sort(compareWalk)).toEqual(rels)
  })

  it("agrees with walk on random trees (property)", async () => {
    const alphabet = ["a", "b", "A", "B", "-", ".", " ", "!", "~", "0", "9", "_", "é", "日", "😀", "\u0301", "+"]
    const name = fc
      .array(fc.constantFrom(...alphabet), { minLength: 1, maxLength: 4 })
      .map((chars) => chars.join(""))
      .filter((n) => n !== "." && n !== "..")
    const path = fc.array(name, { minLength: 1, maxLength: 4 })
    let runs = 0
    await fc.assert(
      fc.asyncProperty(fc.array(path, { minLength: 1, maxLength: 25 }), async (paths) => {
        runs++
        const root = tempDir()
        // Every proper prefix of a path is a directory; a full path that is no one's prefix is a file.
        const dirSet = new Set<string>()
        for (const segments of paths) {
          for (let i = 1; i < segments.length; i++) dirSet.add(segments.slice(0, i).join("/"))
        }
        const all = paths.map((segments) => segments.join("/"))
        const files = all.filter((p) => !dirSet.has(p))
        build(root, { dirs: [...dirSet], files: [...new Set(files)] })
        const rels = await walked(root)
        const expected = new Set([".", ...dirSet, ...all])
        expect(new Set(rels)).toEqual(expected)
        expect(rels.length).toBe(expected.size)
        expectWalkOrder(rels)
        Fs.rmSync(root, { recursive: true, force: true })
      }),
      { numRuns: 30 }
    )
    expect(runs).toBeGreaterThanOrEqual(30)
  })
})

describe("compareWalk", () => {
  it("puts the root first, before names whose first code unit is below '.'", () => {
    const others = ["-a", " a", "!", "#", "\t", "\u0001", ",", "..a", ".a", "a", "-", " ", "a/b"]
    for (const other of others) {
      expect({ other, order: Math.sign(compareWalk(".", other)) }).toEqual({ other, order: -1 })
      expect({ other, order: Math.sign(compareWalk(other, ".")) }).toEqual({ other, order: 1 })
    }
    expect([...others, "."].sort(compareWalk)[0]).toBe(".")
  })

  it("is 0 on equal strings and only there", () => {
    for (const p of [".", "a", "a/b", "é/日本", "😀", "a-b", ""]) expect(compareWalk(p, p)).toBe(0)
    // Equal content made separately (not the same string object).
    expect(compareWalk(["a", "b"].join("/"), "a/b")).toBe(0)
    expect(compareWalk("a", "a/b")).not.toBe(0)
    expect(compareWalk("a/b", "a-b")).not.toBe(0)
    expect(compareWalk("é", "e\u0301")).not.toBe(0)
  })

  it("orders a directory before its entries, and its entries before a sibling it prefixes", () => {
    expect(compareWalk("a", "a/b")).toBeLessThan(0)
    expect(compareWalk("a/z", "a-b")).toBeLessThan(0)
    expect(compareWalk("a/z", "a!b")).toBeLessThan(0)
    expect(compareWalk("a/z", "a b")).toBeLessThan(0)
    expect(compareWalk("a/z/z", "a.b")).toBeLessThan(0)
    expect(compareWalk("a-b", "a/z")).toBeGreaterThan(0)
    // Plain code-unit order within a directory, as Array.prototype.sort.
    expect(compareWalk("B", "a")).toBeLessThan(0)
    expect(compareWalk("a", "é")).toBeLessThan(0)
    expect(compareWalk("\uffff", "😀")).toBeGreaterThan(0) // a surrogate pair is below U+FFFF in UTF-16
    expect(compareWalk("10", "9")).toBeLessThan(0)
  })

  it("is antisymmetric and transitive on a sample", () => {
    const sample = [
      ".",
      "a",
      "a/b",
      "a/b/c",
      "a-b",
      "a.b",
      "a!b",
      "a b",
      "a/b-c",
      "a/b/c-d",
      "A",
      "-",
      " x",
      "é",
      "日本",
      "日本/a",
      "😀",
      "\uffff",
      "0",
      "10",
      "9",
      "a~"
    ]
    for (const x of sample) {
      for (const y of sample) {
        const xy = Math.sign(compareWalk(x, y))
        const yx = Math.sign(compareWalk(y, x))
        expect({ x, y, sum: xy + yx }).toEqual({ x, y, sum: 0 })
        if (x !== y) expect(xy).not.toBe(0)
        for (const z of sample) {
          if (compareWalk(x, y) < 0 && compareWalk(y, z) < 0) {
            expect({ x, y, z, order: Math.sign(compareWalk(x, z)) }).toEqual({ x, y, z, order: -1 })
          }
        }
      }
    }
  })
})

describe("linesOf", () => {
  it("reads lines longer than a chunk, and lines ending on either side of a chunk's end", () => {
    const dir = tempDir()
    const file = Path.join(dir, "long")
    const long = "x".repeat(2.5 * CHUNK)
    // After `long\n`, a line whose newline is the last byte of a chunk, then one whose newline is
    // the first byte of the next.
    const used = ("first\n".length + long.length + 1) % CHUNK
    const endsAtChunkEnd = "y".repeat(CHUNK - used - 1)
    const endsAfterChunkEnd = "z".repeat(CHUNK)
    const lines = ["first", long, endsAtChunkEnd, endsAfterChunkEnd, "last"]
    Fs.writeFileSync(file, lines.join("\n") + "\n")
    // The boundaries are where the test means them to be.
    const bytes = Fs.readFileSync(file)
    expect(bytes[3 * CHUNK - 1]).toBe(10)
    expect(bytes[4 * CHUNK]).toBe(10)
    expect([...linesOf(file)]).toEqual(lines)
  })

  it("reads multi-byte characters cut by a chunk's end intact", () => {
    const dir = tempDir()
    const file = Path.join(dir, "utf8")
    const lines = [
      "x" + "é".repeat(700_000),
      "日".repeat(500_000),
      "😀".repeat(300_000),
      "a",
      "é日😀".repeat(150_000),
      ...Array.from({ length: 20_000 }, (_, i) => `${i}:${["é", "日", "😀", "x"].slice(0, 1 + (i % 4)).join("")}`)
    ]
    Fs.writeFileSync(file, lines.join("\n") + "\n")
    const bytes = Fs.readFileSync(file)
    // Some chunk boundaries fall inside a character (a continuation byte 10xxxxxx starts the chunk).
    let inside = 0
    for (let at = CHUNK; at < bytes.length; at += CHUNK) {
      if ((bytes[at]! & 0xc0) === 0x80) inside++
    }
    expect(inside).toBeGreaterThanOrEqual(3)
    const read = [...linesOf(file)]
    expect(read.length).toBe(lines.length)
    for (let i = 0; i < lines.length; i++) {
      if (read[i] !== lines[i]) {
        expect({ i, length: read[i]?.length }).toEqual({ i, length: lines[i]!.length, same: true })
      }
    }
    expect(read.some((line) => line.includes("\ufffd"))).toBe(false)
  })

  it("skips empty lines and reads a last line with no newline", () => {
    const dir = tempDir()
    const read = (name: string, text: string) => {
      const file = Path.join(dir, name)
      Fs.writeFileSync(file, text)
      return [...linesOf(file)]
    }
    expect(read("empty", "")).toEqual([])
    expect(read("newlines", "\n\n\n")).toEqual([])
    expect(read("blank", "a\n\n\nb\n")).toEqual(["a", "b"])
    expect(read("leading", "\n\na\nb")).toEqual(["a", "b"])
    expect(read("no-final-newline", "a\nb")).toEqual(["a", "b"])
    expect(read("one", "only")).toEqual(["only"])
    expect(read("spaces", " \n\t\n")).toEqual([" ", "\t"])
    // A last line with no newline, longer than a chunk and after a chunk's worth of empty lines.
    const tail = "é".repeat(CHUNK)
    expect(read("long-tail", "\n".repeat(CHUNK + 3) + tail)).toEqual([tail])
  })

  it("closes its file when the reader stops early, and fails on a missing file", () => {
    const dir = tempDir()
    const file = Path.join(dir, "lines")
    Fs.writeFileSync(file, "a\nb\nc\n")
    const lines = linesOf(file)
    expect(lines.next()).toEqual({ done: false, value: "a" })
    expect(lines.return(undefined)).toEqual({ done: true, value: undefined })
    expect(lines.next()).toEqual({ done: true, value: undefined })
    expect(() => [...linesOf(Path.join(dir, "missing"))]).toThrow(/ENOENT/)
  })
})

describe("Cursor", () => {
  const cursor = (items: ReadonlyArray<string>) => new Cursor(items[Symbol.iterator](), (item: string) => item)

  it("seek returns the item at a path and passes the ones before it, in order", () => {
    const c = cursor([".", "a", "a/b", "a/b/c", "a-b", "b", "é"])
    const passed: Array<string> = []
    expect(c.seek(".", (i) => passed.push(i))).toBe(".")
    expect(passed).toEqual([])
    expect(c.seek("a-b", (i) => passed.push(i))).toBe("a-b")
    expect(passed).toEqual(["a", "a/b", "a/b/c"])
    expect(c.seek("é", (i) => passed.push(i))).toBe("é")
    expect(passed).toEqual(["a", "a/b", "a/b/c", "b"])
    expect(c.seek("z", (i) => passed.push(i))).toBeUndefined()
    expect(passed).toEqual(["a", "a/b", "a/b/c", "b"])
  })

  it("seek of a missing path returns undefined and keeps the next larger item", () => {
    const c = cursor(["a", "a/z", "a-b", "c"])
    const passed: Array<string> = []
    expect(c.seek("a/b", (i) => passed.push(i))).toBeUndefined()
    expect(passed).toEqual(["a"])
    // "a/z" was not consumed by the failed seek.
    expect(c.seek("a/z", (i) => passed.push(i))).toBe("a/z")
    expect(c.seek("b", (i) => passed.push(i))).toBeUndefined()
    expect(passed).toEqual(["a", "a-b"])
    expect(c.seek("b")).toBeUndefined()
    expect(c.seek("c")).toBe("c")
    // Without `passed`, the items before are passed over all the same.
    const d = cursor(["a", "b", "c"])
    expect(d.seek("c")).toBe("c")
    const rest: Array<string> = []
    d.rest((i) => rest.push(i))
    expect(rest).toEqual([])
  })

  it("rest reports every item left, in order", () => {
    const c = cursor(["a", "a/b", "a-b", "b", "c"])
    expect(c.seek("a/b")).toBe("a/b")
    const rest: Array<string> = []
    c.rest((i) => rest.push(i))
    expect(rest).toEqual(["a-b", "b", "c"])
    expect(c.seek("z")).toBeUndefined()
    const all: Array<string> = []
    cursor(["x", "y"]).rest((i) => all.push(i))
    expect(all).toEqual(["x", "y"])
  })

  it("works on items other than strings, through pathOf", () => {
    const items = [{ path: "a", n: 1 }, { path: "a/b", n: 2 }, { path: "a-b", n: 3 }]
    const c = new Cursor(items[Symbol.iterator](), (item) => item.path)
    expect(c.seek("a-b")?.n).toBe(3)
  })

  it("throws OutOfOrder on an item out of walk order, when it is reached", () => {
    const c = cursor(["b", "a"])
    expect(c.seek("b")).toBe("b")
    expect(() => c.seek("c")).toThrow(OutOfOrder)
    expect(() => cursor(["b", "a"]).rest(() => {})).toThrow(OutOfOrder)
    // A duplicate is out of order too.
    const dup = cursor(["a", "a"])
    expect(dup.seek("a")).toBe("a")
    expect(() => dup.seek("a")).toThrow(OutOfOrder)
    // Plain code-unit order is not walk order: "a-b" before "a/z" is out of order.
    const plain = cursor(["a", "a-b", "a/z"])
    expect(() => plain.rest(() => {})).toThrow(OutOfOrder)
    // The error names both paths.
    expect(() => cursor(["b", "a"]).rest(() => {})).toThrow(/"a".*"b"/)
  })

  it("close() returns the underlying generator, running its finally", () => {
    let closed = false
    let yielded = 0
    function* items() {
      try {
        for (const item of ["a", "b", "c"]) {
          yielded++
          yield item
        }
      } finally {
        closed = true
      }
    }
    const c = new Cursor(items(), (item: string) => item)
    expect(c.seek("a")).toBe("a")
    expect(closed).toBe(false)
    c.close()
    expect(closed).toBe(true)
    expect(yielded).toBeLessThanOrEqual(2)
    // An iterator without return() is closed without error.
    const plain: Iterator<string> = { next: () => ({ done: true, value: undefined }) }
    expect(() => new Cursor(plain, (item: string) => item).close()).not.toThrow()
  })

  it("reads a linesOf file, merged by path", () => {
    const dir = tempDir()
    const file = Path.join(dir, "lines")
    Fs.writeFileSync(file, [".", "a", "a/b", "a-b", "é"].join("\n") + "\n")
    const c = new Cursor(linesOf(file), (line) => line)
    const passed: Array<string> = []
    expect(c.seek("a-b", (i) => passed.push(i))).toBe("a-b")
    expect(passed).toEqual([".", "a", "a/b"])
    c.close()
  })
})

describe("LineFile", () => {
  const sha256 = (file: string) => createHash("sha256").update(Fs.readFileSync(file)).digest("hex")

  it("returns the sha256 of the file it wrote, lines ended by newlines", () => {
    const dir = tempDir()
    const file = Path.join(dir, "small")
    const out = new LineFile(file)
    out.write("a")
    out.write("{\"path\":\"é/日本\"}")
    out.write("😀")
    expect(out.lines).toBe(3)
    const sum = out.close(false)
    expect(Fs.readFileSync(file, "utf8")).toBe("a\n{\"path\":\"é/日本\"}\n😀\n")
    expect(sum).toBe(sha256(file))
    expect(sum).toMatch(/^[0-9a-f]{64}$/)
  })

  it("an empty file has the sha256 of nothing", () => {
    const dir = tempDir()
    const file = Path.join(dir, "empty")
    const sum = new LineFile(file).close(true)
    expect(Fs.readFileSync(file).length).toBe(0)
    expect(sum).toBe(createHash("sha256").update("").digest("hex"))
  })

  it("returns the right sha256 over several flushes, with multi-byte characters", () => {
    const dir = tempDir()
    const file = Path.join(dir, "big")
    const out = new LineFile(file)
    const written: Array<string> = []
    // Several MiB, in lines of varying length, some longer than a chunk.
    for (let i = 0; i < 30_000; i++) {
      const line = `${i} ${"é日😀x".repeat(i % 37)}`
      out.write(line)
      written.push(line)
      if (i % 10_000 === 5) {
        const long = "日".repeat(CHUNK + i)
        out.write(long)
        written.push(long)
      }
    }
    // The flushes have happened before close: the file already holds part of what was written.
    expect(Fs.statSync(file).size).toBeGreaterThan(CHUNK)
    expect(out.lines).toBe(written.length)
    const sum = out.close(true)
    const text = written.join("\n") + "\n"
    expect(Fs.statSync(file).size).toBe(Buffer.byteLength(text))
    expect(Fs.readFileSync(file, "utf8") === text).toBe(true)
    expect(sum).toBe(sha256(file))
    expect(sum).toBe(createHash("sha256").update(Buffer.from(text)).digest("hex"))
    // And linesOf reads back what LineFile wrote.
    const read = [...linesOf(file)]
    expect(read.length).toBe(written.length)
    expect(read.every((line, i) => line === written[i])).toBe(true)
  })

  it("makes the file with mode 0600, whatever the umask", () => {
    const dir = tempDir()
    for (const [i, mask] of [0o022, 0o000, 0o077].entries()) {
      const umask = process.umask(mask)
      try {
        const file = Path.join(dir, `mode-${i}`)
        const out = new LineFile(file)
        expect(Fs.statSync(file).mode & 0o777).toBe(0o600)
        out.write("x")
        out.close(false)
        expect(Fs.statSync(file).mode & 0o777).toBe(0o600)
      } finally {
        process.umask(umask)
      }
    }
  })

  it("refuses a path that exists, leaving it as it was", () => {
    const dir = tempDir()
    const file = Path.join(dir, "taken")
    Fs.writeFileSync(file, "keep\n")
    expect(() => new LineFile(file)).toThrow(expect.objectContaining({ code: "EEXIST" }))
    expect(Fs.readFileSync(file, "utf8")).toBe("keep\n")
    // A symlink to a missing file exists too: "wx" does not follow it.
    const link = Path.join(dir, "link")
    Fs.symlinkSync(Path.join(dir, "target"), link)
    expect(() => new LineFile(link)).toThrow(expect.objectContaining({ code: "EEXIST" }))
    expect(Fs.existsSync(Path.join(dir, "target"))).toBe(false)
  })

  it("discard() removes the file, written to or not", () => {
    const dir = tempDir()
    const half = Path.join(dir, "half")
    const out = new LineFile(half)
    for (let i = 0; i < 200_000; i++) out.write(`line ${i} ${"é".repeat(10)}`)
    expect(Fs.existsSync(half)).toBe(true)
    out.discard()
    expect(Fs.existsSync(half)).toBe(false)
    const fresh = Path.join(dir, "fresh")
    new LineFile(fresh).discard()
    expect(Fs.existsSync(fresh)).toBe(false)
    // The path is free again for a new file.
    const again = new LineFile(half)
    again.write("a")
    expect(again.close(false)).toBe(sha256(half))
  })
})
