/**
 * The files of the outbox beside the alerts: success notices, one file each in
 * `<stateDir>/alerts/notices/<id>.json` (written atomically and never over another, as alerts are),
 * and each channel's latest failed delivery in `<stateDir>/alerts/deliveries/failures/<channel>.json`.
 * Neither is an alert: `alerts` does not list them and they need no `ack`.
 */
import { FileSystem } from "@effect/platform"
import { Effect, Either, Schema } from "effect"
import * as Path from "node:path"
import { baseId, Notice } from "../domain/Notice.js"
import type { ChannelFailure, NoticeEntry } from "../services/Notifier.js"
import { alertsDir } from "./Alerts.js"
import { ensureDir, readFileIfExists, removeFile, writeFileAtomic } from "./AtomicFile.js"
import { errorCode, type FileError, fileError } from "./FileChecks.js"

export const noticesDir = (stateDir: string) => Path.join(alertsDir(stateDir), "notices")
export const failuresDir = (stateDir: string) => Path.join(alertsDir(stateDir), "deliveries", "failures")

/** More notices than this of one kind and app in one second means something is looping. */
const MAX_SAME_SECOND = 1000

const decodeNotice = Schema.decodeUnknownEither(Schema.parseJson(Notice))
const encodeNotice = Schema.encodeSync(Notice)

const Failure = Schema.parseJson(Schema.Struct({
  channel: Schema.String,
  id: Schema.String,
  error: Schema.String,
  at: Schema.String
}))
const decodeFailure = Schema.decodeUnknownEither(Failure)

/** The `.json` files of a directory, sorted by name; none when it does not exist. */
const jsonFiles = (dir: string) =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.readDirectory(dir)).pipe(
    Effect.map((names) => names.filter((n) => n.endsWith(".json") && !n.startsWith(".")).sort()),
    Effect.catchIf((e) => errorCode(e) === "ENOENT", () => Effect.succeed([] as Array<string>)),
    Effect.mapError(fileError("read", dir))
  )

/** `<stem>-<n>` after `<stem>` (the n-th of one name in one second), by number: `-2` before `-10`. */
const sequenced = (id: string) => {
  const m = /^(.*)-(\d+)$/.exec(id)
  return m === null ? { stem: id, n: 1 } : { stem: m[1]!, n: Number(m[2]) }
}
const byTimeThenSequence = (a: string, b: string) => {
  const x = sequenced(a)
  const y = sequenced(b)
  return x.stem.localeCompare(y.stem) || x.n - y.n
}

/**
 * The notices waiting, oldest first (their names start with the time; within one second, in the
 * order written). One that does not decode
 * is logged and left alone: it is not delivered, and not lost either.
 */
export const listNotices = (stateDir: string) =>
  Effect.gen(function*() {
    const dir = noticesDir(stateDir)
    const names = (yield* jsonFiles(dir)).map((n) => n.slice(0, -".json".length)).sort(byTimeThenSequence)
    const entries = yield* Effect.forEach(names.map((id) => `${id}.json`), (name) =>
      Effect.gen(function*() {
        const text = yield* readFileIfExists(Path.join(dir, name))
        if (text === undefined) return []
        return yield* Either.match(decodeNotice(text), {
          onLeft: (e) => Effect.as(Effect.logWarning(`the notice ${name} in ${dir} does not read: ${e.message}`), []),
          onRight: (notice) => Effect.succeed([{ id: name.slice(0, -".json".length), notice }])
        })
      }))
    return entries.flat() as ReadonlyArray<NoticeEntry>
  })

/** Write a notice (as given: scrubbing is the caller's); two of one name get `-2`, `-3`. Answers its id. */
export const postNotice = (stateDir: string, notice: Notice, scrub: (json: unknown) => unknown) =>
  Effect.gen(function*() {
    const dir = noticesDir(stateDir)
    yield* ensureDir(dir)
    const content = JSON.stringify(scrub(encodeNotice(notice)), null, 2)
    const base = baseId(notice)
    for (let n = 1; n <= MAX_SAME_SECOND; n++) {
      const id = n === 1 ? base : `${base}-${n}`
      const written = yield* writeFileAtomic(Path.join(dir, `${id}.json`), content, { exclusive: true }).pipe(
        Effect.either
      )
      if (Either.isRight(written)) return id
      if (errorCode(written.left) !== "EEXIST") return yield* Effect.fail(written.left)
    }
    return yield* Effect.fail<FileError | { readonly message: string }>({
      message: `${MAX_SAME_SECOND} notices named ${base} exist already in ${dir}; remove them`
    })
  })

export const settleNotice = (stateDir: string, id: string) => removeFile(Path.join(noticesDir(stateDir), `${id}.json`))

export const writeFailure = (stateDir: string, failure: ChannelFailure) =>
  Effect.gen(function*() {
    const dir = failuresDir(stateDir)
    yield* ensureDir(dir)
    yield* writeFileAtomic(Path.join(dir, `${failure.channel}.json`), JSON.stringify(failure))
  })

/** Each channel's latest failure, by channel name; a record that does not read is skipped. */
export const readFailures = (stateDir: string) =>
  Effect.gen(function*() {
    const dir = failuresDir(stateDir)
    const names = yield* jsonFiles(dir)
    const read = yield* Effect.forEach(names, (name) =>
      Effect.map(readFileIfExists(Path.join(dir, name)), (text) =>
        text === undefined ? [] : Either.match(decodeFailure(text), { onLeft: () => [], onRight: (f) => [f] })))
    return new Map(
      read.flat().map((f) =>
        [f.channel, f] as const
      )
    ) as ReadonlyMap<string, ChannelFailure>
  })
