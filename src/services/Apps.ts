/**
 * Apps: what abra knows and does for one app: its server, its env file (pinned version, declared
 * secrets), `app new`, deploy, undeploy and secret generation.
 */
import type { Effect, Option } from "effect"
import { Context, Schema } from "effect"
import type { AppSpec } from "../domain/Config.js"
import type { FoundApp } from "../domain/Discovery.js"

export class AbraError extends Schema.TaggedError<AbraError>()("AbraError", {
  app: Schema.String,
  operation: Schema.String,
  message: Schema.String,
  /** The tail of the failing command's stderr, when a command failed. */
  stderr: Schema.optional(Schema.String)
}) {}

/** What the env file says about the app. */
export interface AppEnv {
  /** The version pinned by `TYPE=<recipe>:<version>` or `RECIPE=<recipe>:<version>`. */
  readonly pinned: Option.Option<string>
  /** Secrets declared by `SECRET_<NAME>_VERSION=<v>`, as `<name>_<v>` (lower case). */
  readonly secrets: ReadonlyArray<string>
}

/** What the env file says about how the app is run beside the people who run the server. */
export interface EnvSettings {
  /** The recipe named by `TYPE=` or `RECIPE=` (none: the file names none). */
  readonly recipe: Option.Option<string>
  /** `ENABLE_AUTO_UPDATE=true`: the operator opted the app in to automatic upgrades (kadabra's convention). */
  readonly autoUpdate: boolean
}

export class Apps extends Context.Tag("warm-reconcile/Apps")<Apps, {
  /**
   * Make sure abra knows the server (a local one is added when missing, unless `add` is false:
   * then only looked up).
   */
  readonly ensureServer: (server: string, add?: boolean) => Effect.Effect<void, AbraError>
  /** The env file, or none when the app has never been created. */
  readonly readEnv: (app: AppSpec) => Effect.Effect<Option.Option<AppEnv>, AbraError>
  /** The env file's settings, or none when there is no env file. */
  readonly readSettings: (app: AppSpec) => Effect.Effect<Option.Option<EnvSettings>, AbraError>
  /** Where the app's env file is (or would be): `<abraDir>/servers/<server>/<domain>.env`. */
  readonly envPath: (app: AppSpec) => string
  /** The domains abra knows on a server: its env files' names (none when the server has no directory). */
  readonly domains: (server: string) => Effect.Effect<ReadonlyArray<string>, AbraError>
  /** The servers abra has a directory for under `<abraDir>/servers/` (none when it has none). */
  readonly servers: () => Effect.Effect<ReadonlyArray<string>, AbraError>
  /** Every app of a server, from its env file (discovery): recipe and opt-in, by domain. */
  readonly found: (server: string) => Effect.Effect<ReadonlyArray<FoundApp>, AbraError>
  /** `abra app new` at a version, then set DOMAIN and LETS_ENCRYPT_ENV as the original did. */
  readonly create: (app: AppSpec, version: string) => Effect.Effect<void, AbraError>
  /** Deploy (or redeploy) a published version; abra pins it into the env file. */
  readonly deploy: (app: AppSpec, version: string) => Effect.Effect<void, AbraError>
  /** Remove the stack; volumes and secrets survive. */
  readonly undeploy: (app: AppSpec) => Effect.Effect<void, AbraError>
  /** Generate every secret the recipe declares. */
  readonly generateSecrets: (app: AppSpec) => Effect.Effect<void, AbraError>
}>() {}
