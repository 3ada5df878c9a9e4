/**
 * Apps: what abra knows and does for one app: its server, its env file (pinned version, declared
 * secrets), `app new`, deploy, undeploy and secret generation.
 */
import { Clock, Context, Effect, Layer, Option, Ref, Schema } from "effect"
import type { AppSpec } from "../domain/Config.js"
import { type InjectedFault, SimulatedWorld } from "../simulation/World.js"

export class AbraError extends Schema.TaggedError<AbraError>()("AbraError", {
  app: Schema.String,
  operation: Schema.String,
  message: Schema.String
}) {}

/** What the env file says about the app. */
export interface AppEnv {
  /** The version pinned by `TYPE=<recipe>:<version>` or `RECIPE=<recipe>:<version>`. */
  readonly pinned: Option.Option<string>
  /** Secrets declared by `SECRET_<NAME>_VERSION=<v>`, as `<name>_<v>` (lower case). */
  readonly secrets: ReadonlyArray<string>
}

export class Apps extends Context.Tag("warm-reconcile/Apps")<Apps, {
  /** Make sure abra knows the server (a local one is added when missing). */
  readonly ensureServer: (server: string) => Effect.Effect<void, AbraError>
  /** The env file, or none when the app has never been created. */
  readonly readEnv: (app: AppSpec) => Effect.Effect<Option.Option<AppEnv>, AbraError>
  /** `abra app new` at a version, then set DOMAIN and LETS_ENCRYPT_ENV as the original did. */
  readonly create: (app: AppSpec, version: string) => Effect.Effect<void, AbraError>
  /** Deploy (or redeploy) a published version; abra pins it into the env file. */
  readonly deploy: (app: AppSpec, version: string) => Effect.Effect<void, AbraError>
  /** Remove the stack; volumes and secrets survive. */
  readonly undeploy: (app: AppSpec) => Effect.Effect<void, AbraError>
  /** Generate every secret the recipe declares. */
  readonly generateSecrets: (app: AppSpec) => Effect.Effect<void, AbraError>
}>() {}

const fromFault = (app: AppSpec, operation: string) => (fault: InjectedFault) =>
  new AbraError({ app: app.name, operation, message: `abra ${operation} ${app.domain} failed: ${fault.message}` })

/** In-memory abra over the simulated world. */
export const layerTest: Layer.Layer<Apps, never, SimulatedWorld> = Layer.effect(
  Apps,
  Effect.gen(function*() {
    const world = yield* SimulatedWorld
    return Apps.of({
      ensureServer: (server) =>
        world.step("server", server, `server ls / add ${server}`).pipe(
          Effect.mapError((fault) =>
            new AbraError({ app: server, operation: "server", message: `abra server add failed: ${fault.message}` })
          ),
          Effect.zipRight(Ref.update(world.state, (s) => ({ ...s, servers: new Set([...s.servers, server]) })))
        ),
      readEnv: (app) =>
        world.step("env-read", app.name, `read ${app.domain}.env`).pipe(
          Effect.mapError(fromFault(app, "env read")),
          Effect.zipRight(world.app(app.name)),
          Effect.map((a) => a.env)
        ),
      create: (app, version) =>
        world.step("app-new", app.name, `app new ${app.recipe} ${version} -D ${app.domain}`, version).pipe(
          Effect.mapError(fromFault(app, "app new")),
          Effect.zipRight(world.app(app.name)),
          Effect.flatMap((a) =>
            Option.isSome(a.env)
              ? Effect.fail(
                new AbraError({ app: app.name, operation: "app new", message: `${app.domain}.env already exists` })
              )
              : world.updateApp(
                app.name,
                (a) => ({ ...a, env: Option.some({ pinned: Option.some(version), secrets: [] }) })
              )
          )
        ),
      deploy: (app, version) =>
        world.step("deploy", app.name, `app deploy ${app.domain} ${version}`, version).pipe(
          Effect.mapError(fromFault(app, "deploy")),
          Effect.zipRight(Effect.all([Clock.currentTimeMillis, world.release(app.recipe, version)])),
          Effect.flatMap(([now, release]) =>
            world.updateApp(app.name, (a) => ({
              ...a,
              deployment: Option.some({ version, at: now, broken: false }),
              env: Option.some({
                pinned: Option.some(version),
                secrets: Option.match(a.env, { onNone: () => [], onSome: (e) => e.secrets })
              }),
              // The release starts and runs its migration against the live volumes.
              volumes: release.migrate
                ? new Map([...a.volumes].map(([name, files]) => [name, release.migrate!(name, files)]))
                : a.volumes
            }))
          )
        ),
      undeploy: (app) =>
        world.step("undeploy", app.name, `app undeploy ${app.domain}`).pipe(
          Effect.mapError(fromFault(app, "undeploy")),
          Effect.zipRight(world.app(app.name)),
          Effect.flatMap((a) =>
            Option.isNone(a.deployment)
              ? Effect.fail(
                new AbraError({ app: app.name, operation: "undeploy", message: `${app.domain} is not deployed?` })
              )
              : world.updateApp(app.name, (a) => ({ ...a, deployment: Option.none() }))
          )
        ),
      generateSecrets: (app) =>
        world.step("secrets-generate", app.name, `app secret generate ${app.domain} --all`).pipe(
          Effect.mapError(fromFault(app, "secret generate")),
          Effect.zipRight(world.updateApp(app.name, (a) => ({ ...a, secretsGenerated: true })))
        )
    })
  })
)
