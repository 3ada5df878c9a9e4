/** The shared filesystem checks: the errno walk, errno names of errors, and the fsync of a directory. */
import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { SystemError } from "@effect/platform/Error"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as Path from "node:path"
import { errnoOf, errorCode, FileError, fileError, ownershipProblem, syncDir } from "../../src/live/FileChecks.js"
import { failure, tempDir } from "../support/files.js"

const errno = (code: string, message = `${code}: injected`) => Object.assign(new Error(message), { code })

const systemError = (cause?: unknown, method = "open") =>
  new SystemError({
    reason: "Unknown",
    module: "FileSystem",
    method,
    pathOrDescriptor: "/x",
    description: "injected",
    ...(cause === undefined ? {} : { cause })
  })

/** The real filesystem, where the fsync of an opened file fails with `code`. */
const syncFails = (code: string) =>
  Layer.effect(
    FileSystem.FileSystem,
    Effect.map(FileSystem.FileSystem, (real) => ({
      ...real,
      open: (path: string, options?: FileSystem.OpenFileOptions) =>
        Effect.map(real.open(path, options), (file) =>
          new Proxy(file, {
            get: (target, key) =>
              key === "sync"
                ? Effect.fail(systemError(errno(code), "sync"))
                : Reflect.get(target, key)
          }))
    }))
  ).pipe(Layer.provide(NodeFileSystem.layer))

describe("errnoOf", () => {
  it("finds the code on the error itself or down its causes", () => {
    expect(errnoOf(errno("EACCES", "EACCES: permission denied"))).toEqual({
      code: "EACCES",
      message: "EACCES: permission denied"
    })
    // A PlatformError wraps Node's error; undici wraps the socket's twice.
    expect(errnoOf(systemError(errno("ENOSPC"))).code).toBe("ENOSPC")
    const socket = errno("ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:443")
    expect(errnoOf(new Error("fetch failed", { cause: new Error("request", { cause: socket }) }))).toEqual({
      code: "ECONNREFUSED",
      message: "connect ECONNREFUSED 127.0.0.1:443"
    })
  })

  it("without a code: the message of the deepest error, or the text of a cause that is no Error", () => {
    expect(errnoOf(new Error("outer", { cause: new Error("inner") }))).toEqual({ code: undefined, message: "inner" })
    expect(errnoOf(new Error("outer", { cause: "a string" }))).toEqual({ code: undefined, message: "a string" })
    expect(errnoOf(42)).toEqual({ code: undefined, message: "42" })
  })
})

describe("errorCode", () => {
  it("is the FileError's own code, the errno name of anything else, else empty", () => {
    expect(errorCode(new FileError({ path: "/x", operation: "write", code: "EEXIST", message: "m" }))).toBe("EEXIST")
    expect(errorCode(systemError(errno("ENOENT")))).toBe("ENOENT")
    expect(errorCode(systemError())).toBe("")
  })

  it("fileError gives advice for a known code and the description otherwise", () => {
    expect(fileError("write", "/s/last_good")(systemError(errno("ENOSPC"))).message).toBe(
      "cannot write /s/last_good: ENOSPC: the disk is full: free some space"
    )
    expect(fileError("read", "/s/x")(systemError(errno("EWHATEVER"))).message).toBe("cannot read /s/x: injected")
  })
})

describe("syncDir", () => {
  it.scoped("fsyncs an existing directory", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir("warm-filechecks-")
      yield* syncDir(dir)
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.scoped("a missing directory is a FileError naming it", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir("warm-filechecks-")
      const missing = Path.join(dir, "missing")
      const error = failure(yield* Effect.exit(syncDir(missing)))
      expect(error).toMatchObject({ _tag: "FileError", operation: "write", code: "ENOENT", path: missing })
      expect(error.message).toContain(missing)
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.scoped("a filesystem that cannot fsync a directory (EINVAL) is no failure; EIO is", () =>
    Effect.gen(function*() {
      const dir = yield* Effect.provide(tempDir("warm-filechecks-"), NodeFileSystem.layer)
      yield* Effect.provide(syncDir(dir), syncFails("EINVAL"))
      const error = failure(yield* Effect.exit(Effect.provide(syncDir(dir), syncFails("EIO"))))
      expect(error.code).toBe("EIO")
      expect(error.message).toBe(`cannot write ${dir}: EIO: the disk reported an I/O error: check it (dmesg)`)
    }))
})

describe("ownershipProblem", () => {
  const me = { uid: 1000, gid: 1000 }
  it("passes root's and this process's own files that only their owner can write", () => {
    expect(ownershipProblem({ uid: 0, gid: 0, mode: 0o100600 }, me)).toBeUndefined()
    expect(ownershipProblem({ uid: 1000, gid: 1000, mode: 0o40700 }, me)).toBeUndefined()
    // Root's group (or ours) writing it changes nothing: only root (or we) are in it for this purpose.
    expect(ownershipProblem({ uid: 0, gid: 0, mode: 0o100660 }, me)).toBeUndefined()
    expect(ownershipProblem({ uid: 0, gid: 1000, mode: 0o100660 }, me)).toBeUndefined()
  })

  it("names the owner, every account or the group that could change it", () => {
    expect(ownershipProblem({ uid: 4242, gid: 0, mode: 0o100600 }, me)).toBe("it belongs to uid 4242, not root")
    expect(ownershipProblem({ uid: 0, gid: 0, mode: 0o100646 }, me)).toBe("it is writable by every account")
    expect(ownershipProblem({ uid: 0, gid: 0, mode: 0o41777 }, me)).toBe("it is writable by every account")
    expect(ownershipProblem({ uid: 0, gid: 4242, mode: 0o100660 }, me)).toBe("it is writable by group 4242")
  })
})
