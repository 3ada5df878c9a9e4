/** Apps on the real server: abra as a process (always `-n`), and the app's env file. */
import { FileSystem } from "@effect/platform"
import type { Duration } from "effect"
import { Array as Arr, Effect, Either, Layer, Option, Schema } from "effect"
import * as Path from "node:path"
import type { AppSpec } from "../domain/Config.js"
import type { FoundApp } from "../domain/Discovery.js"
import * as EnvFile from "../domain/EnvFile.js"
import { AbraError, type AppEnv, Apps, type EnvSettings } from "../services/Apps.js"
import { type ProcessError, ProcessRunner } from "../services/ProcessRunner.js"
import { writeFileAtomic } from "./AtomicFile.js"
import { processFailure } from "./ProcessErrors.js"

export interface AppsOptions {
  readonly abraDir: string
}

const fail = (app: AppSpec, operation: string) => (e: ProcessError) =>
  new AbraError({ app: app.name, operation, ...processFailure(`abra ${operation} for ${app.domain}`, e) })

export const envPath = (abraDir: string, app: AppSpec) => Path.join(abraDir, "servers", app.server, `${app.domain}.env`)

export const make = (options: AppsOptions) =>
  Effect.gen(function*() {
    const runner = yield* ProcessRunner
    const fs = yield* FileSystem.FileSystem
    const env = { ABRA_DIR: options.abraDir }
    const abra = (app: AppSpec, operation: string, args: ReadonlyArray<string>, timeout: Duration.DurationInput) =>
      runner.run("abra", args, { env, timeout }).pipe(Effect.mapError(fail(app, operation)))

    const readFile = (app: AppSpec) =>
      Effect.gen(function*() {
        const path = envPath(options.abraDir, app)
        const text = yield* fs.readFileString(path).pipe(
          Effect.map(Option.some),
          Effect.catchIf(
            (e) => e._tag === "SystemError" && e.reason === "NotFound",
            () => Effect.succeed(Option.none())
          ),
          Effect.mapError((e) =>
            new AbraError({ app: app.name, operation: "env read", message: `cannot read ${path}: ${e.message}` })
          )
        )
        if (Option.isNone(text)) {
          return Option.none()
        }
        const parsed = EnvFile.parse(text.value)
        if (Either.isLeft(parsed)) {
          return yield* new AbraError({
            app: app.name,
            operation: "env read",
            message: `${path}: ${parsed.left.message}: fix the env file by hand`
          })
        }
        return Option.some({ path, file: parsed.right })
      })

    /** The names in a directory (none when it does not exist). */
    const list = (dir: string, owner: string, operation: string) =>
      fs.readDirectory(dir).pipe(
        Effect.catchIf(
          (e) => e._tag === "SystemError" && e.reason === "NotFound",
          () => Effect.succeed([] as Array<string>)
        ),
        Effect.mapError((e) => new AbraError({ app: owner, operation, message: `cannot list ${dir}: ${e.message}` }))
      )
    const domains = (server: string) =>
      list(Path.join(options.abraDir, "servers", server), server, "app list").pipe(
        Effect.map((names) =>
          names.filter((n) => n.endsWith(".env") && !n.startsWith(".")).map((n) => n.slice(0, -".env".length)).sort()
        ),
        Effect.withSpan("Apps.domains")
      )

    return Apps.of({
      ensureServer: Effect.fn("Apps.ensureServer")(function*(server, add = true) {
        const spec = { name: server, domain: server } as AppSpec
        const listed = yield* runner.exec("abra", ["server", "ls", "-m", "-n"], { env, timeout: "1 minute" }).pipe(
          Effect.mapError(fail(spec, "server ls"))
        )
        const names = listed.exitCode === 0 ? serverNames(listed.stdout) : []
        if (names.includes(server)) return
        if (server !== "default" || !add) {
          return yield* new AbraError({
            app: server,
            operation: "server ls",
            message: `abra does not know the server ${server}: add it with \`abra server add\` first`
          })
        }
        yield* abra(spec, "server add", ["server", "add", "--local", "-n"], "1 minute")
      }),
      readEnv: Effect.fn("Apps.readEnv")(function*(app) {
        const found = yield* readFile(app)
        return Option.map(found, ({ file }): AppEnv => ({
          pinned: EnvFile.pinnedVersion(file),
          secrets: EnvFile.declaredSecrets(file)
        }))
      }),
      readSettings: Effect.fn("Apps.readSettings")(function*(app) {
        const found = yield* readFile(app)
        return Option.map(found, ({ file }) => settingsOf(file))
      }),
      envPath: (app) => envPath(options.abraDir, app),
      domains,
      servers: Effect.fn("Apps.servers")(function*() {
        const dir = Path.join(options.abraDir, "servers")
        const names = yield* list(dir, "servers", "server list")
        const dirs = yield* Effect.filter(
          names.filter((n) => !n.startsWith(".")),
          (n) =>
            fs.stat(Path.join(dir, n)).pipe(
              Effect.map((s) => s.type === "Directory"),
              Effect.orElseSucceed(() => false)
            )
        )
        return dirs.sort()
      }),
      found: Effect.fn("Apps.found")(function*(server) {
        const known = yield* domains(server)
        return yield* Effect.forEach(known, (domain) =>
          readFile({ name: domain, domain, server } as AppSpec).pipe(
            Effect.map((file): FoundApp => {
              const settings = Option.map(file, (f) => settingsOf(f.file))
              return {
                server,
                domain,
                recipe: Option.flatMap(settings, (s) => s.recipe),
                autoUpdate: Option.exists(settings, (s) => s.autoUpdate)
              }
            }),
            // One unreadable env file does not hide the others.
            Effect.catchAll((e) =>
              Effect.succeed<FoundApp>({
                server,
                domain,
                recipe: Option.none(),
                autoUpdate: false,
                unreadable: e.message
              })
            )
          ))
      }),
      create: Effect.fn("Apps.create")(function*(app, version) {
        yield* abra(app, "app new", [
          "app",
          "new",
          app.recipe,
          version,
          "-s",
          app.server,
          "-D",
          app.domain,
          "-o",
          "-n"
        ], "2 minutes")
        // As the original: the domain, and no Let's Encrypt environment (the proxy decides).
        const found = yield* readFile(app)
        if (Option.isNone(found)) {
          return yield* new AbraError({
            app: app.name,
            operation: "app new",
            message: "abra app new wrote no env file"
          })
        }
        const { file, path } = found.value
        const edited = EnvFile.set(EnvFile.set(file, "DOMAIN", app.domain), "LETS_ENCRYPT_ENV", "")
        const mode = yield* fs.stat(path).pipe(Effect.map((s) => s.mode & 0o777), Effect.orElseSucceed(() => 0o600))
        yield* writeFileAtomic(path, EnvFile.render(edited), { mode }).pipe(
          Effect.provideService(FileSystem.FileSystem, fs),
          Effect.mapError((e) => new AbraError({ app: app.name, operation: "env write", message: e.message }))
        )
      }),
      deploy: Effect.fn("Apps.deploy")(function*(app, version) {
        yield* abra(
          app,
          `app deploy ${version}`,
          ["app", "deploy", app.domain, version, "-o", "-n", "-f"],
          app.deployTimeout
        )
      }),
      undeploy: Effect.fn("Apps.undeploy")(function*(app) {
        yield* abra(app, "app undeploy", ["app", "undeploy", app.domain, "-n"], app.deployTimeout).pipe(
          // Undeploying what is not deployed leaves it as wanted.
          Effect.catchIf((e) => (e.stderr ?? "").includes("is not deployed"), () => Effect.void)
        )
      }),
      generateSecrets: Effect.fn("Apps.generateSecrets")(function*(app) {
        yield* abra(app, "app secret generate", ["app", "secret", "generate", app.domain, "--all", "-n"], "2 minutes")
      })
    })
  })

/** What the env file says about how the app is run beside people: its recipe and its opt-in. */
const settingsOf = (file: EnvFile.EnvFile): EnvSettings => ({
  recipe: EnvFile.recipe(file),
  autoUpdate: Option.exists(EnvFile.get(file, "ENABLE_AUTO_UPDATE"), (v) => v.trim().toLowerCase() === "true")
})

/** Apps through abra (needs a ProcessRunner) and its env files (a FileSystem). */
export const layer = (options: AppsOptions): Layer.Layer<Apps, never, ProcessRunner | FileSystem.FileSystem> =>
  Layer.effect(Apps, make(options))

/** One entry of `abra server ls -m`: abra prints `{"name", "host"}`; a bare name is taken too. */
const ServerEntry = Schema.Union(Schema.String, Schema.pluck(Schema.Struct({ name: Schema.String }), "name"))
const decodeServerList = Schema.decodeUnknownOption(Schema.parseJson(Schema.Array(Schema.Unknown)))
const decodeServerEntry = Schema.decodeUnknownOption(ServerEntry)

/** The server names in `abra server ls -m` output; lenient (its exact shape is unverified): what does not decode is skipped. */
export const serverNames = (stdout: string): Array<string> =>
  Option.match(decodeServerList(stdout), {
    onNone: () => [],
    onSome: Arr.filterMap((entry) => decodeServerEntry(entry))
  })
