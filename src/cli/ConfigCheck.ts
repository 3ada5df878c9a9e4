/**
 * `config check [--config FILE]`: decode the config, then for each managed app look at what a run
 * would need: its env file (with the closest domain when missing), that it names the app's
 * recipe, its recipe clone and its Docker stack. One line per problem, exit 2 if any. Read-only.
 */
import { Command } from "@effect/cli"
import { FileSystem } from "@effect/platform"
import { Console, Effect, Option } from "effect"
import * as Path from "node:path"
import type { AppSpec } from "../domain/Config.js"
import { closest } from "../domain/Suggest.js"
import * as Live from "../live/Live.js"
import { Apps } from "../services/Apps.js"
import { Docker } from "../services/Docker.js"
import * as ConfigFile from "./ConfigFile.js"
import * as LogFormat from "./LogFormat.js"
import * as Managed from "./Managed.js"
import * as Shared from "./Options.js"
import { setExitCode } from "./Output.js"

/** The problems of one app, each a line that says what is wrong and what to do. */
const problemsOf = (app: AppSpec, abraDir: string) =>
  Effect.gen(function*() {
    const apps = yield* Apps
    const docker = yield* Docker
    const fs = yield* FileSystem.FileSystem
    const problems: Array<string> = []
    const env = yield* apps.readEnv(app).pipe(Effect.either)
    if (env._tag === "Left") problems.push(env.left.message)
    else if (Option.isNone(env.right) && !app.create) {
      const known = yield* apps.domains(app.server).pipe(Effect.orElseSucceed(() => [] as ReadonlyArray<string>))
      const hint = Option.match(closest(app.domain, known), { onNone: () => "", onSome: (d) => `; did you mean ${d}?` })
      problems.push(`no env file at ${apps.envPath(app)}${hint} (set "create": true to create the app)`)
    } else {
      const settings = yield* apps.readSettings(app).pipe(Effect.orElseSucceed(() => Option.none()))
      const recipe = Option.flatMap(settings, (s) => s.recipe)
      if (Option.isSome(recipe) && recipe.value !== app.recipe) {
        problems.push(
          `the env file ${apps.envPath(app)} is for the recipe ${recipe.value}, the config says ${app.recipe}`
        )
      }
    }
    const clone = Path.join(abraDir, "recipes", app.recipe)
    if (!(yield* fs.exists(clone).pipe(Effect.orElseSucceed(() => false)))) {
      problems.push(`no recipe clone at ${clone}: run \`abra recipe fetch ${app.recipe}\``)
    }
    const deployed = yield* docker.isDeployed(app.stack).pipe(Effect.either)
    if (deployed._tag === "Left") problems.push(deployed.left.message)
    else if (!deployed.right && !app.keepDeployed && app.enabled) {
      problems.push(`the stack ${app.stack} is not deployed: it is left so unless "keepDeployed": true`)
    }
    return problems.map((p) => `${app.name}: ${p}`)
  })

export const configCheckCommand = Command.make("check", { config: Shared.config }, (args) =>
  Effect.gen(function*() {
    const loaded = yield* ConfigFile.load(args.config)
    yield* ConfigFile.requireAbraDir(loaded)
    const managed = yield* Managed.managedLive(loaded)
    const options = { stateDir: loaded.config.stateDir, abraDir: loaded.abraDir }
    const lines = yield* Effect.forEach(managed.apps, (app) => problemsOf(app, loaded.abraDir)).pipe(
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
