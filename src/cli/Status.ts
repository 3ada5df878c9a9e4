/**
 * `status [app]`: what an operator wants to know about each app before touching anything: the
 * version pinned in its env file, what Docker runs, last-good, the latest release in the local
 * recipe clone, a pending hold, an upgrade in flight, and the last run; with channels in `notify`,
 * each channel's deliveries pending and its latest failure.
 *
 * Read-only: files under the state directory and abra's directory, `git tag --list` in the
 * recipe clone (no fetch), and GET requests to the Docker Engine. A fact that cannot be read is
 * shown as such, with the reason, and never stops the rest.
 */
import { Args, Command } from "@effect/cli"
import { FileSystem } from "@effect/platform"
import { Clock, Console, Effect, Either, Option, Schema } from "effect"
import * as Path from "node:path"
import type { AppSpec } from "../domain/Config.js"
import { discoveryOn, why } from "../domain/Discovery.js"
import { escapeControls } from "../domain/Text.js"
import * as Version from "../domain/Version.js"
import { describeWindow, localTimeZone, windows } from "../domain/Window.js"
import * as Live from "../live/Live.js"
import * as LiveNotifier from "../live/Notifier.js"
import { readHistory } from "../live/State.js"
import { Apps } from "../services/Apps.js"
import { Docker, type DockerUnavailable } from "../services/Docker.js"
import { Recipes } from "../services/Recipes.js"
import { HoldRecord, InFlight, RunRecord, State } from "../services/State.js"
import * as ConfigFile from "./ConfigFile.js"
import * as LogFormat from "./LogFormat.js"
import * as Managed from "./Managed.js"
import * as Shared from "./Options.js"
import { printingRedacted } from "./Output.js"
import { unholdHint } from "./Unhold.js"

export interface AppStatus {
  readonly app: string
  readonly recipe: string
  readonly domain: string
  readonly server: string
  /** Whether abra's env file for the app exists (null: it could not be read). */
  readonly envFile: boolean | null
  /** The version pinned in the env file. */
  readonly pinned: string | null
  /** Whether the stack runs (null: Docker could not be asked). */
  readonly deployed: boolean | null
  /** The version label of the running stack. */
  readonly running: string | null
  readonly lastGood: string | null
  /** The newest release tag in the local recipe clone. */
  readonly latest: string | null
  readonly hold: typeof HoldRecord.Encoded | null
  readonly inFlight: typeof InFlight.Encoded | null
  readonly lastRun: typeof RunRecord.Encoded | null
  /** The maintenance window: "open now until ...", "closed; the next opens ..." (null: any time). */
  readonly window: string | null
  /** Why the app is managed: listed in the config, or opted in (found by discovery). */
  readonly managedBy: "listed" | "opted-in"
  /** `"enabled": false` in the config: reconcile does nothing. */
  readonly paused: boolean
  /** What could not be read, by fact (`env`, `docker`, `recipe`, `lastGood`, `hold`, `inFlight`, `history`). */
  readonly problems: Readonly<Record<string, string>>
}

const encodeHold = Schema.encodeSync(HoldRecord)
const encodeInFlight = Schema.encodeSync(InFlight)
const encodeRun = Schema.encodeSync(RunRecord)

export interface GatherOptions {
  readonly stateDir: string
  readonly abraDir: string
}

/** The status of each app, in the order given. Never fails: problems are part of the answer. */
export const gather = (apps: ReadonlyArray<AppSpec>, options: GatherOptions) =>
  Effect.gen(function*() {
    const abra = yield* Apps
    const recipes = yield* Recipes
    const docker = yield* Docker
    const state = yield* State
    const fs = yield* FileSystem.FileSystem
    // Once the socket is unreachable, asking again for every app would only repeat the wait.
    let dockerDown: DockerUnavailable | undefined

    return yield* Effect.forEach(apps, (app) =>
      Effect.gen(function*() {
        const problems: Record<string, string> = {}
        const attempt = <A, E extends { readonly message: string }, R>(fact: string, effect: Effect.Effect<A, E, R>) =>
          effect.pipe(
            Effect.map(Option.some),
            Effect.catchAll((e) =>
              Effect.sync(() => {
                problems[fact] = e.message
                return Option.none<A>()
              })
            )
          )

        const env = yield* attempt("env", abra.readEnv(app))

        let deployed: boolean | null = null
        let running: string | null = null
        if (dockerDown !== undefined) {
          problems["docker"] = dockerDown.message
        } else {
          const seen = yield* Effect.either(
            Effect.zip(docker.isDeployed(app.stack), docker.deployedVersion(app.stack))
          )
          if (seen._tag === "Right") {
            deployed = seen.right[0]
            running = Option.getOrNull(seen.right[1])
          } else {
            problems["docker"] = seen.left.message
            if (seen.left._tag === "DockerUnavailable") dockerDown = seen.left
          }
        }

        const clone = Path.join(options.abraDir, "recipes", app.recipe)
        let latest: string | null = null
        if (!(yield* fs.exists(clone).pipe(Effect.orElseSucceed(() => false)))) {
          problems["recipe"] = `no local clone of the recipe ${app.recipe} at ${clone}: ` +
            `the next reconcile fetches it (or run \`abra recipe fetch ${app.recipe}\`)`
        } else {
          const tags = yield* attempt("recipe", recipes.tags(app.recipe))
          latest = Option.getOrNull(Option.map(
            Option.flatMap(tags, (t) => Version.latest(Version.sortTags(t))),
            (v) => v.tag
          ))
          if (Option.isSome(tags) && latest === null) {
            problems["recipe"] = `the recipe ${app.recipe} has no release tags`
          }
        }

        const lastGood = yield* attempt("lastGood", state.lastGood(app.name))
        const hold = yield* attempt("hold", state.hold(app.name))
        const inFlight = yield* attempt("inFlight", state.inFlight(app.name))
        const history = yield* attempt("history", readHistory(options.stateDir, app.name))

        return {
          app: app.name,
          recipe: app.recipe,
          domain: app.domain,
          server: app.server,
          managedBy: app.managedBy ?? "listed",
          paused: !app.enabled,
          envFile: Option.isSome(env) ? Option.isSome(env.value) : null,
          pinned: Option.getOrNull(Option.flatMap(Option.flatten(env), (e) => e.pinned)),
          deployed,
          running,
          lastGood: Option.getOrNull(Option.flatten(lastGood)),
          latest,
          hold: Option.getOrNull(Option.map(Option.flatten(hold), encodeHold)),
          inFlight: Option.getOrNull(Option.map(Option.flatten(inFlight), encodeInFlight)),
          lastRun: Option.getOrNull(
            Option.map(Option.flatMap(history, (h) => Option.fromNullable(h.at(-1))), encodeRun)
          ),
          window: Option.getOrNull(
            describeWindow(windows(app.window), yield* Clock.currentTimeMillis, localTimeZone())
          ),
          problems
        } satisfies AppStatus
      }))
  })

const COLUMNS: ReadonlyArray<readonly [string, (s: AppStatus) => string]> = [
  ["APP", (s) => s.app],
  ["DEPLOYED", (s) => s.deployed === null ? "?" : s.deployed ? (s.running ?? "yes") : "no"],
  ["PINNED", (s) => s.envFile === false ? "no env file" : s.pinned ?? (s.envFile === null ? "?" : "-")],
  ["LAST-GOOD", (s) => s.lastGood ?? ("lastGood" in s.problems ? "?" : "-")],
  ["LATEST", (s) => s.latest ?? "?"],
  [
    "HOLD",
    (s) =>
      [
        ...(s.paused ? ["paused"] : []),
        s.hold === null ? ("hold" in s.problems ? "?" : s.paused ? "" : "-") : `${s.hold.reason} ${s.hold.to}`
      ].filter((c) => c !== "").join("; ")
  ],
  [
    "IN-FLIGHT",
    (s) =>
      s.inFlight === null
        ? ("inFlight" in s.problems ? "?" : "-")
        : `${s.inFlight.phase} ${s.inFlight.from}->${s.inFlight.to}`
  ],
  [
    "LAST RUN",
    (s) =>
      s.lastRun === null
        ? ("history" in s.problems ? "?" : "never")
        : `${s.lastRun.outcome} ${s.lastRun.endedAt}${s.lastRun.interrupted ? " (interrupted)" : ""}`
  ]
]

/** A table, one row per app, then every problem once with the apps it concerns. */
export const renderTable = (statuses: ReadonlyArray<AppStatus>): string => {
  // Cells hold text from outside (labels, records): one line each, control characters escaped.
  const rows = [
    COLUMNS.map(([title]) => title),
    ...statuses.map((s) => COLUMNS.map(([, cell]) => escapeControls(cell(s))))
  ]
  const widths = COLUMNS.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  const lines = rows.map((r) => r.map((cell, i) => i === r.length - 1 ? cell : cell.padEnd(widths[i]!)).join("  "))
  // One line per message, with every fact and app it stopped (a state directory one may not read stops four facts).
  const problems = new Map<string, { facts: Set<string>; apps: Set<string> }>()
  for (const s of statuses) {
    for (const [fact, message] of Object.entries(s.problems)) {
      const seen = problems.get(message) ?? { facts: new Set(), apps: new Set() }
      problems.set(message, { facts: seen.facts.add(fact), apps: seen.apps.add(s.app) })
    }
  }
  if (problems.size > 0) {
    lines.push("", "could not read:")
    for (const [message, { apps, facts }] of problems) {
      lines.push(`  ${escapeControls(`${[...facts].join(", ")}: ${message}`)} (${[...apps].join(", ")})`)
    }
  }
  return lines.join("\n")
}

/** `  ntfy: 2 pending; last failure at ... (id): why`, one line per channel. */
export const renderChannels = (channels: ReadonlyArray<LiveNotifier.ChannelBacklog>): string =>
  channels.map((c) => {
    const failure = c.lastFailure === null
      ? ""
      : `; last failure ${c.lastFailure.at} (${c.lastFailure.id}): ${c.lastFailure.error}`
    return escapeControls(`  ${c.channel}: ${c.pending === 0 ? "nothing" : c.pending} pending${failure}`)
  }).join("\n")

export const statusCommand = Command.make(
  "status",
  {
    app: Shared.app("only this app (default: every configured app)").pipe(Args.optional),
    config: Shared.config,
    json: Shared.json("app", "a table")
  },
  (args) =>
    Effect.flatMap(ConfigFile.load(args.config), (loaded) =>
      printingRedacted(loaded)(Effect.gen(function*() {
        const managed = Option.isSome(args.app)
          ? { apps: [yield* Managed.findManaged(loaded, args.app.value)], problems: [] }
          : yield* Managed.managedLive(loaded)
        const apps = managed.apps
        const options = { stateDir: loaded.config.stateDir, abraDir: loaded.abraDir }
        const statuses = yield* gather(apps, options).pipe(
          Effect.provide(Live.layer(options)),
          Effect.provide(LogFormat.layer("logfmt"))
        )
        // With channels: each one's backlog, read from the outbox as `alerts` reads it; a problem is said.
        const channels = loaded.config.notify.length === 0
          ? Either.right([])
          : yield* Effect.either(LiveNotifier.backlog(loaded.config.stateDir, loaded.config.notify))
        if (args.json) {
          for (const s of statuses) yield* Console.log(JSON.stringify(s))
          yield* Either.match(channels, {
            onLeft: (e) =>
              Console.log(JSON.stringify({ channel: null, problem: `could not read the outbox: ${e.message}` })),
            onRight: (cs) => Effect.forEach(cs, (c) => Console.log(JSON.stringify(c)), { discard: true })
          })
        } else {
          yield* Console.log(statuses.length === 0 ? "no apps configured" : renderTable(statuses))
          // With discovery, why each app is managed, and what discovery could not take.
          if (discoveryOn(loaded.config)) {
            yield* Console.log(
              [
                "",
                "managed:",
                ...apps.map((a) => `  ${a.name}: ${why(a)}`),
                ...managed.problems.map((p) => `  not managed: ${p}`)
              ].join("\n")
            )
          }
          // Next to every hold: how to clear it.
          const held = statuses.filter((s) => s.hold !== null)
          if (held.length > 0) {
            yield* Console.log(
              [
                "",
                "holds:",
                ...held.map((s) => `  ${s.app}: ${s.hold!.reason} ${escapeControls(s.hold!.to)}; ${unholdHint(s.app)}`)
              ]
                .join("\n")
            )
          }
          const windowed = statuses.filter((s) => s.window !== null)
          if (windowed.length > 0) {
            yield* Console.log(
              ["", "maintenance windows:", ...windowed.map((s) => `  ${s.app}: ${s.window}`)].join("\n")
            )
          }
          if (loaded.config.notify.length > 0) {
            yield* Console.log(Either.match(channels, {
              onLeft: (e) => `\nnotifications: could not read the outbox: ${escapeControls(e.message)}`,
              onRight: (cs) => `\nnotifications:\n${renderChannels(cs)}`
            }))
          }
        }
      })))
).pipe(
  Command.withDescription(
    "Show each app's pinned, running, last-good and latest versions, a hold, an upgrade in flight and the last run; changes nothing."
  )
)
