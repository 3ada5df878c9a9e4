/** `snapshot take|restore|show <app>`: the snapshot of a stateful app's volumes, by hand. */
import { Args, Command } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import * as LiveLock from "../live/Lock.js"
import { Apps } from "../services/Apps.js"
import { Docker } from "../services/Docker.js"
import { Lock } from "../services/Lock.js"
import { SnapshotError, Snapshots } from "../services/Snapshots.js"
import { State } from "../services/State.js"
import * as ConfigFile from "./ConfigFile.js"
import { exitCode } from "./ExitCode.js"
import * as Shared from "./Options.js"
import { setExitCode, withLive } from "./Output.js"

const snapshotAction = Args.choice([["take", "take"], ["restore", "restore"], ["show", "show"]] as const, {
  name: "action"
})

export const snapshotCommand = Command.make(
  "snapshot",
  { action: snapshotAction, app: Shared.oneApp, config: Shared.config, lockWait: Shared.lockWait },
  (args) =>
    Effect.gen(function*() {
      const loaded = yield* ConfigFile.load(args.config)
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
            const meta = yield* snapshots.show(app)
            yield* Console.log(Option.match(meta, {
              onNone: () => `no snapshot for ${app.name}`,
              onSome: (m) => JSON.stringify(m, null, 2)
            }))
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
      // Take and restore hold the app's lock, as a reconcile run does: never beside a running upgrade.
      const locked = args.action === "show" ? work : Effect.scoped(
        Effect.flatMap(Lock, (lock) => lock.acquire(app.name, args.lockWait)).pipe(
          Effect.zipRight(work),
          Effect.provide(LiveLock.layer({ stateDir: loaded.config.stateDir }))
        )
      )
      yield* withLive(loaded, locked).pipe(
        Effect.catchAll((e) => Console.error(e.message).pipe(Effect.zipRight(setExitCode(exitCode(e)))))
      )
    })
).pipe(
  Command.withDescription(
    "Take, restore or show the snapshot of a stateful app's volumes (the app must be undeployed to take or restore)."
  )
)
