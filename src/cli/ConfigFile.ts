/** Finding, reading and decoding the config file, with errors an operator can act on. */
import { FileSystem } from "@effect/platform"
import { Data, Effect, Either, Option } from "effect"
import * as Os from "node:os"
import * as Path from "node:path"
import {
  type AppName,
  type AppSpec,
  appSpec,
  appSpecs,
  type Config,
  ConfigError,
  decodeConfig
} from "../domain/Config.js"

export const DEFAULT_CONFIG = "/etc/warm-reconcile/config.json"

export interface LoadedConfig {
  readonly path: string
  readonly config: Config
  /** `abraDir` from the config, else $ABRA_DIR, else ~/.abra. */
  readonly abraDir: string
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
      return yield* new ConfigError({
        source: path,
        path: "",
        message: `${path}: not valid JSON: ${e instanceof Error ? e.message : String(e)}`
      })
    }
    const config = yield* Either.match(decodeConfig(json, path), { onLeft: Effect.fail, onRight: Effect.succeed })
    const abraDir = config.abraDir ?? process.env["ABRA_DIR"] ?? Path.join(Os.homedir(), ".abra")
    return { path, config, abraDir } satisfies LoadedConfig
  })

/** The named app, or a config error listing the apps that are configured. */
export const findApp = (loaded: LoadedConfig, name: string): Effect.Effect<AppSpec, ConfigError> => {
  const app = loaded.config.apps[name as AppName]
  if (app !== undefined) return Effect.succeed(appSpec(name as AppName, app))
  const known = Object.keys(loaded.config.apps)
  return Effect.fail(
    new ConfigError({
      source: loaded.path,
      path: `apps.${name}`,
      message: `no app "${name}" in ${loaded.path}; configured: ${known.length ? known.join(", ") : "none"}`
    })
  )
}

/** Every configured app, in the config's order. */
export const allApps = (loaded: LoadedConfig): Array<AppSpec> => appSpecs(loaded.config)

/** The command line's words do not fit together (exit 2). */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}
