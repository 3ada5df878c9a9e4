// Over 300 lines: the one Schema of the config file, a block per feature kept apart so parallel changes merge, and its decoding.
/**
 * The JSON config file. A public interface: keys may be added, never renamed.
 * Decoding is pure; reading the file is the CLI's job.
 */
import { Duration, Either, Option, ParseResult, Schema } from "effect"
import * as Inherit from "./Inherit.js"
import { NotifyList } from "./Notify.js"
import { UpgradePolicy } from "./Policy.js"
import { SnapshotConfig } from "./SnapshotConfig.js"
import { closest } from "./Suggest.js"
import { escapeControls } from "./Text.js"
import { WindowSetting } from "./Window.js"

const SHORT_UNITS: Readonly<Record<string, number>> = {
  // Days as systemd writes them (`2d`); the NixOS module takes the same forms.
  d: 86_400_000,
  h: 3_600_000,
  m: 60_000,
  s: 1000,
  ms: 1,
  us: 0.001,
  ns: 0.000001
}

/** The short forms systemd and Go write (`2d`, `15m`, `1h30m`, `90s`, `500ms`): numbers with units, summed. */
export const shortDuration = (text: string): Option.Option<Duration.Duration> => {
  if (!/^(\d+(\.\d+)?(d|h|ms|m|s|us|ns))+$/.test(text)) return Option.none()
  let millis = 0
  for (const [, n, unit] of text.matchAll(/(\d+(?:\.\d+)?)(d|h|ms|m|s|us|ns)/g)) {
    millis += Number(n) * SHORT_UNITS[unit!]!
  }
  return Option.some(Duration.millis(millis))
}

/** An Effect duration string (`"15 minutes"`), a short form (`"15m"`, `"1h30m"`) or a number of seconds. */
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
      return Option.match(Option.orElse(Duration.decodeUnknown(input.trim()), () => shortDuration(input.trim())), {
        onNone: () =>
          ParseResult.fail(
            new ParseResult.Type(
              ast,
              input,
              `expected a duration such as "90 seconds", "15 minutes", "3 days", "90s" or "1h30m", got ${
                JSON.stringify(input)
              }`
            )
          ),
        onSome: ParseResult.succeed
      })
    },
    encode: (d) => ParseResult.succeed(Duration.toSeconds(d))
  }
).annotations({
  identifier: "Duration",
  description: "an Effect duration string (\"15 minutes\"), a short form (\"15m\", \"1h30m\") or seconds"
})

/** A value as a message shows it. Never throws: JSON.stringify does on a BigInt or a cycle, which decodeConfig(unknown) may get. */
const show = (value: unknown): string => {
  try {
    return JSON.stringify(value) ?? typeof value
  } catch {
    return typeof value
  }
}

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

/** `localhost`, 127.0.0.0/8 and ::1: a probe that never leaves the host. */
export const isLoopbackHost = (host: string): boolean => {
  const bare = host.replace(/^\[(.*)\]$/, "$1").toLowerCase()
  return bare === "localhost" || bare === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare)
}

/** Whether the probe checks the certificate: as configured, else only for a target off this host. */
export const verifiesTls = (health: Pick<HealthConfig, "verifyTls" | "url" | "connect">): boolean => {
  if (health.verifyTls !== null) return health.verifyTls
  const host = health.url === null ? health.connect.slice(0, health.connect.lastIndexOf(":")) : urlHost(health.url)
  return !isLoopbackHost(host)
}

const urlHost = (url: string): string => {
  try {
    return new URL(url).hostname
  } catch {
    // Not a URL the probe could fetch either: verify, the safe side.
    return ""
  }
}

export class HealthConfig extends Schema.Class<HealthConfig>("HealthConfig")({
  http: Schema.optionalWith(Schema.Boolean, { default: () => true }).annotations({
    description: "Probe the app over HTTP. `false` for an app without an HTTP endpoint (a mail server, a bot): " +
      "the gate is then Swarm's convergence on the release and the containers' own healthchecks alone."
  }),
  path: Schema.optionalWith(Schema.String.pipe(Schema.startsWith("/")), { default: () => "/" }).annotations({
    description: "The HTTP path probed, starting with `/`: `/realms/master` for Keycloak."
  }),
  okStatus: Schema.optionalWith(Schema.NonEmptyArray(HttpStatus), { default: () => [200] as const }).annotations({
    description: "The HTTP status codes that count as healthy."
  }),
  connect: Schema.optionalWith(HostPort, { default: () => "127.0.0.1:443" }).annotations({
    description: "`host:port` the probe connects to: the local proxy (Traefik). The request is " +
      "`https://<domain><path>` with the domain as TLS SNI and Host, as `curl --resolve <domain>:443:127.0.0.1`."
  }),
  url: Schema.optionalWith(Schema.NullOr(Schema.String.pipe(Schema.pattern(/^https?:\/\/\S+$/))), {
    default: () => null
  }).annotations({
    description: "A whole http(s) URL to fetch instead of `path` through `connect`; its Host header (and SNI) " +
      "is still the app's domain. `null`: use `connect` and `path`."
  }),
  verifyTls: Schema.optionalWith(Schema.NullOr(Schema.Boolean), { default: () => null }).annotations({
    description: "Verify the TLS certificate of the health target. `null` (the default): verified when the " +
      "target (the `url`'s host, else `connect`'s) is not a loopback address, and not for the original's " +
      "`127.0.0.1:443` through the local proxy (as its `curl -k`: a staging or not yet issued certificate says " +
      "nothing about the app's health). `true` or `false` decide for every target."
  }),
  timeout: Schema.optionalWith(DurationSetting, { default: () => Duration.minutes(15) }).annotations({
    description: "How long a deployed version (the new one, or last-good after a rollback) gets to become healthy."
  }),
  attemptTimeout: Schema.optionalWith(DurationSetting, { default: () => Duration.seconds(10) }).annotations({
    description: "The time limit of one probe (and of one look at the stack's services and tasks in Swarm)."
  }),
  successes: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 100)), { default: () => 2 }).annotations({
    description: "How many healthy answers in a row pass the health gate."
  }),
  interval: Schema.optionalWith(DurationSetting, { default: () => Duration.millis(500) }).annotations({
    description: "The pause between probes; short, so that health is noticed within a second of appearing."
  }),
  failedTasks: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 1000)), { default: () => 3 }).annotations({
    description: "This many failed Swarm tasks since the deploy, of any service of the stack, end the wait early: " +
      "a crash loop."
  }),
  settle: Schema.optionalWith(DurationSetting, { default: () => Duration.seconds(60) }).annotations({
    description: "How long an app already on the latest version gets to answer healthy before it is redeployed."
  })
}) {}

const RecipeName = Schema.String.pipe(
  Schema.pattern(/^[a-z0-9][a-z0-9_-]*$/, { message: () => "expected a recipe name" })
)

const ServerName = Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/))

export class AppConfig extends Schema.Class<AppConfig>("AppConfig")({
  recipe: Schema.propertySignature(RecipeName).annotations({
    description: "The Co-op Cloud recipe, as `abra recipe fetch <recipe>` names it."
  }),
  domain: Schema.propertySignature(Domain).annotations({
    description: "The app's domain: abra's name for the app (`<abraDir>/servers/<server>/<domain>.env`) and, " +
      "with `.` replaced by `_` and cut to 45 characters, its Docker stack name."
  }),
  server: Schema.optionalWith(ServerName, { default: () => "default" }).annotations({
    description: "The abra server the app runs on. `default` is the local Docker daemon, added with " +
      "`abra server add --local` when abra lacks it; any other server must be known to abra already."
  }),
  stateful: Schema.optionalWith(Schema.Boolean, { default: () => true }).annotations({
    description: "Undeploy the app and snapshot its volumes before an upgrade, and restore them on a rollback. " +
      "The safe default; `false` only for apps whose volumes hold nothing a new version could migrate."
  }),
  upgrade: Schema.optionalWith(
    UpgradePolicy.annotations({
      message: (issue) => ({
        message: `expected one of "minor", "patch" or "none", got ${
          "actual" in issue ? show(issue.actual) : "something else"
        }`,
        // Without override the formatter reports only the first literal it tried.
        override: true
      })
    }),
    { default: () => "minor" as const }
  ).annotations({
    description: "Which upgrades are applied: `minor` (patch and minor; a major is held), `patch` (minor held " +
      "too) or `none` (hold everything: one alert per new version)."
  }),
  deployTimeout: Schema.optionalWith(DurationSetting, { default: () => Duration.minutes(15) }).annotations({
    description: "How long one `abra app deploy` may take before it counts as failed."
  }),
  health: Schema.optionalWith(HealthConfig, { default: () => HealthConfig.make({}) }).annotations({
    description: "How the health gate probes the app."
  }),
  // Living beside the people who run the server (issue 13): what warm-reconcile may start on its own.
  create: Schema.optionalWith(Schema.Boolean, { default: () => false }).annotations({
    description: "Create the app when it has no env file (`abra app new`, secrets, a fresh deploy). Off by " +
      "default: a missing env file is a typo or an app not set up yet, and the run stops with exit 2 naming the " +
      "expected path and the closest domain abra knows on that server."
  }),
  keepDeployed: Schema.optionalWith(Schema.Boolean, { default: () => false }).annotations({
    description: "Deploy the app when it is not deployed. Off by default: an app a person undeployed is left " +
      "alone (`held-undeployed`, exit 0, no alert). An upgrade killed halfway is still recovered first."
  }),
  // --- When changes may happen (issue 19): maintenance window and soak time. Kept as one block. ---
  window: Schema.optional(WindowSetting).annotations({
    description: "This app's maintenance windows, replacing the global `window`: see there. " +
      "`\"00:00-24:00\"` lets this app change at any time."
  }),
  minReleaseAge: Schema.optional(DurationSetting).annotations({
    description: "This app's soak time, replacing `minReleaseAgeByRecipe` and the global `minReleaseAge`: see there."
  }),
  // --- end of when changes may happen ---
  // --- Snapshot scope and retention (issue 17). ---
  snapshot: Schema.optional(SnapshotConfig).annotations({
    description: "What a stateful app's snapshot covers (`volumes`, `exclude`) and how many older ones it keeps " +
      "(`keep`): see [SnapshotConfig](#snapshotconfig). Absent: every volume, whole, no older snapshots."
  }),
  // --- end of snapshot scope ---
  // --- Pausing (issue 13, item 2). ---
  enabled: Schema.optionalWith(Schema.Boolean, { default: () => true }).annotations({
    description: "`false` pauses the app: `reconcile` does nothing (outcome `paused`, exit 0, no lock, no " +
      "alert), `plan` and `status` say \"paused\". An app found by discovery is paused the same way."
  })
  // --- end of pausing ---
}) {}

// --- Discovery (issue 13, item 1). ---
export class ServerConfig extends Schema.Class<ServerConfig>("ServerConfig")({
  discover: Schema.optional(Schema.Boolean).annotations({
    description: "Discover the opted-in apps of this server (`true`) or not (`false`), whatever the top-level " +
      "`discover` says. Absent: as the top-level `discover`."
  })
}) {}

/** Why an app is managed: listed in the config's `apps`, or found by discovery with `ENABLE_AUTO_UPDATE=true`. */
export type ManagedBy = "listed" | "opted-in"
// --- end of discovery ---

// --- Defaults and recipe defaults (issue 13, item 2): what apps inherit. ---

/**
 * The same keys as `fields`, each optional and without a default: a block others inherit from,
 * where only what is written counts. `nested` replaces a field's schema (health: its own keys, each
 * optional). Built from the fields, so a key added to an app is inheritable without more code.
 */
const inheritable = (
  fields: Schema.Struct.Fields,
  omit: ReadonlyArray<string>,
  nested: Readonly<Record<string, Schema.Schema.Any>> = {}
) =>
  Schema.Struct(Object.fromEntries(
    Object.entries(fields).filter(([key]) => !omit.includes(key)).map(([key, field]) => {
      const ast = field.ast
      const schema = nested[key] ?? Schema.make(
        ast._tag === "PropertySignatureTransformation"
          ? ast.from.type
          : ast._tag === "PropertySignatureDeclaration"
          ? ast.type
          : ast
      )
      const annotations = ast._tag === "PropertySignatureTransformation" ? ast.to.annotations : ast.annotations
      return [key, Schema.optional(schema).annotations(annotations)] as const
    })
  )) as unknown as Schema.Schema<Readonly<Record<string, unknown>>, Readonly<Record<string, unknown>>>

export const HealthDefaults = inheritable(HealthConfig.fields, []).annotations({ identifier: "HealthDefaults" })

/** An app's keys but `recipe` and `domain`, none required, none defaulted: what `defaults` and `recipes` hold. */
export const AppDefaults = inheritable(AppConfig.fields, ["recipe", "domain"], { health: HealthDefaults })
  .annotations({ identifier: "AppDefaults" })

const Inheritance = Schema.Struct({
  defaults: Schema.optional(AppDefaults).annotations({
    description: "Settings every app inherits (an [AppDefaults](#appdefaults)): an app's own keys win, " +
      "`health` is merged key by key. E.g. `{\"health\": {\"connect\": \"127.0.0.1:8443\"}, \"upgrade\": \"patch\"}`."
  }),
  recipes: Schema.optional(Schema.Record({ key: RecipeName, value: AppDefaults })).annotations({
    description: "Settings by recipe (each an [AppDefaults](#appdefaults)), over `defaults` and under the " +
      "app's own keys. Built in for apps found by discovery, and overridden here key by key: `keycloak` " +
      "`{\"health\": {\"path\": \"/realms/master\"}}`, `nextcloud` `{\"health\": {\"path\": \"/status.php\"}}`."
  }),
  // The older spelling of `recipes.<name>.minReleaseAge`, inherited the same way (see asWritten).
  minReleaseAgeByRecipe: Schema.optional(Schema.Record({ key: Schema.String, value: DurationSetting }))
})

// --- end of defaults ---

export class Config extends Schema.Class<Config>("Config")({
  stateDir: Schema.optionalWith(Schema.String.pipe(Schema.startsWith("/")), {
    default: () => "/var/lib/warm-reconcile"
  }).annotations({
    description: "An absolute path. Per app `<stateDir>/<app>/`: `last_good`, `hold.json`, `in-flight.json`, " +
      "`history.jsonl`, the lock and the volume snapshot; alerts in `<stateDir>/alerts/`. Created with mode 0700."
  }),
  abraDir: Schema.optional(Schema.String.pipe(Schema.startsWith("/"))).annotations({
    description: "abra's directory (recipe clones, `servers/<server>/<domain>.env`), an absolute path. " +
      "When absent: `$ABRA_DIR`, else `~/.abra` of the user running warm-reconcile."
  }),
  // --- Defaults and recipe defaults (issue 13, item 2). ---
  ...Inheritance.fields,
  // --- end of defaults ---
  // --- Discovery (issue 13, item 1): apps the operator opted in with ENABLE_AUTO_UPDATE=true. ---
  discover: Schema.optionalWith(Schema.Boolean, { default: () => false }).annotations({
    description: "Also manage every app on every abra server (`<abraDir>/servers/<server>/<domain>.env`) whose " +
      "env file sets `ENABLE_AUTO_UPDATE=true`, as Co-op Cloud's kadabra does: its recipe from `RECIPE=` or " +
      "`TYPE=`, its domain (and its name here) from the file name, its settings from `defaults` and `recipes`. " +
      "An app listed in `apps` (same server and domain) is managed as listed instead. `servers.<name>.discover` " +
      "decides for one server."
  }),
  servers: Schema.optional(Schema.Record({ key: ServerName, value: ServerConfig })).annotations({
    description: "Settings by abra server name, each a [ServerConfig](#serverconfig)."
  }),
  // --- end of discovery ---
  apps: Schema.propertySignature(Schema.Record({ key: AppName, value: AppConfig })).annotations({
    description: "The apps, by name. The name is the app's directory under `stateDir` and appears in alerts, " +
      "logs and metrics: letters, digits, `.`, `_` or `-`, starting with a letter or digit, no `..`, " +
      "at most 128 characters."
  }),
  // --- Notifications (issue 16): the channels alerts are delivered to. Kept as one block. ---
  notify: Schema.optionalWith(NotifyList, { default: () => [] }).annotations({
    description: "The channels every alert is delivered to (email, Matrix, ntfy, Gotify, chat webhooks, a " +
      "webhook), each a [NotifyChannel](#notifychannel). Empty: alerts are only written to `<stateDir>/alerts/`."
  }),
  heartbeat: Schema.optional(Schema.String.pipe(Schema.pattern(/^https?:\/\/\S+$/))).annotations({
    description: "A dead man's switch: `reconcile` pings this URL when it starts and when it ends. A " +
      "healthchecks.io check URL gets `<url>/start`, then `<url>` on exit 0 or a POST to `<url>/fail` " +
      "otherwise; an Uptime Kuma push URL (with `?status=`) gets `status=up` or `status=down`."
  }),
  // --- end of notifications ---
  // --- When changes may happen (issue 19): maintenance window and soak time. Kept as one block. ---
  window: Schema.optional(WindowSetting).annotations({
    description: "Maintenance windows in the server's local time: `\"02:00-05:00\"`, `\"Mon-Fri 02:00-05:00\"`, " +
      "`\"Sat,Sun 22:00-02:00\"` (past midnight: belongs to the day it starts), or a list of them. Outside " +
      "every window a run only plans, holds and alerts: nothing is deployed (`held-window`); an upgrade that " +
      "could outlast the window (twice the deploy timeout and the health timeout: the upgrade and a rollback) " +
      "is not started. Absent: any time. A killed upgrade is recovered at any time."
  }),
  minReleaseAge: Schema.optional(DurationSetting).annotations({
    description: "A soak time for fresh releases (`\"3 days\"`): a release is an upgrade candidate only once its " +
      "tag is this old (the tagger date of an annotated tag, else its commit's date), so that a broken release " +
      "is usually retagged before it reaches anyone. A newer release still soaking does not hide an older one " +
      "that has aged; `plan` shows what soaks and for how long. A fresh deploy is not held back. Absent: none."
  }),
  minReleaseAgeByRecipe: Schema.optional(Schema.Record({ key: Schema.String, value: DurationSetting }))
    .annotations({
      description: "`minReleaseAge` per recipe (`{\"keycloak\": \"7 days\"}`): the older spelling of " +
        "`recipes.<name>.minReleaseAge`, inherited the same way (over `defaults`, under the app's own; " +
        "`recipes` wins where both name a recipe). Replaces the global `minReleaseAge` for that recipe's apps."
    })
  // --- end of when changes may happen ---
}) {}

/** One app as the services see it: its config, its name and its Docker stack name. */
export interface AppSpec extends AppConfig {
  readonly name: AppName
  readonly stack: string
  /** Absent: listed. */
  readonly managedBy?: ManagedBy
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

/**
 * Text from the input (a key, a value, a parser's excerpt) made fit for a one-line message: control
 * characters escaped, so a key holding a newline cannot split the line, and cut to `max` characters,
 * so a 20 MB value does not become a 20 MB log line.
 */
export const oneLine = (text: string, max = 300): string => {
  const escaped = escapeControls(text)
  if (escaped.length <= max) return escaped
  // Never cut a surrogate pair in half.
  const end = /[\ud800-\udbff]/.test(escaped[max - 1]!) ? max - 1 : max
  return `${escaped.slice(0, end)}… (${escaped.length - end} more characters)`
}

/**
 * A config is 5 levels deep and holds some thousands of values. Input far past that is junk, and
 * formatting it into the error message would overflow the stack (deep) or take minutes (wide).
 */
const MAX_DEPTH = 32
const MAX_VALUES = 100_000

/**
 * Where the input is too deep or too big, if it is. Iterative with one cursor per level: any depth
 * is safe, memory grows with the depth only, and the walk stops at the first {@link MAX_VALUES}.
 */
const tooBig = (
  input: unknown
): { readonly path: ReadonlyArray<PropertyKey>; readonly problem: string } | undefined => {
  const isNode = (v: unknown): v is object => typeof v === "object" && v !== null
  if (!isNode(input)) return undefined
  const level = (node: object) => ({ node, keys: Array.isArray(node) ? undefined : Object.keys(node), i: 0 })
  const stack = [level(input)]
  const path: Array<PropertyKey> = []
  let values = 0
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!
    const size = top.keys === undefined ? (top.node as Array<unknown>).length : top.keys.length
    if (top.i >= size) {
      stack.pop()
      path.pop()
      continue
    }
    if (++values > MAX_VALUES) return { path, problem: `more than ${MAX_VALUES} values` }
    const key = top.keys === undefined ? top.i : top.keys[top.i]!
    top.i++
    const child = (top.node as Record<PropertyKey, unknown>)[key]
    if (!isNode(child)) continue
    if (stack.length >= MAX_DEPTH) return { path: [...path, key], problem: `nested more than ${MAX_DEPTH} levels deep` }
    path.push(key)
    stack.push(level(child))
  }
  return undefined
}

const configError = (source: string, path: ReadonlyArray<PropertyKey>, message: string) => {
  const shown = formatPath(path)
  return new ConfigError({ source, path: shown, message: `${source}: ${oneLine(shown)}: ${oneLine(message, 1000)}` })
}

/** An unexpected key: the expected key closest to it, as a hint (`stateFul` → `stateful`). */
const didYouMean = (issue: ParseResult.ArrayFormatterIssue | undefined, path: ReadonlyArray<PropertyKey>): string => {
  const key = path.at(-1)
  if (issue?._tag !== "Unexpected" || typeof key !== "string") return ""
  const expected = [...issue.message.matchAll(/"([^"]+)"/g)].map((m) => m[1]!)
  return Option.match(closest(key, expected), { onNone: () => "", onSome: (k) => `; did you mean "${k}"?` })
}

const decodeOptions = { errors: "first", onExcessProperty: "error" } as const

/** A Schema's failure as the one-line ConfigError naming the first bad key's path. */
const refusal = (source: string) => (error: ParseResult.ParseError) => {
  const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  const path = issue?.path ?? []
  // A key of `apps` that is not an app name shows up as an unexpected key: say why.
  const badName = issue?._tag === "Unexpected" && path.length === 2 && path[0] === "apps"
  const message = badName
    ? `not a valid app name: an app name is letters, digits, '.', '_' or '-', starts with a letter or digit, ` +
      "holds no '..' or '/' and is at most 128 characters; rename the app"
    : issue?.message ?? String(error)
  return configError(source, path, `${message}${didYouMean(issue, path)}`)
}

const encodeInheritance = Schema.encodeSync(Inheritance)

const asWritten = (decoded: typeof Inheritance.Type): Inherit.Inheritance => {
  const encoded = encodeInheritance(decoded)
  return {
    defaults: encoded.defaults ?? {},
    recipes: Inherit.withRecipeSoak(encoded.recipes ?? {}, encoded.minReleaseAgeByRecipe ?? {})
  }
}

/**
 * What apps inherit, as written (durations in seconds): `defaults` and `recipes` of a decoded
 * config, `minReleaseAgeByRecipe` in `recipes`.
 */
export const inheritanceOf = (config: Config): Inherit.Inheritance =>
  asWritten({
    defaults: config.defaults,
    recipes: config.recipes,
    minReleaseAgeByRecipe: config.minReleaseAgeByRecipe
  })

export const decodeConfig = (input: unknown, source = "config"): Either.Either<Config, ConfigError> => {
  const junk = tooBig(input)
  if (junk !== undefined) {
    return Either.left(configError(source, junk.path, `${junk.problem}: this is not a warm-reconcile config`))
  }
  // What the apps inherit is checked first, so that a bad inherited value is named where it is written.
  const withInheritance = !Inherit.isObject(input) || !Inherit.isObject(input["apps"])
    ? Either.right(input)
    : Schema.decodeUnknownEither(Inheritance, decodeOptions)({
      ...(Object.hasOwn(input, "defaults") ? { defaults: input["defaults"] } : {}),
      ...(Object.hasOwn(input, "recipes") ? { recipes: input["recipes"] } : {}),
      ...(Object.hasOwn(input, "minReleaseAgeByRecipe")
        ? { minReleaseAgeByRecipe: input["minReleaseAgeByRecipe"] }
        : {})
    }).pipe(Either.map((decoded) => {
      const inheritance = asWritten(decoded)
      const apps = Object.entries(input["apps"] as Inherit.Raw).map(([name, app]) =>
        [name, Inherit.inherit(inheritance, app)] as const
      )
      return { ...input, apps: Object.fromEntries(apps) }
    }))
  return withInheritance.pipe(
    Either.flatMap(Schema.decodeUnknownEither(Config, decodeOptions)),
    Either.mapLeft(refusal(source))
  )
}

/**
 * An app found by discovery (issue 13): its recipe, domain and server, with what the config's
 * `defaults` and `recipes` give it (and the built-in recipe defaults). Refused with its path when
 * the config's apps could not hold it.
 */
export const inheritedApp = (
  config: Config,
  found: { readonly recipe: string; readonly domain: string; readonly server: string },
  source = "discovery"
): Either.Either<AppConfig, ConfigError> =>
  Schema.decodeUnknownEither(AppConfig, decodeOptions)(Inherit.inherit(inheritanceOf(config), found, true)).pipe(
    Either.mapLeft(refusal(source))
  )

export const appSpecs = (config: Config): Array<AppSpec> =>
  Object.keys(config.apps).map((name) => configuredApp(config, name as AppName))

/** One configured app, with the global settings it does not set itself (`window`). */
export const configuredApp = (config: Config, name: AppName): AppSpec => {
  const app = config.apps[name]!
  const window = app.window ?? config.window
  // A recipe's soak time (`recipes.<name>` or `minReleaseAgeByRecipe`) was inherited already.
  const minReleaseAge = app.minReleaseAge ?? config.minReleaseAge
  return appSpec(name, AppConfig.make({ ...app, ...(window && { window }), ...(minReleaseAge && { minReleaseAge }) }))
}
