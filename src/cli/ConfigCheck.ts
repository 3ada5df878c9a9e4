/**
 * `config check [--config FILE]`: decode the config, then for each managed app look at what a run
 * would need: its server, its env file (with the closest domain when missing), that it names the
 * app's recipe, its recipe clone, its Docker stack and that its health endpoint answers at all.
 * One line per problem, exit 2 if any. Read-only.
 */
import { Command } from "@effect/cli"
import { FileSystem } from "@effect/platform"
import { Console, Duration, Effect } from "effect"
import * as Path from "node:path"
import type { AppSpec } from "../domain/Config.js"
import * as Live from "../live/Live.js"
import { checkedEnv, knownServer } from "../reconcile/Observe.js"
import { Docker } from "../services/Docker.js"
import { Health } from "../services/Health.js"
import * as ConfigFile from "./ConfigFile.js"
import * as LogFormat from "./LogFormat.js"
import * as Managed from "./Managed.js"
import * as Shared from "./Options.js"
import { setExitCode } from "./Output.js"

/** A probe that only asks whether anything answers: a few seconds at most, whatever the config allows a run. */
const ANSWER_WITHIN = Duration.seconds(3)

/** The message of a failed check, as a line naming the app once. */
const line = (app: AppSpec) => (message: string) =>
  message.startsWith(`${app.name}: `) ? message : `${app.name}: ${message}`

/**
 * The problems of one app, each a line that says what is wrong and what to do. The server and the
 * env file are checked by the very checks a run makes before it changes anything.
 */
const problemsOf = (app: AppSpec, abraDir: string) =>
  Effect.gen(function*() {
    const docker = yield* Docker
    const health = yield* Health
    const fs = yield* FileSystem.FileSystem
    const problems: Array<string> = []
    const failed = <E extends { readonly message: string }, R>(check: Effect.Effect<unknown, E, R>) =>
      check.pipe(Effect.matchEffect({
        onFailure: (e) => Effect.sync(() => void problems.push(e.message)),
        onSuccess: () => Effect.void
      }))
    // A run may add the local server for an app it is to create; any other app's server must be known.
    if (!app.create) yield* failed(knownServer(app))
    yield* failed(checkedEnv(app))
    const clone = Path.join(abraDir, "recipes", app.recipe)
    if (!(yield* fs.exists(clone).pipe(Effect.orElseSucceed(() => false)))) {
      problems.push(`no recipe clone at ${clone}: run \`abra recipe fetch ${app.recipe}\``)
    }
    const deployed = yield* docker.isDeployed(app.stack).pipe(Effect.either)
    if (deployed._tag === "Left") problems.push(deployed.left.message)
    else if (!deployed.right && !app.keepDeployed && app.enabled) {
      problems.push(`the stack ${app.stack} is not deployed: it is left so unless "keepDeployed": true`)
    } else if (deployed.right && app.enabled) {
      // Any HTTP status is an answer (the app may be starting, or on the wrong path); none at all
      // means the health settings point nowhere, and every run would wait them out and roll back.
      const attemptTimeout = Duration.min(app.health.attemptTimeout, ANSWER_WITHIN)
      yield* failed(health.probe({ ...app, health: { ...app.health, attemptTimeout } }))
    }
    return problems.map(line(app))
  })

export const configCheckCommand = Command.make("check", { config: Shared.config }, (args) =>
  Effect.gen(function*() {
    const loaded = yield* ConfigFile.load(args.config)
    yield* ConfigFile.requireAbraDir(loaded)
    const managed = yield* Managed.managedLive(loaded)
    const options = { stateDir: loaded.config.stateDir, abraDir: loaded.abraDir }
    const lines = yield* Effect.forEach(managed.apps, (app) => problemsOf(app, loaded.abraDir), { concurrency: 4 })
      .pipe(
        Effect.provide(Live.layer(options)),
        Effect.provide(LogFormat.layer("logfmt"))
      )
    const problems = [...managed.problems, ...lines.flat()]
    for (const line of problems) yield* Console.log(line)
    yield* Console.log(
      problems.length === 0
        ? `${loaded.path}: ok, ${managed.apps.length} app(s)`
        : `${loaded.path}: ${problems.length} problem(s)`
    )
    if (problems.length > 0) yield* setExitCode(2)
  })).pipe(Command.withDescription("Check the config and, read-only, what each app needs; exit 2 on any problem."))

export const configCommand = Command.make("config").pipe(
  Command.withDescription("Work with the config file."),
  Command.withSubcommands([configCheckCommand])
)
