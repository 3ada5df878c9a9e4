/**
 * The apps a command works on: the listed ones, and with `discover` the ones abra knows whose env
 * file opts in (read through the Apps service, live). Discovery off: the config alone, no file read.
 */
import { NodeContext } from "@effect/platform-node"
import { Effect, Either } from "effect"
import type { AppSpec } from "../domain/Config.js"
import { discovers, discoveryOn, type Managed, managedApps } from "../domain/Discovery.js"
import * as LiveApps from "../live/Apps.js"
import * as LiveProcessRunner from "../live/ProcessRunner.js"
import { Apps } from "../services/Apps.js"
import * as ConfigFile from "./ConfigFile.js"

/** Every managed app; what discovery could not read is a problem line, never the end of the listed apps. */
export const managed = (loaded: ConfigFile.LoadedConfig): Effect.Effect<Managed, never, Apps> =>
  !discoveryOn(loaded.config)
    ? Effect.succeed(managedApps(loaded.config, []))
    : Effect.gen(function*() {
      const apps = yield* Apps
      const servers = (yield* apps.servers()).filter((server) => discovers(loaded.config, server))
      return managedApps(loaded.config, (yield* Effect.forEach(servers, apps.found)).flat())
    }).pipe(
      Effect.catchAll((e) =>
        Effect.succeed({
          ...managedApps(loaded.config, []),
          problems: [`discovery: ${e.message}`]
        })
      )
    )

/** {@link managed} on the live Apps layer (abra's directory on this machine). */
export const managedLive = (loaded: ConfigFile.LoadedConfig): Effect.Effect<Managed> =>
  managed(loaded).pipe(
    Effect.provide(LiveApps.layer({ abraDir: loaded.abraDir })),
    Effect.provide(LiveProcessRunner.layer),
    Effect.provide(NodeContext.layer)
  )

/** The named app: a listed one, else (with discovery) an opted-in one, else the config error naming the apps. */
export const findManaged = (loaded: ConfigFile.LoadedConfig, name: string) =>
  Effect.gen(function*() {
    const listed = yield* Effect.either(ConfigFile.findApp(loaded, name))
    if (Either.isRight(listed) || !discoveryOn(loaded.config)) return yield* listed
    const found = (yield* managedLive(loaded)).apps.find((a) => a.name === name)
    return found === undefined ? yield* listed.left : found satisfies AppSpec
  })
