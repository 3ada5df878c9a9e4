/** Finding, reading and decoding the config file, with errors an operator can act on. */
import { FileSystem } from "@effect/platform"
import { Data, Effect, Either, Option } from "effect"
import * as Os from "node:os"
import * as Path from "node:path"
import {
  type AppName,
  type AppSpec,
  appSpecs,
  type Config,
  ConfigError,
  configuredApp,
  decodeConfig,
  oneLine
} from "../domain/Config.js"
import { closest } from "../domain/Suggest.js"
import { refuseLooseOwnership, refuseSymlinkDir } from "../live/FileChecks.js"

export const DEFAULT_CONFIG = "/etc/warm-reconcile/config.json"

export interface LoadedConfig {
  readonly path: string
  readonly config: Config
  /** `abraDir` from the config, else $ABRA_DIR, else ~/.abra. */
  readonly abraDir: string
}

/** Where V8's "at position N" is, as an editor shows it: ` (line L, column C)`; empty when it says no position. */
export const lineAndColumn = (text: string, reason: string): string => {
  const at = /at position (\d+)/.exec(reason)
  if (at === null || /\bline \d+/.test(reason)) return ""
  const lines = text.slice(0, Number(at[1])).split("\n")
  return ` (line ${lines.length}, column ${lines.at(-1)!.length + 1})`
}

export const load = (flag: Option.Option<string>) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = Option.getOrElse(flag, () => DEFAULT_CONFIG)
    const text = yield* fs.readFileString(path).pipe(
      Effect.mapError((e) =>
        new ConfigError({
          source: path,
          path: "",
          message: e._tag === "SystemError" && e.reason === "NotFound"
            ? `no config file at ${path}${Option.isNone(flag) ? " (the default; pass --config FILE)" : ""}`
            : `cannot read the config file ${path}: ${e.message}`
        })
      )
    )
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e)
      return yield* new ConfigError({
        source: path,
        path: "",
        // V8 quotes the text around the error as is: newlines and NUL bytes included.
        message: `${path}: not valid JSON: ${oneLine(reason)}${lineAndColumn(text, reason)}`
      })
    }
    const config = yield* Either.match(decodeConfig(json, path), { onLeft: Effect.fail, onRight: Effect.succeed })
    // Refused here, before the lock or a run writes through a link planted there (exit 2, nothing written).
    for (const dir of [config.stateDir, Path.join(config.stateDir, "alerts")]) {
      yield* refuseSymlinkDir(dir).pipe(
        // Anything else (missing, unreadable) is left to the run, which reports it as before.
        Effect.catchIf((e) => e.code !== "ELOOP", () => Effect.void),
        Effect.mapError((e) =>
          new ConfigError({ source: path, path: "stateDir", message: `${path}: stateDir: ${e.message}` })
        )
      )
    }
    // Root runs what the config says and restores what the state tree holds (issue 18 item 10).
    yield* refuseLooseOwnership(path).pipe(
      Effect.mapError((e) => new ConfigError({ source: path, path: "", message: e.message }))
    )
    yield* refuseLooseOwnership(config.stateDir).pipe(
      Effect.mapError((e) =>
        new ConfigError({ source: path, path: "stateDir", message: `${path}: stateDir: ${e.message}` })
      )
    )
    const abraDir = config.abraDir ?? process.env["ABRA_DIR"] ?? Path.join(Os.homedir(), ".abra")
    return { path, config, abraDir } satisfies LoadedConfig
  })

/**
 * abra's directory must be one (it has `servers/`): a wrong `abraDir` would otherwise have abra add
 * a server and create apps beside the real ones. Checked before anything is fetched or written.
 */
export const requireAbraDir = (loaded: LoadedConfig) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const servers = Path.join(loaded.abraDir, "servers")
    const stat = yield* fs.stat(servers).pipe(Effect.either)
    // Not allowed to look is a setup problem (bin.ts: exit 1, run as root), not a wrong abraDir.
    if (Either.isLeft(stat) && stat.left._tag === "SystemError" && stat.left.reason === "PermissionDenied") {
      return yield* new ConfigError({
        source: loaded.path,
        path: "abraDir",
        message: `${loaded.path}: abraDir: cannot look into ${servers}: ${stat.left.message}`
      })
    }
    const info = Either.getRight(stat)
    if (Option.isSome(info) && info.value.type === "Directory") return
    const from = loaded.config.abraDir !== undefined ? "abraDir" : process.env["ABRA_DIR"] ? "$ABRA_DIR" : "~/.abra"
    return yield* new ConfigError({
      source: loaded.path,
      path: "abraDir",
      message: `${loaded.path}: abraDir: ${loaded.abraDir} (${from}) is not an abra directory: it has no servers/; ` +
        "set abraDir to the directory abra uses (ABRA_DIR, ~/.abra of the user who runs abra), or add a server " +
        "with `abra server add` first"
    })
  })

/** The named app, or a config error listing the apps that are configured. */
export const findApp = (loaded: LoadedConfig, name: string): Effect.Effect<AppSpec, ConfigError> => {
  // Own keys only: `toString` or `constructor` is not an app just because every object has one.
  if (Object.hasOwn(loaded.config.apps, name)) {
    return Effect.succeed(configuredApp(loaded.config, name as AppName))
  }
  const known = Object.keys(loaded.config.apps)
  return Effect.fail(
    new ConfigError({
      source: loaded.path,
      path: `apps.${name}`,
      message: `no app ${oneLine(JSON.stringify(name))} in ${loaded.path}; ` +
        Option.match(closest(name, known), {
          onNone: () => "",
          onSome: (near) => `did you mean ${near}? `
        }) + `configured: ${known.length ? known.join(", ") : "none"}`
    })
  )
}

/** Every configured app, in the config's order. */
export const allApps = (loaded: LoadedConfig): Array<AppSpec> => appSpecs(loaded.config)

/** The command line's words do not fit together (exit 2). */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}
