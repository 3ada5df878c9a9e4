/**
 * The JSON config file. A public interface: keys may be added, never renamed.
 * Decoding is pure; reading the file is the CLI's job.
 */
import { Duration, Either, Option, ParseResult, Schema } from "effect"
import { UpgradePolicy } from "./Policy.js"

/** An Effect duration string (`"15 minutes"`) or a number of seconds. */
export const DurationSetting = Schema.transformOrFail(
  Schema.Union(Schema.Number, Schema.String),
  Schema.DurationFromSelf,
  {
    strict: true,
    decode: (input, _, ast) => {
      if (typeof input === "number") {
        return Number.isFinite(input) && input >= 0
          ? ParseResult.succeed(Duration.seconds(input))
          : ParseResult.fail(new ParseResult.Type(ast, input, `expected a number of seconds >= 0, got ${input}`))
      }
      if (input.trim().startsWith("-")) {
        return ParseResult.fail(
          new ParseResult.Type(ast, input, `expected a duration >= 0, got ${JSON.stringify(input)}`)
        )
      }
      return Option.match(Duration.decodeUnknown(input.trim()), {
        onNone: () =>
          ParseResult.fail(
            new ParseResult.Type(
              ast,
              input,
              `expected a duration such as "90 seconds" or "15 minutes", got ${JSON.stringify(input)}`
            )
          ),
        onSome: ParseResult.succeed
      })
    },
    encode: (d) => ParseResult.succeed(Duration.toSeconds(d))
  }
).annotations({ identifier: "Duration", description: "an Effect duration string (\"15 minutes\") or seconds" })

/** App names become file names under the state directory: no `/`, no `..`, no leading dot. */
export const AppName = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/, {
    message: () => "an app name is letters, digits, '.', '_' or '-', starting with a letter or digit"
  }),
  Schema.filter((s) => !s.includes("..") || "an app name may not contain '..'"),
  Schema.brand("AppName")
).annotations({
  message: () => ({
    message: "an app name is letters, digits, '.', '_' or '-', starts with a letter or digit, and holds no '..' or '/'",
    override: true
  })
})
export type AppName = typeof AppName.Type

const Domain = Schema.String.pipe(
  Schema.pattern(/^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/, {
    message: () => "expected a domain name such as id.example.org"
  })
)

const HostPort = Schema.String.pipe(
  Schema.pattern(/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, {
    message: () => "expected host:port, e.g. 127.0.0.1:443"
  })
)

const HttpStatus = Schema.Int.pipe(Schema.between(100, 599))

export class HealthConfig extends Schema.Class<HealthConfig>("HealthConfig")({
  path: Schema.optionalWith(Schema.String.pipe(Schema.startsWith("/")), { default: () => "/" }),
  okStatus: Schema.optionalWith(Schema.NonEmptyArray(HttpStatus), { default: () => [200] as const }),
  connect: Schema.optionalWith(HostPort, { default: () => "127.0.0.1:443" }),
  url: Schema.optionalWith(Schema.NullOr(Schema.String.pipe(Schema.pattern(/^https?:\/\/\S+$/))), {
    default: () => null
  }),
  verifyTls: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  timeout: Schema.optionalWith(DurationSetting, { default: () => Duration.minutes(15) }),
  attemptTimeout: Schema.optionalWith(DurationSetting, { default: () => Duration.seconds(10) }),
  successes: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 100)), { default: () => 2 }),
  /** Pause between probes; short so that health is noticed within a second of appearing. */
  interval: Schema.optionalWith(DurationSetting, { default: () => Duration.millis(500) }),
  /** This many failed tasks of the new version's app service end the wait early (crash loop). */
  failedTasks: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 1000)), { default: () => 3 }),
  /** How long an app already on the latest version gets to answer before it is redeployed. */
  settle: Schema.optionalWith(DurationSetting, { default: () => Duration.seconds(60) })
}) {}

export class AppConfig extends Schema.Class<AppConfig>("AppConfig")({
  recipe: Schema.String.pipe(Schema.pattern(/^[a-z0-9][a-z0-9_-]*$/, { message: () => "expected a recipe name" })),
  domain: Domain,
  server: Schema.optionalWith(Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/)), {
    default: () => "default"
  }),
  /** Stateful apps are undeployed and their volumes snapshotted before an upgrade. Safe default. */
  stateful: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  upgrade: Schema.optionalWith(
    UpgradePolicy.annotations({
      message: (issue) => ({
        message: `expected one of "minor", "patch" or "none", got ${
          "actual" in issue ? JSON.stringify(issue.actual) : "something else"
        }`,
        // Without override the formatter reports only the first literal it tried.
        override: true
      })
    }),
    { default: () => "minor" as const }
  ),
  deployTimeout: Schema.optionalWith(DurationSetting, { default: () => Duration.minutes(15) }),
  health: Schema.optionalWith(HealthConfig, { default: () => HealthConfig.make({}) })
}) {}

export class Config extends Schema.Class<Config>("Config")({
  stateDir: Schema.optionalWith(Schema.String.pipe(Schema.startsWith("/")), {
    default: () => "/var/lib/warm-reconcile"
  }),
  abraDir: Schema.optional(Schema.String.pipe(Schema.startsWith("/"))),
  apps: Schema.Record({ key: AppName, value: AppConfig })
}) {}

/** One app as the services see it: its config, its name and its Docker stack name. */
export interface AppSpec extends AppConfig {
  readonly name: AppName
  readonly stack: string
}

/** Stack name as abra makes it: the domain with `.` replaced by `_`, cut to 45 characters. */
export const stackName = (domain: string): string => domain.replaceAll(".", "_").slice(0, 45)

export const appSpec = (name: AppName, config: AppConfig): AppSpec => ({
  ...config,
  name,
  stack: stackName(config.domain)
})

/** A decoding failure as one line that names the bad field's path. */
export class ConfigError extends Schema.TaggedError<ConfigError>()("ConfigError", {
  source: Schema.String,
  path: Schema.String,
  message: Schema.String
}) {}

const formatPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.length === 0
    ? "(top level)"
    : path.map((k, i) => typeof k === "number" ? `[${k}]` : `${i === 0 ? "" : "."}${String(k)}`).join("")

export const decodeConfig = (input: unknown, source = "config"): Either.Either<Config, ConfigError> =>
  Schema.decodeUnknownEither(Config, { errors: "first", onExcessProperty: "error" })(input).pipe(
    Either.mapLeft((error) => {
      const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
      const path = formatPath(issue?.path ?? [])
      const message = issue?.message ?? String(error)
      return new ConfigError({ source, path, message: `${source}: ${path}: ${message}` })
    })
  )

export const appSpecs = (config: Config): Array<AppSpec> =>
  Object.entries(config.apps).map(([name, app]) => appSpec(name as AppName, app))
