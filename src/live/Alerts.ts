/**
 * Live Alerts: one JSON file per alert under `<stateDir>/alerts/`, named and shaped as the Python
 * original wrote them (`<ts>-<app>-<reason>.json` holding `{app, reason, ts, ...fields}`), plus
 * `schemaVersion`. Whatever relays alerts to a person reads that directory; `list` and `ack` back
 * the `alerts` command, and read the original's files too.
 */
import { FileSystem } from "@effect/platform"
import { Effect, Either, Layer, Schema } from "effect"
import * as Path from "node:path"
import { Alert, ALERT_SCHEMA_VERSION, toJson } from "../domain/Alert.js"
import { AlertError, Alerts } from "../services/Alerts.js"
import { ensureDir, readFileIfExists, writeFileAtomic } from "./AtomicFile.js"
import { errorCode, type FileError, fileError, refuseSymlinkDir, safeJoin, syncDir } from "./FileChecks.js"

export interface Options {
  readonly stateDir: string
}

/** An alert file as `list` found it; a file it cannot decode is listed, not hidden. */
export type ListedAlert =
  | { readonly _tag: "Alert"; readonly id: string; readonly path: string; readonly alert: Alert }
  | { readonly _tag: "Unreadable"; readonly id: string; readonly path: string; readonly problem: string }

export const alertsDir = (stateDir: string) => Path.join(stateDir, "alerts")
export const acknowledgedDir = (stateDir: string) => Path.join(stateDir, "alerts", "acknowledged")

/** More alerts than this for one app, reason and second means something is looping. */
const MAX_SAME_SECOND = 1000

const toAlertError = (what: string) => (e: FileError) => new AlertError({ message: `${what}: ${e.message}` })

/** The directories on the way, none of them a symbolic link; created (0700) when `create`. */
const directories = (dirs: ReadonlyArray<string>, create: boolean) =>
  Effect.forEach(dirs, (dir) => refuseSymlinkDir(dir).pipe(Effect.zipRight(create ? ensureDir(dir) : Effect.void)), {
    discard: true
  })

/** Write one alert; two in the same second get `-2`, `-3` rather than overwriting the first. */
export const write = Effect.fn("Alerts.write")(function*(stateDir: string, alert: Alert) {
  const fs = yield* FileSystem.FileSystem
  const what = `could not write the ${alert.reason} alert for ${alert.app}`
  const dir = alertsDir(stateDir)
  yield* directories([stateDir, dir], true).pipe(Effect.mapError(toAlertError(what)))
  // The app name on its own must be a plain name, not only the whole file name.
  yield* safeJoin(dir, alert.app).pipe(Effect.mapError(toAlertError(what)))
  const content = yield* Effect.try({
    try: () => JSON.stringify(toJson(alert), null, 2),
    catch: (e) => new AlertError({ message: `${what}: its fields are not JSON (${String(e)}); this is a bug` })
  })
  const base = `${alert.ts}-${alert.app}-${alert.reason}`
  for (let n = 1; n <= MAX_SAME_SECOND; n++) {
    const name = n === 1 ? `${base}.json` : `${base}-${n}.json`
    const path = yield* safeJoin(dir, name).pipe(Effect.mapError(toAlertError(what)))
    // Skip taken names without paying for a temp file and fsync; the exclusive link still
    // settles a race. An acknowledged alert of the same name must not be shadowed either.
    const taken = yield* Effect.exists(
      [path, Path.join(acknowledgedDir(stateDir), name)],
      (p) => fs.exists(p).pipe(Effect.orElseSucceed(() => false))
    )
    if (taken) continue
    const written = yield* writeFileAtomic(path, content, { exclusive: true }).pipe(Effect.either)
    if (Either.isRight(written)) return path
    if (errorCode(written.left) !== "EEXIST") return yield* toAlertError(what)(written.left)
  }
  return yield* new AlertError({
    message: `${what}: ${MAX_SAME_SECOND} alerts named ${base} exist already; ` +
      `look into ${dir} and acknowledge or remove them`
  })
})

const AlertJson = Schema.parseJson(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
const decodeJson = Schema.decodeUnknownEither(AlertJson)
const decodeAlert = Schema.decodeUnknownEither(Alert)

/** Our files and the original's (no `schemaVersion`: version 1 is the original's shape). */
export const decode = (text: string): Either.Either<Alert, string> =>
  Either.flatMap(Either.mapLeft(decodeJson(text), (e) => `not a JSON object: ${e.message}`), (json) => {
    const { app, reason, schemaVersion = ALERT_SCHEMA_VERSION, ts, ...fields } = json
    if (schemaVersion !== ALERT_SCHEMA_VERSION) {
      return Either.left(
        `schemaVersion ${
          JSON.stringify(schemaVersion)
        } is not ${ALERT_SCHEMA_VERSION}: written by a newer warm-reconcile`
      )
    }
    return Either.mapLeft(decodeAlert({ schemaVersion, app, reason, ts, fields }), (e) => e.message)
  })

/** `-2` in `<base>-2` (a same-second alert written after `<base>`); 1 for `<base>` itself. */
const sequence = (id: string, alert: Alert): number => {
  const base = `${alert.ts}-${alert.app}-${alert.reason}`
  if (id === base) return 1
  const match = id.startsWith(`${base}-`) ? /^\d+$/.exec(id.slice(base.length + 1)) : null
  return match === null ? 0 : Number(match[0])
}

const newestFirst = (a: ListedAlert, b: ListedAlert): number => {
  // The name starts with the same `yyyymmddThhmmssZ` the alert holds: fixed width, so text order is time order.
  const ts = (x: ListedAlert) => x._tag === "Alert" ? x.alert.ts : x.id.slice(0, 16)
  const seq = (x: ListedAlert) => x._tag === "Alert" ? sequence(x.id, x.alert) : 0
  return ts(b).localeCompare(ts(a)) || seq(b) - seq(a) || b.id.localeCompare(a.id)
}

/** The alerts waiting for a person (or, with `acknowledged`, those already seen), newest first. */
export const list = Effect.fn("Alerts.list")(function*(
  stateDir: string,
  options: { readonly acknowledged?: boolean } = {}
) {
  const fs = yield* FileSystem.FileSystem
  const what = `could not list the alerts in ${alertsDir(stateDir)}`
  const dir = options.acknowledged === true ? acknowledgedDir(stateDir) : alertsDir(stateDir)
  yield* directories([stateDir, alertsDir(stateDir), dir], false).pipe(Effect.mapError(toAlertError(what)))
  const names = yield* fs.readDirectory(dir).pipe(
    Effect.catchIf((e) => errorCode(e) === "ENOENT", () => Effect.succeed([] as Array<string>)),
    Effect.mapError((e) => toAlertError(what)(fileError("read", dir)(e)))
  )
  // Hidden names are temp files (ours start with '.'); the original's temp files end in `.tmp`.
  const files = names.filter((name) => name.endsWith(".json") && !name.startsWith(".")).sort()
  const listed = yield* Effect.forEach(files, (name) => {
    const path = Path.join(dir, name)
    const id = name.slice(0, -".json".length)
    return readFileIfExists(path).pipe(
      Effect.map((text): ListedAlert | undefined => {
        // Acknowledged by someone else since the directory was read.
        if (text === undefined) return undefined
        return Either.match(decode(text), {
          onLeft: (problem) => ({ _tag: "Unreadable", id, path, problem }),
          onRight: (alert) => ({ _tag: "Alert", id, path, alert })
        })
      }),
      Effect.catchAll((e) => Effect.succeed<ListedAlert>({ _tag: "Unreadable", id, path, problem: e.message }))
    )
  })
  return listed.filter((x): x is ListedAlert => x !== undefined).sort(newestFirst)
})

/** Move one alert (by id: its file name without `.json`) into `alerts/acknowledged/`. */
export const ack = Effect.fn("Alerts.ack")(function*(stateDir: string, id: string) {
  const fs = yield* FileSystem.FileSystem
  const what = `could not acknowledge the alert ${JSON.stringify(id)}`
  const name = `${id.endsWith(".json") ? id.slice(0, -".json".length) : id}.json`
  const from = yield* safeJoin(alertsDir(stateDir), name).pipe(Effect.mapError(toAlertError(what)))
  const to = yield* safeJoin(acknowledgedDir(stateDir), name).pipe(Effect.mapError(toAlertError(what)))
  yield* directories([stateDir, alertsDir(stateDir)], false).pipe(Effect.mapError(toAlertError(what)))
  const present = yield* fs.exists(from).pipe(Effect.mapError((e) => toAlertError(what)(fileError("read", from)(e))))
  if (!present) {
    return yield* new AlertError({
      message: `${what}: there is no ${from}; list the alerts to see their ids`
    })
  }
  yield* directories([acknowledgedDir(stateDir)], true).pipe(Effect.mapError(toAlertError(what)))
  // rename would silently replace an earlier acknowledged alert of the same name.
  if (yield* fs.exists(to).pipe(Effect.orElseSucceed(() => false))) {
    return yield* new AlertError({
      message: `${what}: ${to} exists already; move or remove it, then acknowledge again`
    })
  }
  yield* fs.rename(from, to).pipe(
    Effect.mapError((e) => toAlertError(what)(fileError("rename", from)(e)))
  )
  yield* Effect.zipRight(syncDir(acknowledgedDir(stateDir)), syncDir(alertsDir(stateDir))).pipe(
    Effect.mapError(toAlertError(what))
  )
  return to
})

export const make = (options: Options) =>
  Effect.gen(function*() {
    const context = yield* Effect.context<FileSystem.FileSystem>()
    return Alerts.of({ write: (alert) => write(options.stateDir, alert).pipe(Effect.provide(context)) })
  })

/** Alerts as files under `<stateDir>/alerts/`; needs a `FileSystem` (NodeContext in the CLI). */
export const layer = (options: Options): Layer.Layer<Alerts, never, FileSystem.FileSystem> =>
  Layer.effect(Alerts, make(options))
