import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { SystemError } from "@effect/platform/Error"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Layer } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { appendLine, ensureDir, readFileIfExists, writeFileAtomic } from "../../src/live/AtomicFile.js"
import { type FileError, refuseSymlinkDir, safeJoin } from "../../src/live/FileChecks.js"
import { failure, listDir, modeOf, tempDir } from "../support/files.js"

type Step = "writeAll" | "sync" | "rename"

const errno = (code: string, method: string, path: string) =>
  new SystemError({
    reason: "Unknown",
    module: "FileSystem",
    method,
    pathOrDescriptor: path,
    description: `${code}: injected`,
    cause: Object.assign(new Error(`${code}: injected`), { code })
  })

/**
 * The real filesystem with one step of a write failing, as a full disk or a failing disk would
 * make it fail. `writeAll` writes half the bytes first, as a write cut short by ENOSPC does.
 */
const failingAt = (step: Step) =>
  Layer.effect(
    FileSystem.FileSystem,
    Effect.map(FileSystem.FileSystem, (fs): FileSystem.FileSystem => ({
      ...fs,
      open: (path, options) =>
        Effect.map(fs.open(path, options), (file) => {
          const wrapped: FileSystem.File = Object.create(file)
          if (step === "writeAll") {
            Object.assign(wrapped, {
              writeAll: (bytes: Uint8Array) =>
                file.writeAll(bytes.subarray(0, bytes.length / 2)).pipe(
                  Effect.zipRight(Effect.fail(errno("ENOSPC", "writeAll", path)))
                )
            })
          }
          if (step === "sync" && options?.flag === "wx") {
            Object.defineProperty(wrapped, "sync", { value: Effect.fail(errno("EIO", "sync", path)) })
          }
          return wrapped
        }),
      rename: (from, to) => step === "rename" ? Effect.fail(errno("EXDEV", "rename", from)) : fs.rename(from, to)
    }))
  ).pipe(Layer.provide(NodeFileSystem.layer))

describe("writeFileAtomic", () => {
  it.scopedLive("writes the content with mode 0600 and leaves no temp file", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* tempDir("warm-reconcile-atomic-")
      const target = Path.join(dir, "last_good")
      yield* writeFileAtomic(target, "1.1.0+1.1")
      expect(yield* fs.readFileString(target)).toBe("1.1.0+1.1")
      expect(yield* modeOf(target)).toBe(0o600)
      expect(yield* listDir(dir)).toEqual(["last_good"])
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.scopedLive("replacing a file gives it the requested mode, not the old one", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* tempDir("warm-reconcile-atomic-")
      const target = Path.join(dir, "hold.json")
      yield* fs.writeFileString(target, "old")
      yield* fs.chmod(target, 0o644)
      yield* writeFileAtomic(target, "new")
      expect(yield* fs.readFileString(target)).toBe("new")
      expect(yield* modeOf(target)).toBe(0o600)
      yield* writeFileAtomic(target, "wide", { mode: 0o640 })
      expect(yield* modeOf(target)).toBe(0o640)
      expect(yield* listDir(dir)).toEqual(["hold.json"])
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.scopedLive("sets the mode on the descriptor: a FileSystem whose chmod by path fails changes nothing", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir("warm-reconcile-atomic-")
      const target = Path.join(dir, "warm-reconcile.prom")
      // A chmod by path could be sent through a link swapped in for the temp file.
      const noChmodByPath = Layer.effect(
        FileSystem.FileSystem,
        Effect.map(FileSystem.FileSystem, (fs): FileSystem.FileSystem => ({
          ...fs,
          chmod: (path) => Effect.fail(errno("EPERM", "chmod", path))
        }))
      ).pipe(Layer.provide(NodeFileSystem.layer))
      const umask = process.umask(0o077)
      try {
        yield* writeFileAtomic(target, "x 1\n", { mode: 0o644 }).pipe(Effect.provide(noChmodByPath))
      } finally {
        process.umask(umask)
      }
      expect(yield* modeOf(target)).toBe(0o644)
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.scopedLive("a target that is a directory really fails: the directory stays, no temp file", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* tempDir("warm-reconcile-atomic-")
      const target = Path.join(dir, "last_good")
      yield* fs.makeDirectory(target)
      yield* fs.writeFileString(Path.join(target, "inside"), "kept")
      const error = failure(yield* Effect.exit(writeFileAtomic(target, "1.2.0")))
      expect(error._tag).toBe("FileError")
      expect(error.code).toBe("EISDIR")
      expect(error.message).toContain(`cannot write ${target}: EISDIR`)
      expect(yield* fs.readFileString(Path.join(target, "inside"))).toBe("kept")
      expect(yield* listDir(dir)).toEqual(["last_good"])
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.scopedLive("a parent that is a regular file really fails with a message that says what to do", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* tempDir("warm-reconcile-atomic-")
      yield* fs.writeFileString(Path.join(dir, "state"), "a file, not a directory")
      const target = Path.join(dir, "state", "last_good")
      const error = failure(yield* Effect.exit(writeFileAtomic(target, "1.2.0")))
      expect(error.code).toBe("ENOTDIR")
      expect(error.message).toBe(
        `cannot write ${target}: ENOTDIR: a part of the path is a file, not a directory: ` +
          "move it away or choose another state directory"
      )
      expect(yield* listDir(dir)).toEqual(["state"])
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  for (const [step, code] of [["writeAll", "ENOSPC"], ["sync", "EIO"], ["rename", "EXDEV"]] as const) {
    it.scopedLive(`a failure at ${step} keeps the old content and removes the temp file`, () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const dir = yield* tempDir("warm-reconcile-atomic-")
        const target = Path.join(dir, "last_good")
        yield* fs.writeFileString(target, "1.1.0+1.1")
        const exit = yield* Effect.exit(
          writeFileAtomic(target, "9.9.9+9.9".repeat(1000)).pipe(Effect.provide(failingAt(step)))
        )
        const error: FileError = failure(exit)
        expect(error.code).toBe(code)
        expect(error.message).toContain(`cannot write ${target}: ${code}`)
        expect(yield* fs.readFileString(target)).toBe("1.1.0+1.1")
        expect(yield* listDir(dir)).toEqual(["last_good"])
      }).pipe(Effect.provide(NodeFileSystem.layer)))
  }

  it.scopedLive("20 concurrent writers: readers only ever see one complete content, and so does the end", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* tempDir("warm-reconcile-atomic-")
      const target = Path.join(dir, "state.json")
      const size = 256 * 1024
      // Writer i writes `size` copies of one letter: a mix or a short file is visible at once.
      const contents = Array.from({ length: 20 }, (_, i) => String.fromCharCode(65 + i).repeat(size))
      yield* writeFileAtomic(target, "z".repeat(size))
      const seen: Array<string> = []
      const reader = yield* Effect.fork(Effect.forever(
        Effect.flatMap(fs.readFileString(target), (text) => Effect.sync(() => seen.push(text))).pipe(
          Effect.zipRight(Effect.yieldNow())
        )
      ))
      // Several rounds each, so the reader gets turns between writes.
      yield* Effect.forEach(contents, (content) => Effect.repeatN(writeFileAtomic(target, content), 4), {
        concurrency: "unbounded"
      })
      yield* Fiber.interrupt(reader)
      const final = yield* fs.readFileString(target)
      expect(contents).toContain(final)
      expect(seen.length).toBeGreaterThan(0)
      for (const text of seen) {
        expect(text.length).toBe(size)
        expect(text).toBe(text[0]!.repeat(size))
      }
      expect(yield* listDir(dir)).toEqual(["state.json"])
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.scopedLive("exclusive refuses to replace an existing file and cleans up", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* tempDir("warm-reconcile-atomic-")
      const target = Path.join(dir, "alert.json")
      yield* writeFileAtomic(target, "first", { exclusive: true })
      const error = failure(yield* Effect.exit(writeFileAtomic(target, "second", { exclusive: true })))
      expect(error.code).toBe("EEXIST")
      expect(yield* fs.readFileString(target)).toBe("first")
      expect(yield* modeOf(target)).toBe(0o600)
      expect(yield* listDir(dir)).toEqual(["alert.json"])
    }).pipe(Effect.provide(NodeFileSystem.layer)))
})

describe("readFileIfExists", () => {
  it.scopedLive("reads a regular file, answers undefined for a missing one, refuses a link and a FIFO at once", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir("warm-reconcile-read-")
      const file = Path.join(dir, "hold.json")
      Fs.writeFileSync(file, "{}")
      expect(yield* readFileIfExists(file)).toBe("{}")
      expect(yield* readFileIfExists(Path.join(dir, "missing"))).toBeUndefined()
      const link = Path.join(dir, "linked")
      Fs.symlinkSync(file, link)
      const linked = failure(yield* Effect.exit(readFileIfExists(link)))
      expect(linked.message).toBe(
        `refusing to read ${link}: it is a symbolic link; replace it with the file itself or remove it`
      )
      const fifo = Path.join(dir, "fifo")
      ChildProcess.execFileSync("mkfifo", [fifo])
      // Nobody writes the FIFO: a plain open would block for ever.
      const blocked = failure(yield* Effect.exit(readFileIfExists(fifo)))
      expect(blocked.message).toContain("it is not a regular file")
    }).pipe(Effect.provide(NodeFileSystem.layer)))
})

describe("ensureDir", () => {
  it.scopedLive("creates missing directories with mode 0700 and leaves an existing one's mode alone", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* tempDir("warm-reconcile-atomic-")
      const nested = Path.join(dir, "state", "keycloak")
      yield* ensureDir(nested)
      expect(yield* modeOf(Path.join(dir, "state"))).toBe(0o700)
      expect(yield* modeOf(nested)).toBe(0o700)
      const shared = Path.join(dir, "shared")
      yield* fs.makeDirectory(shared)
      yield* fs.chmod(shared, 0o755)
      yield* ensureDir(shared)
      expect(yield* modeOf(shared)).toBe(0o755)
    }).pipe(Effect.provide(NodeFileSystem.layer)))
})

describe("safeJoin", () => {
  it.effect("joins a plain name and refuses names that would leave the directory", () =>
    Effect.gen(function*() {
      expect(yield* safeJoin("/state", "keycloak")).toBe("/state/keycloak")
      expect(yield* safeJoin("/state", "a..b")).toBe("/state/a..b")
      for (const name of ["", ".", "..", "a/b", "../etc", "/etc/passwd", "a\0b", "..\\x"]) {
        const error = failure(yield* Effect.exit(safeJoin("/state", name)))
        expect(error.operation).toBe("name")
        expect(error.message).toContain(`refusing the name ${JSON.stringify(name)} under /state`)
      }
    }))
})

describe("refuseSymlinkDir", () => {
  it.scopedLive("refuses a symlinked or non-directory path, accepts a real or missing directory", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* tempDir("warm-reconcile-atomic-")
      const real = Path.join(dir, "real")
      const link = Path.join(dir, "link")
      const file = Path.join(dir, "file")
      yield* fs.makeDirectory(real)
      yield* fs.symlink(real, link)
      yield* fs.writeFileString(file, "")
      yield* refuseSymlinkDir(real)
      yield* refuseSymlinkDir(Path.join(dir, "missing"))
      const linked = failure(yield* Effect.exit(refuseSymlinkDir(link)))
      expect(linked.message).toBe(
        `refusing ${link}: it is a symbolic link (to ${real}); replace it with a real directory, ` +
          "or configure the state directory as the link's target"
      )
      const notDir = failure(yield* Effect.exit(refuseSymlinkDir(file)))
      expect(notDir.message).toContain("it is not a directory")
    }).pipe(Effect.provide(NodeFileSystem.layer)))
})

describe("appendLine", () => {
  it.scopedLive("appends whole lines, first ending a torn last line, with mode 0600", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* tempDir("warm-reconcile-atomic-")
      const path = Path.join(dir, "history.jsonl")
      yield* appendLine(path, "one")
      yield* appendLine(path, "two")
      expect(yield* fs.readFileString(path)).toBe("one\ntwo\n")
      expect(yield* modeOf(path)).toBe(0o600)
      yield* fs.writeFileString(path, "{\"torn", { flag: "a" })
      yield* appendLine(path, "three")
      expect(yield* fs.readFileString(path)).toBe("one\ntwo\n{\"torn\nthree\n")
    }).pipe(Effect.provide(NodeFileSystem.layer)))
})
