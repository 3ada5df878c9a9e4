/**
 * Snapshot every stateful app of a config file now, as `warm-reconcile snapshot take <app>` does
 * for one app, on the package's live layers. Run it with the apps undeployed (say, before host
 * maintenance):
 *
 *   npx tsx examples/snapshot-stateful.ts [/etc/warm-reconcile/config.json]
 *
 * A snapshot needs the stack undeployed: a copy of a running database's files is not a usable
 * backup. Deployed apps are skipped, not undeployed behind the operator's back. So is an app with
 * an unfinished upgrade (`in-flight.json`): its snapshot is what the recovery will restore, and a
 * new one would replace it with the half-upgraded data. Note that the new snapshot replaces the
 * app's last-good one, as the CLI's does.
 */
import { FileSystem } from "@effect/platform"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Console, Data, Effect, Either, Option, Schema } from "effect"
import * as Os from "node:os"
import * as Path from "node:path"
import { Apps, Config, Docker, Snapshots, State } from "warm-reconcile"
import { Live } from "warm-reconcile/live"

class SnapshotsFailed extends Data.TaggedError("SnapshotsFailed")<{ readonly message: string }> {}

const loadConfig = (path: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const json = yield* fs.readFileString(path).pipe(Effect.flatMap(Schema.decodeUnknown(Schema.parseJson())))
    return yield* Config.decodeConfig(json, path)
  })

/** One app: what was done, or why it was skipped; fails with the service's typed error. */
const snapshotApp = (app: Config.AppSpec) =>
  Effect.gen(function*() {
    const docker = yield* Docker.Docker
    if (yield* docker.isDeployed(app.stack)) return `skipped: deployed; undeploy it first`
    const inFlight = yield* Effect.flatMap(State.State, (state) => state.inFlight(app.name))
    if (Option.isSome(inFlight)) {
      return `skipped: the upgrade ${inFlight.value.from} -> ${inFlight.value.to} is unfinished; ` +
        `run \`warm-reconcile reconcile ${app.name}\` to recover it first`
    }
    // As the CLI: the data is that of the version abra pinned at the last deploy (the stack is
    // down, so it has no version label to read).
    const env = yield* Effect.flatMap(Apps.Apps, (apps) => apps.readEnv(app))
    const version = Option.getOrElse(Option.flatMap(env, (e) => e.pinned), () => "unknown")
    const volumes = yield* docker.stackVolumes(app.stack)
    const meta = yield* Effect.flatMap(Snapshots.Snapshots, (snapshots) => snapshots.take(app, version, volumes))
    return `taken: ${meta.volumes.length} volume(s) as ${meta.version}`
  })

const program = Effect.gen(function*() {
  const configPath = process.argv[2] ?? "/etc/warm-reconcile/config.json"
  const config = yield* loadConfig(configPath)
  // As the CLI: the config's abraDir, else $ABRA_DIR, else ~/.abra.
  const abraDir = config.abraDir ?? process.env["ABRA_DIR"] ?? Path.join(Os.homedir(), ".abra")
  const stateful = Config.appSpecs(config).filter((app) => app.stateful)
  // One app at a time (each snapshot reads every byte of its volumes); a failure stops no other.
  const results = yield* Effect.forEach(stateful, (app) =>
    snapshotApp(app).pipe(
      Effect.either,
      Effect.tap((result) =>
        Console.log(`SNAPSHOT ${app.name}: ${Either.getOrElse(result, (e) => `failed: ${e.message}`)}`)
      )
    )).pipe(Effect.provide(Live.layer({ stateDir: config.stateDir, abraDir })))
  const failed = stateful.filter((_, i) => Either.isLeft(results[i]!))
  if (failed.length > 0) {
    return yield* new SnapshotsFailed({ message: `no snapshot for ${failed.map((a) => a.name).join(", ")}` })
  }
})

program.pipe(Effect.provide(NodeContext.layer), NodeRuntime.runMain)
