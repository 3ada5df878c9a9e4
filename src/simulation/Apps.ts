/** In-memory Apps over the simulated world. */
import { Clock, Effect, Layer, Option, Ref } from "effect"
import type { AppSpec } from "../domain/Config.js"
import { AbraError, Apps } from "../services/Apps.js"
import { type InjectedFault, SimulatedWorld } from "./World.js"

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
