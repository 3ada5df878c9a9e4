/**
 * Live State: files under `<stateDir>/<app>/`, laid out as the Python original's snapshot helper
 * did, so a state directory it wrote is read as is:
 * - `last_good`: the version as plain text (the original wrote no newline; reading trims);
 * - `hold.json`: the hold already alerted (ours only);
 * - `history.jsonl`: one RunRecord per line, appended and kept bounded (ours only).
 * Files are 0600 and new directories 0700.
 */
import { FileSystem } from "@effect/platform"
import { Effect, Either, Layer, Option, Schema } from "effect"
import * as Path from "node:path"
import { innermostIssue } from "../domain/Text.js"
import { VersionFromTag } from "../domain/Version.js"
import {
  HoldRecord,
  InFlight,
  RunRecord,
  State,
  StateError,
  type StateRecord,
  StateUnreadable,
  unreadableMessage
} from "../services/State.js"
import { appendLine, ensureDir, readFileIfExists, removeFile, writeFileAtomic } from "./AtomicFile.js"
import { type FileError, fileError, refuseSymlinkDir, safeJoin } from "./FileChecks.js"

export interface Options {
  readonly stateDir: string
}

/** Past this many lines the history is cut to the newest `HISTORY_KEEP_LINES`. */
export const HISTORY_MAX_LINES = 2000
export const HISTORY_KEEP_LINES = 1000

const toStateError = (e: FileError) => new StateError({ message: e.message })

/** `<stateDir>/<app>`, refusing an app name that is not a plain name and symlinked directories. */
const appDir = (stateDir: string, app: string, create: boolean) =>
  Effect.gen(function*() {
    const dir = yield* safeJoin(stateDir, app)
    for (const d of [stateDir, dir]) {
      yield* refuseSymlinkDir(d)
      if (create) yield* ensureDir(d)
    }
    return dir
  }).pipe(Effect.mapError(toStateError))

const file = (stateDir: string, app: string, name: string, create: boolean) =>
  Effect.map(appDir(stateDir, app, create), (dir) => Path.join(dir, name))

const unreadable = (app: string, record: StateRecord, path: string, why: string) =>
  new StateUnreadable({ app, record, path, message: unreadableMessage(app, record, path, why) })

const decodeVersion = Schema.decodeUnknownEither(VersionFromTag)

export const lastGood = Effect.fn("State.lastGood")(function*(stateDir: string, app: string) {
  const path = yield* file(stateDir, app, "last_good", false)
  const text = yield* readFileIfExists(path).pipe(Effect.mapError(toStateError))
  // As the original: surrounding whitespace is not part of the version, an empty file is none.
  const version = (text ?? "").trim()
  if (version === "") return Option.none<string>()
  // Anything but one version tag was not written by us or the original: a person must look.
  if (Either.isLeft(decodeVersion(version))) {
    return yield* unreadable(app, "last-good", path, `not a version tag: ${JSON.stringify(version.slice(0, 80))}`)
  }
  return Option.some(version)
})

export const setLastGood = Effect.fn("State.setLastGood")(function*(stateDir: string, app: string, version: string) {
  if (version === "" || /\s/.test(version)) {
    return yield* new StateError({
      message: `refusing to record ${JSON.stringify(version)} as the last good version of ${app}: ` +
        "a version is one word; this is a bug in the caller"
    })
  }
  const path = yield* file(stateDir, app, "last_good", true)
  // No newline, byte for byte what the original wrote.
  yield* writeFileAtomic(path, version).pipe(Effect.mapError(toStateError))
})

const decodeHold = Schema.decodeUnknownEither(Schema.parseJson(HoldRecord))
const encodeHold = Schema.encodeSync(HoldRecord)

export const hold = Effect.fn("State.hold")(function*(stateDir: string, app: string) {
  const path = yield* file(stateDir, app, "hold.json", false)
  const text = yield* readFileIfExists(path).pipe(Effect.mapError(toStateError))
  if (text === undefined) return Option.none<HoldRecord>()
  return yield* Either.match(decodeHold(text), {
    onLeft: (e) => unreadable(app, "hold", path, innermostIssue(e.message)),
    onRight: (h) => Effect.succeed(Option.some(h))
  })
})

export const setHold = Effect.fn("State.setHold")(function*(
  stateDir: string,
  app: string,
  record: Option.Option<HoldRecord>
) {
  if (Option.isNone(record)) {
    const path = yield* file(stateDir, app, "hold.json", false)
    return yield* removeFile(path).pipe(Effect.mapError(toStateError))
  }
  const path = yield* file(stateDir, app, "hold.json", true)
  yield* writeFileAtomic(path, `${JSON.stringify(encodeHold(record.value), null, 2)}\n`).pipe(
    Effect.mapError(toStateError)
  )
})

const decodeInFlight = Schema.decodeUnknownEither(Schema.parseJson(InFlight))
const encodeInFlight = Schema.encodeSync(InFlight)

/** `<stateDir>/<app>/in-flight.json`: an upgrade under way (see the contract). */
export const inFlight = Effect.fn("State.inFlight")(function*(stateDir: string, app: string) {
  const path = yield* file(stateDir, app, "in-flight.json", false)
  const text = yield* readFileIfExists(path).pipe(Effect.mapError(toStateError))
  if (text === undefined) return Option.none<InFlight>()
  return yield* Either.match(decodeInFlight(text), {
    onLeft: (e) => unreadable(app, "in-flight", path, innermostIssue(e.message)),
    onRight: (r) => Effect.succeed(Option.some(r))
  })
})

export const setInFlight = Effect.fn("State.setInFlight")(function*(
  stateDir: string,
  app: string,
  record: Option.Option<InFlight>
) {
  if (Option.isNone(record)) {
    const path = yield* file(stateDir, app, "in-flight.json", false)
    return yield* removeFile(path).pipe(Effect.mapError(toStateError))
  }
  const path = yield* file(stateDir, app, "in-flight.json", true)
  yield* writeFileAtomic(path, `${JSON.stringify(encodeInFlight(record.value), null, 2)}\n`).pipe(
    Effect.mapError(toStateError)
  )
})

const encodeRun = Schema.encodeSync(RunRecord)
const decodeRun = Schema.decodeUnknownOption(Schema.parseJson(RunRecord))

/**
 * Append one run (O_APPEND, fsync) and cut the file to the newest lines once it is too long.
 * Callers in one process must not run two at once for the same app (the layer serialises them):
 * a line appended while the cut rewrites the file would be lost.
 */
export const recordRun = Effect.fn("State.recordRun")(function*(stateDir: string, run: RunRecord) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* file(stateDir, run.app, "history.jsonl", true)
  yield* appendLine(path, JSON.stringify(encodeRun(run))).pipe(Effect.mapError(toStateError))
  const text = yield* fs.readFileString(path).pipe(Effect.mapError((e) => toStateError(fileError("read", path)(e))))
  const lines = text.split("\n").filter((line) => line !== "")
  if (lines.length > HISTORY_MAX_LINES) {
    yield* writeFileAtomic(path, `${lines.slice(-HISTORY_KEEP_LINES).join("\n")}\n`).pipe(
      Effect.mapError(toStateError)
    )
  }
})

/** The recorded runs of an app, oldest first; lines that do not decode (a torn last line) are skipped. */
export const readHistory = Effect.fn("State.readHistory")(function*(stateDir: string, app: string) {
  const path = yield* file(stateDir, app, "history.jsonl", false)
  const text = yield* readFileIfExists(path).pipe(Effect.mapError(toStateError))
  return (text ?? "").split("\n").flatMap((line) => Option.toArray(decodeRun(line)))
})

/** State as files under `stateDir`; needs a `FileSystem` (NodeContext in the CLI). */
export const layer = (options: Options): Layer.Layer<State, never, FileSystem.FileSystem> =>
  Layer.effect(
    State,
    Effect.gen(function*() {
      const context = yield* Effect.context<FileSystem.FileSystem>()
      const historyLock = yield* Effect.makeSemaphore(1)
      const { stateDir } = options
      return State.of({
        lastGood: (app) => lastGood(stateDir, app).pipe(Effect.provide(context)),
        setLastGood: (app, version) => setLastGood(stateDir, app, version).pipe(Effect.provide(context)),
        hold: (app) => hold(stateDir, app).pipe(Effect.provide(context)),
        setHold: (app, record) => setHold(stateDir, app, record).pipe(Effect.provide(context)),
        recordRun: (run) => historyLock.withPermits(1)(recordRun(stateDir, run)).pipe(Effect.provide(context)),
        inFlight: (app) => inFlight(stateDir, app).pipe(Effect.provide(context)),
        setInFlight: (app, record) => setInFlight(stateDir, app, record).pipe(Effect.provide(context))
      })
    })
  )
