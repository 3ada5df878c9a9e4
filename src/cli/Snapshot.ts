/** `snapshot take|restore|show|export <app>`: the snapshot of a stateful app's volumes, by hand. */
import { Args, Command, Options } from "@effect/cli"
import { Clock, Console, Effect, Option } from "effect"
import * as LiveLock from "../live/Lock.js"
import { exportTar } from "../live/snapshot/Export.js"
import { Apps } from "../services/Apps.js"
import { Docker } from "../services/Docker.js"
import { Lock } from "../services/Lock.js"
import { SnapshotError, Snapshots } from "../services/Snapshots.js"
import { State } from "../services/State.js"
import * as ConfigFile from "./ConfigFile.js"
import { exitCode } from "./ExitCode.js"
import * as Shared from "./Options.js"
import { printingRedacted, setExitCode, withLive } from "./Output.js"
import { describeSummary } from "./SnapshotListing.js"

const snapshotAction = Args.choice(
  [["take", "take"], ["restore", "restore"], ["show", "show"], ["export", "export"]] as const,
  { name: "action" }
)

const output = Options.text("output").pipe(
  Options.withAlias("o"),
  Options.withDescription("export: write the tar archive to this file (atomically) instead of stdout"),
  Options.optional
)

export const snapshotCommand = Command.make(
  "snapshot",
  {
    action: snapshotAction,
    app: Shared.oneApp,
    config: Shared.config,
    lockWait: Shared.lockWait,
    output,
    json: Shared.json("snapshot", "a listing")
  },
  (args) =>
    Effect.flatMap(ConfigFile.load(args.config), (loaded) =>
      printingRedacted(loaded)(Effect.gen(function*() {
        const app = yield* ConfigFile.findApp(loaded, args.app)
        // A snapshot taken now would replace the one an unfinished upgrade's recovery needs; a restore
        // now would race that recovery. Recovery is reconcile's job.
        const refuseInFlight = (operation: "take" | "restore") =>
          Effect.gen(function*() {
            const pending = yield* Effect.flatMap(State, (state) => state.inFlight(app.name))
            if (Option.isNone(pending)) return
            return yield* new SnapshotError({
              app: app.name,
              operation,
              message: `${app.name} has an unfinished upgrade ${pending.value.from} -> ${pending.value.to} ` +
                `(in-flight.json): run \`warm-reconcile reconcile ${app.name}\` to recover it before you ${operation} a snapshot`
            })
          })
        const work = Effect.gen(function*() {
          const snapshots = yield* Snapshots
          const docker = yield* Docker
          const apps = yield* Apps
          switch (args.action) {
            case "show": {
              const listed = yield* snapshots.list(app)
              if (args.json) {
                for (const s of listed) {
                  yield* Console.log(JSON.stringify({
                    ...s,
                    volumes: s.volumes.map((v) => ({ ...v, files: Option.getOrNull(v.files) }))
                  }))
                }
                return
              }
              if (listed.length === 0) return yield* Console.log(`no snapshot for ${app.name}`)
              const now = yield* Clock.currentTimeMillis
              for (const s of listed) yield* Console.log(describeSummary(s, now).join("\n"))
              return
            }
            case "export": {
              const to = yield* exportTar(loaded.config.stateDir, app, args.output)
              if (Option.isSome(args.output)) yield* Console.error(`exported the last snapshot of ${app.name} to ${to}`)
              return
            }
            case "take": {
              yield* refuseInFlight("take")
              const env = yield* apps.readEnv(app)
              const pinned = Option.flatMap(env, (e) => e.pinned)
              const version = Option.isSome(pinned) ? pinned : yield* docker.deployedVersion(app.stack)
              const volumes = yield* docker.stackVolumes(app.stack)
              const meta = yield* snapshots.take(app, Option.getOrElse(version, () => "unknown"), volumes)
              yield* Console.log(`snapshot of ${meta.volumes.length} volume(s) of ${app.name} taken as ${meta.version}`)
              return
            }
            case "restore": {
              yield* refuseInFlight("restore")
              const volumes = yield* docker.stackVolumes(app.stack)
              const meta = yield* snapshots.restore(app, volumes)
              yield* Console.log(`restored ${meta.volumes.length} volume(s) of ${app.name} to ${meta.version}`)
              return
            }
          }
        })
        // A tar archive on a terminal is noise, and could leave it in a strange state.
        if (args.action === "export" && Option.isNone(args.output) && process.stdout.isTTY) {
          return yield* new ConfigFile.UsageError({
            message:
              "refusing to write a tar archive to a terminal: redirect stdout (> snapshot.tar) or pass --output FILE"
          })
        }
        // Take, restore and export hold the app's lock, as a reconcile run does: never beside a running
        // upgrade (an export reads a snapshot that a take would replace).
        const locked = args.action === "show" ? work : Effect.scoped(
          Effect.flatMap(Lock, (lock) => lock.acquire(app.name, args.lockWait)).pipe(
            Effect.zipRight(work),
            Effect.provide(LiveLock.layer({ stateDir: loaded.config.stateDir }))
          )
        )
        yield* withLive(loaded, locked).pipe(
          Effect.catchAll((e) => Console.error(e.message).pipe(Effect.zipRight(setExitCode(exitCode(e)))))
        )
      })))
).pipe(
  Command.withDescription(
    "Take, restore, show (the last snapshot and those kept) or export (a tar archive) the snapshot of a stateful " +
      "app's volumes (the app must be undeployed to take or restore)."
  )
)
