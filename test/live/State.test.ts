import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { SystemError } from "@effect/platform/Error"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import * as Path from "node:path"
import * as LiveState from "../../src/live/State.js"
import { HoldRecord, RunRecord, State } from "../../src/services/State.js"
import { failure, listDir, modeOf, tempDir } from "../support/files.js"

/** The State service over `stateDir`, as the reconciler gets it. */
const withState = <A, E, R>(stateDir: string, f: (state: State["Type"]) => Effect.Effect<A, E, R>) =>
  Effect.flatMap(State, f).pipe(Effect.provide(LiveState.layer({ stateDir })))

const run = (n: number, app = "keycloak") =>
  new RunRecord({
    app,
    outcome: n % 2 === 0 ? "noop-healthy" : "upgraded",
    detail: `run ${n}`,
    startedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(),
    endedAt: new Date(Date.UTC(2026, 0, 1, 0, 1, n)).toISOString()
  })

describe("State last-good", () => {
  it.scopedLive("round trip: plain text without newline as the original wrote, 0600 file in 0700 dirs", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const stateDir = Path.join(yield* tempDir("warm-reconcile-state-"), "warm-reconcile")
      yield* withState(stateDir, (state) =>
        Effect.gen(function*() {
          expect(yield* state.lastGood("keycloak")).toEqual(Option.none())
          yield* state.setLastGood("keycloak", "10.7.1+26.6.2")
          expect(yield* state.lastGood("keycloak")).toEqual(Option.some("10.7.1+26.6.2"))
          yield* state.setLastGood("keycloak", "10.8.0+26.7.0")
          expect(yield* state.lastGood("keycloak")).toEqual(Option.some("10.8.0+26.7.0"))
          expect(yield* state.lastGood("n8n")).toEqual(Option.none())
        }))
      const file = Path.join(stateDir, "keycloak", "last_good")
      expect(yield* fs.readFileString(file)).toBe("10.8.0+26.7.0")
      expect(yield* modeOf(file)).toBe(0o600)
      expect(yield* modeOf(stateDir)).toBe(0o700)
      expect(yield* modeOf(Path.join(stateDir, "keycloak"))).toBe(0o700)
      expect(yield* listDir(Path.join(stateDir, "keycloak"))).toEqual(["last_good"])
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.scopedLive("reads a state directory written by the Python original", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const stateDir = yield* tempDir("warm-reconcile-state-")
      // The original's layout: <root>/<recipe>/last_good, 0755 dirs, 0644 file.
      const cases = [
        ["no-newline", "1.1.0+1.1", Option.some("1.1.0+1.1")],
        ["newline", "1.1.0+1.1\n", Option.some("1.1.0+1.1")],
        ["spaces", "  1.1.0+1.1 \r\n", Option.some("1.1.0+1.1")],
        ["empty", "", Option.none()],
        ["blank", "\n", Option.none()]
      ] as const
      for (const [app, content] of cases) {
        yield* fs.makeDirectory(Path.join(stateDir, app), { mode: 0o755 })
        yield* fs.writeFileString(Path.join(stateDir, app, "last_good"), content, { mode: 0o644 })
      }
      yield* withState(stateDir, (state) =>
        Effect.forEach(cases, ([app, , expected]) =>
          Effect.map(state.lastGood(app), (read) =>
            expect([app, read]).toEqual([app, expected]))))
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.scopedLive("refuses a version that is not one word", () =>
    Effect.gen(function*() {
      const stateDir = yield* tempDir("warm-reconcile-state-")
      const error = failure(
        yield* Effect.exit(withState(stateDir, (state) => state.setLastGood("keycloak", "1.0\n2.0")))
      )
      expect(error._tag).toBe("StateError")
      expect(error.message).toContain("a version is one word")
      expect(yield* listDir(stateDir)).toEqual([])
    }).pipe(Effect.provide(NodeFileSystem.layer)))
})

describe("State hold", () => {
  it.scopedLive("set, read back, clear (and clearing twice is fine)", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const stateDir = yield* tempDir("warm-reconcile-state-")
      const record = new HoldRecord({
        reason: "held-major",
        from: "10.7.1+26.6.2",
        to: "11.0.0+27.0.1",
        ts: "20261125T201535Z"
      })
      const file = Path.join(stateDir, "keycloak", "hold.json")
      yield* withState(stateDir, (state) =>
        Effect.gen(function*() {
          expect(yield* state.hold("keycloak")).toEqual(Option.none())
          yield* state.setHold("keycloak", Option.some(record))
          const read = yield* state.hold("keycloak")
          expect(Option.getOrThrow(read)).toBeInstanceOf(HoldRecord)
          expect(read).toEqual(Option.some(record))
          expect(JSON.parse(yield* fs.readFileString(file))).toEqual({
            reason: "held-major",
            from: "10.7.1+26.6.2",
            to: "11.0.0+27.0.1",
            ts: "20261125T201535Z"
          })
          expect(yield* modeOf(file)).toBe(0o600)
          yield* state.setHold("keycloak", Option.none())
          expect(yield* fs.exists(file)).toBe(false)
          expect(yield* state.hold("keycloak")).toEqual(Option.none())
          yield* state.setHold("keycloak", Option.none())
          yield* state.setHold("never-held", Option.none())
        }))
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.scopedLive("a hold.json that is not a hold record fails with what to do", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const stateDir = yield* tempDir("warm-reconcile-state-")
      const file = Path.join(stateDir, "keycloak", "hold.json")
      yield* fs.makeDirectory(Path.dirname(file))
      yield* fs.writeFileString(file, "{\"reason\": \"held-major\"}")
      const error = failure(yield* Effect.exit(withState(stateDir, (state) => state.hold("keycloak"))))
      expect(error._tag).toBe("StateUnreadable")
      expect(error.message).toContain(`${file} is not a valid hold record`)
      expect(error.message).toContain("then move the file aside")
    }).pipe(Effect.provide(NodeFileSystem.layer)))
})

describe("State history", () => {
  it.scopedLive("appends JSON lines and reads them back in order", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const stateDir = yield* tempDir("warm-reconcile-state-")
      yield* withState(stateDir, (state) => Effect.forEach([1, 2, 3], (n) => state.recordRun(run(n))))
      const file = Path.join(stateDir, "keycloak", "history.jsonl")
      const lines = (yield* fs.readFileString(file)).split("\n")
      expect(lines.length).toBe(4)
      expect(lines[3]).toBe("")
      expect(JSON.parse(lines[0]!)).toEqual({
        app: "keycloak",
        outcome: "upgraded",
        detail: "run 1",
        startedAt: "2026-01-01T00:00:01.000Z",
        endedAt: "2026-01-01T00:01:01.000Z",
        interrupted: false
      })
      expect(yield* modeOf(file)).toBe(0o600)
      const history = yield* LiveState.readHistory(stateDir, "keycloak")
      expect(history.map((r) => r.detail)).toEqual(["run 1", "run 2", "run 3"])
      expect(history[0]).toBeInstanceOf(RunRecord)
      expect(yield* LiveState.readHistory(stateDir, "n8n")).toEqual([])
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.scopedLive("a torn last line from a crash is skipped, and the next run is still readable", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const stateDir = yield* tempDir("warm-reconcile-state-")
      const file = Path.join(stateDir, "keycloak", "history.jsonl")
      yield* withState(stateDir, (state) => Effect.forEach([1, 2], (n) => state.recordRun(run(n))))
      // What a power cut halfway through an append leaves behind.
      const whole = JSON.stringify(RunRecord.make(run(3)))
      yield* fs.writeFileString(file, whole.slice(0, whole.length / 2), { flag: "a" })
      expect((yield* LiveState.readHistory(stateDir, "keycloak")).map((r) => r.detail)).toEqual(["run 1", "run 2"])
      yield* withState(stateDir, (state) => state.recordRun(run(4)))
      expect((yield* LiveState.readHistory(stateDir, "keycloak")).map((r) => r.detail)).toEqual([
        "run 1",
        "run 2",
        "run 4"
      ])
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.scopedLive("past 2000 lines the file is cut to the newest 1000, atomically", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const stateDir = yield* tempDir("warm-reconcile-state-")
      const dir = Path.join(stateDir, "keycloak")
      const file = Path.join(dir, "history.jsonl")
      yield* fs.makeDirectory(dir)
      const lines = Array.from({ length: LiveState.HISTORY_MAX_LINES }, (_, i) => JSON.stringify(run(i + 1)))
      yield* fs.writeFileString(file, `${lines.join("\n")}\n`)
      // Exactly at the limit: nothing is cut yet.
      expect((yield* LiveState.readHistory(stateDir, "keycloak")).length).toBe(2000)
      yield* withState(stateDir, (state) => state.recordRun(run(2001)))
      const history = yield* LiveState.readHistory(stateDir, "keycloak")
      expect(history.length).toBe(LiveState.HISTORY_KEEP_LINES)
      expect(history[0]!.detail).toBe("run 1002")
      expect(history.at(-1)!.detail).toBe("run 2001")
      expect(yield* listDir(dir)).toEqual(["history.jsonl"])
      expect(yield* modeOf(file)).toBe(0o600)
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.scopedLive("50 concurrent recordRun calls through one layer all land", () =>
    Effect.gen(function*() {
      const stateDir = yield* tempDir("warm-reconcile-state-")
      yield* withState(
        stateDir,
        (state) =>
          Effect.forEach(Array.from({ length: 50 }, (_, i) => i), (n) => state.recordRun(run(n)), {
            concurrency: "unbounded"
          })
      )
      const history = yield* LiveState.readHistory(stateDir, "keycloak")
      expect(history.map((r) => r.detail).sort()).toEqual(Array.from({ length: 50 }, (_, i) => `run ${i}`).sort())
    }).pipe(Effect.provide(NodeFileSystem.layer)))
})

describe("State refusals and errors", () => {
  it.scopedLive("refuses app names that leave the state directory", () =>
    Effect.gen(function*() {
      const root = yield* tempDir("warm-reconcile-state-")
      const stateDir = Path.join(root, "state")
      for (const app of ["..", "../x", "a/b", ""]) {
        const error = failure(yield* Effect.exit(withState(stateDir, (state) => state.setLastGood(app, "1.0.0"))))
        expect(error.message).toContain(`refusing the name ${JSON.stringify(app)}`)
      }
      expect(yield* listDir(root)).toEqual([])
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.scopedLive("refuses a symlinked state directory and a symlinked app directory", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const root = yield* tempDir("warm-reconcile-state-")
      const elsewhere = Path.join(root, "elsewhere")
      yield* fs.makeDirectory(elsewhere)
      const linked = Path.join(root, "state-link")
      yield* fs.symlink(elsewhere, linked)
      const error = failure(yield* Effect.exit(withState(linked, (state) => state.setLastGood("keycloak", "1.0.0"))))
      expect(error.message).toContain(`refusing ${linked}: it is a symbolic link (to ${elsewhere})`)
      const readError = failure(yield* Effect.exit(withState(linked, (state) => state.lastGood("keycloak"))))
      expect(readError.message).toContain("it is a symbolic link")

      const stateDir = Path.join(root, "state")
      yield* fs.makeDirectory(stateDir)
      yield* fs.symlink(elsewhere, Path.join(stateDir, "keycloak"))
      const appError = failure(
        yield* Effect.exit(withState(stateDir, (state) => state.recordRun(run(1))))
      )
      expect(appError.message).toContain(`refusing ${Path.join(stateDir, "keycloak")}: it is a symbolic link`)
      expect(yield* listDir(elsewhere)).toEqual([])
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.scopedLive("a state directory under a regular file fails and says what to do", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const root = yield* tempDir("warm-reconcile-state-")
      yield* fs.writeFileString(Path.join(root, "var"), "")
      const stateDir = Path.join(root, "var", "state")
      const error = failure(yield* Effect.exit(withState(stateDir, (state) => state.setLastGood("keycloak", "1.0.0"))))
      expect(error.message).toBe(
        `cannot inspect ${stateDir}: ENOTDIR: a part of the path is a file, not a directory: ` +
          "move it away or choose another state directory"
      )
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.scopedLive("permission denied (injected: the tests run as root) names the file and the fix", () =>
    Effect.gen(function*() {
      const stateDir = yield* tempDir("warm-reconcile-state-")
      const denied = Layer.effect(
        FileSystem.FileSystem,
        Effect.map(FileSystem.FileSystem, (fs): FileSystem.FileSystem => ({
          ...fs,
          open: (path, options) =>
            options?.flag === "wx"
              ? Effect.fail(
                new SystemError({
                  reason: "PermissionDenied",
                  module: "FileSystem",
                  method: "open",
                  pathOrDescriptor: path,
                  description: "EACCES: permission denied",
                  cause: Object.assign(new Error("EACCES: permission denied"), { code: "EACCES" })
                })
              )
              : fs.open(path, options)
        }))
      ).pipe(Layer.provide(NodeFileSystem.layer))
      const error = failure(
        yield* Effect.exit(
          withState(stateDir, (state) => state.setLastGood("keycloak", "1.0.0")).pipe(Effect.provide(denied))
        )
      )
      expect(error.message).toBe(
        `cannot write ${Path.join(stateDir, "keycloak", "last_good")}: EACCES: ` +
          "run as root or fix the state directory's owner and mode"
      )
    }).pipe(Effect.provide(NodeFileSystem.layer)))
})
