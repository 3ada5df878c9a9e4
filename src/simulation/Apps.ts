/**
 * In-memory Apps over the simulated world. It follows the live layer over abra: the same typed
 * errors (operation names included) for what abra refuses, and an undeploy of an app that is not
 * deployed leaves it so, as the live layer does with abra's "is not deployed?".
 */
import { Clock, Effect, Layer, Option, Ref } from "effect"
import type { AppSpec } from "../domain/Config.js"
import { AbraError, Apps } from "../services/Apps.js"
import { type InjectedFault, SimulatedWorld } from "./World.js"

const fromFault = (app: AppSpec, operation: string) => (fault: InjectedFault) =>
  new AbraError({ app: app.name, operation, message: `abra ${operation} ${app.domain} failed: ${fault.message}` })

/** What abra says (as `FATA <reason>`) when it refuses; the live layer's message has the same shape. */
const refused = (app: AppSpec, operation: string, reason: string) =>
  new AbraError({ app: app.name, operation, message: `abra ${operation} for ${app.domain} failed: ${reason}` })

/** In-memory abra over the simulated world. */
export const layerTest: Layer.Layer<Apps, never, SimulatedWorld> = Layer.effect(
  Apps,
  Effect.gen(function*() {
    const world = yield* SimulatedWorld
    /** abra works on an app through its env file: without one it cannot find the app. */
    const existing = (app: AppSpec, operation: string) =>
      Effect.flatMap(
        world.app(app.name),
        (a) => Option.isSome(a.env) ? Effect.succeed(a) : refused(app, operation, `unable to find app ${app.domain}`)
      )
    return Apps.of({
      ensureServer: (server, add = true) =>
        world.step("server", server, `server ls / add ${server}`).pipe(
          Effect.mapError((fault) =>
            new AbraError({ app: server, operation: "server", message: `abra server add failed: ${fault.message}` })
          ),
          Effect.zipRight(Ref.get(world.state)),
          Effect.flatMap((s) =>
            // As the live layer: only the local server is added; any other must be known already.
            s.servers.has(server) || (server === "default" && add)
              ? Ref.update(world.state, (s) => ({ ...s, servers: new Set([...s.servers, server]) }))
              : new AbraError({
                app: server,
                operation: "server ls",
                message: `abra does not know the server ${server}: add it with \`abra server add\` first`
              })
          )
        ),
      readEnv: (app) =>
        world.step("env-read", app.name, `read ${app.domain}.env`).pipe(
          Effect.mapError(fromFault(app, "env read")),
          Effect.zipRight(world.app(app.name)),
          // The env file is found by domain: a config naming another domain finds none.
          Effect.map((a) =>
            a.spec.domain !== app.domain
              ? Option.none()
              : Option.map(a.env, (e) => ({ pinned: e.pinned, secrets: e.secrets }))
          )
        ),
      readSettings: (app) =>
        world.step("env-read", app.name, `read settings of ${app.domain}.env`).pipe(
          Effect.mapError(fromFault(app, "env read")),
          Effect.zipRight(world.app(app.name)),
          Effect.map((a) =>
            a.spec.domain !== app.domain
              ? Option.none()
              : Option.map(a.env, (e) => ({
                recipe: Option.some(e.recipe ?? a.spec.recipe),
                autoUpdate: e.autoUpdate ?? false
              }))
          )
        ),
      envPath: (app) => `/root/.abra/servers/${app.server}/${app.domain}.env`,
      domains: (server) =>
        world.step("env-read", server, `ls servers/${server}`).pipe(
          Effect.mapError((fault) =>
            new AbraError({ app: server, operation: "app list", message: `listing ${server} failed: ${fault.message}` })
          ),
          Effect.zipRight(Ref.get(world.state)),
          Effect.map((s) =>
            [...s.apps.values()].filter((a) => a.spec.server === server && Option.isSome(a.env)).map((a) =>
              a.spec.domain
            ).sort()
          )
        ),
      servers: () =>
        world.step("env-read", "servers", "ls servers").pipe(
          Effect.mapError((fault) =>
            new AbraError({ app: "servers", operation: "server list", message: `listing failed: ${fault.message}` })
          ),
          Effect.zipRight(Ref.get(world.state)),
          // abra has a directory for a server once it knows it or holds an app's env file there.
          Effect.map((s) =>
            [
              ...new Set([
                ...s.servers,
                ...[...s.apps.values()].filter((a) => Option.isSome(a.env)).map((a) => a.spec.server)
              ])
            ].sort()
          )
        ),
      found: (server) =>
        world.step("env-read", server, `read the env files of servers/${server}`).pipe(
          Effect.mapError((fault) =>
            new AbraError({ app: server, operation: "app list", message: `listing ${server} failed: ${fault.message}` })
          ),
          Effect.zipRight(Ref.get(world.state)),
          Effect.map((s) =>
            [...s.apps.values()].filter((a) => a.spec.server === server).flatMap((a) =>
              Option.match(a.env, {
                onNone: () => [],
                onSome: (e) => [{
                  server,
                  domain: a.spec.domain,
                  recipe: Option.some(e.recipe ?? a.spec.recipe),
                  autoUpdate: e.autoUpdate ?? false
                }]
              })
            ).sort((a, b) => a.domain.localeCompare(b.domain))
          )
        ),
      create: (app, version) =>
        world.step("app-new", app.name, `app new ${app.recipe} ${version} -D ${app.domain}`, version).pipe(
          Effect.mapError(fromFault(app, "app new")),
          Effect.zipRight(Effect.all([world.app(app.name), Ref.get(world.state)])),
          Effect.flatMap(([a, s]) =>
            !s.servers.has(app.server)
              ? refused(app, "app new", `server ${app.server} does not exist: run "abra server add"`)
              : Option.isSome(a.env)
              ? refused(app, "app new", `${app.domain}.env already exists`)
              : world.updateApp(app.name, (a) => ({
                ...a,
                // The env file is the recipe's sample: it declares the recipe's secrets.
                env: Option.some({ pinned: Option.some(version), secrets: s.recipes.get(app.recipe)?.secrets ?? [] })
              }))
          )
        ),
      deploy: (app, version) =>
        world.step("deploy", app.name, `app deploy ${app.domain} ${version}`, version).pipe(
          Effect.mapError(fromFault(app, `app deploy ${version}`)),
          Effect.zipRight(existing(app, `app deploy ${version}`)),
          Effect.zipRight(Ref.get(world.state)),
          Effect.flatMap((s) =>
            s.recipes.get(app.recipe)?.tags.includes(version)
              ? Effect.void
              : refused(app, `app deploy ${version}`, `${version} is not a published version`)
          ),
          Effect.zipRight(Effect.all([Clock.currentTimeMillis, world.release(app.recipe, version)])),
          Effect.flatMap(([now, release]) =>
            world.updateApp(app.name, (a) => ({
              ...a,
              // Over a running stack, Swarm updates its services in place: the old spec is kept.
              deployment: Option.some({
                version,
                at: now,
                broken: false,
                ...Option.match(a.deployment, {
                  onNone: () => ({}),
                  onSome: (d) => ({ replaced: { version: d.version, at: d.at } })
                })
              }),
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
          Effect.mapError(fromFault(app, "app undeploy")),
          Effect.zipRight(existing(app, "app undeploy")),
          // Undeploying what is not deployed leaves it as wanted (abra says "is not deployed?").
          Effect.zipRight(world.updateApp(app.name, (a) => ({ ...a, deployment: Option.none() })))
        ),
      generateSecrets: (app) =>
        world.step("secrets-generate", app.name, `app secret generate ${app.domain} --all`).pipe(
          Effect.mapError(fromFault(app, "app secret generate")),
          Effect.zipRight(existing(app, "app secret generate")),
          Effect.zipRight(world.updateApp(app.name, (a) => ({ ...a, secretsGenerated: true })))
        )
    })
  })
)
