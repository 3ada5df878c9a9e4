/** In-memory Snapshots over the simulated world. */
import { Clock, Effect, Either, Layer, Option, Ref } from "effect"
import { createHash } from "node:crypto"
import type { AppSpec } from "../domain/Config.js"
import { compiled, excludesOf, keepOf, selects, selectVolumes } from "../domain/SnapshotConfig.js"
import { excludesFile } from "../domain/SnapshotExclude.js"
import type { StackVolume } from "../services/Docker.js"
import { SnapshotError, SnapshotMeta, Snapshots } from "../services/Snapshots.js"
import { type Files, type InjectedFault, type SimSnapshot, SimulatedWorld } from "./World.js"

type Operation = SnapshotError["operation"]

const failure = (app: AppSpec, operation: Operation, message: string) =>
  new SnapshotError({ app: app.name, operation, message: `snapshot ${operation} for ${app.name}: ${message}` })

/** A sha256 per volume, as the live meta.json has one per archive: here over the volume's files. */
const sha256Of = (files: ReadonlyMap<string, string>): string =>
  createHash("sha256").update(JSON.stringify([...files].sort(([a], [b]) => a < b ? -1 : 1))).digest("hex")

const fromFault = (app: AppSpec, operation: Operation) => (fault: InjectedFault) =>
  failure(app, operation, fault.message)

/** The volumes the config selects, or the live store's refusal of a config naming others. */
const selected = (
  app: AppSpec,
  operation: Operation,
  volumes: ReadonlyArray<StackVolume>
): Effect.Effect<ReadonlyArray<StackVolume>, SnapshotError> =>
  Either.match(selectVolumes(app, volumes), {
    onLeft: (message) => Effect.fail(failure(app, operation, message)),
    onRight: (chosen) => Effect.as(refused(app, operation, chosen), chosen)
  })

/** As the live store: a volume Docker says cannot be copied (a bind, NFS, outside its data root). */
const refused = (app: AppSpec, operation: Operation, volumes: ReadonlyArray<StackVolume>) => {
  const first = volumes.find((v) => v.refused !== undefined)
  return first === undefined
    ? Effect.void
    : Effect.fail(failure(app, operation, `${first.refused}; nothing was changed`))
}

/** The files of a volume without those the patterns leave out, as rsync --exclude copies them. */
const without = (files: Files, patterns: ReadonlyArray<string>): Files => {
  const compiledPatterns = compiled(patterns)
  return new Map([...files].filter(([path]) => !excludesFile(compiledPatterns, path)))
}

/** In-memory snapshots of the simulated world's volumes. */
export const layerTest: Layer.Layer<Snapshots, never, SimulatedWorld> = Layer.effect(
  Snapshots,
  Effect.gen(function*() {
    const world = yield* SimulatedWorld
    const volumeName = (app: AppSpec, v: StackVolume) => v.name.slice(app.stack.length + 1)
    const metaOf = (app: AppSpec, snapshot: SimSnapshot) =>
      new SnapshotMeta({
        recipe: app.recipe,
        domain: app.domain,
        version: snapshot.version,
        ts: new Date(snapshot.at).toISOString(),
        volumes: [...snapshot.volumes.keys()].map((v) => `${app.stack}_${v}`),
        sha256: Object.fromEntries([...snapshot.volumes].map(([v, files]) => [`${app.stack}_${v}`, sha256Of(files)])),
        ...(snapshot.exclude === undefined ? {} : {
          exclude: Object.fromEntries([...snapshot.exclude].map(([v, list]) => [`${app.stack}_${v}`, list]))
        })
      })
    return Snapshots.of({
      // A read of the world, as the live check only reads: not a step that may fail.
      space: (app, all) =>
        Effect.gen(function*() {
          const volumes = yield* selected(app, "space", all)
          const s = yield* Ref.get(world.state)
          const a = yield* world.app(app.name)
          const last = s.snapshots.get(app.name)
          const needed = volumes.map((v) => volumeName(app, v)).reduce((sum, n) => {
            const before = last?.volumes.get(n)
            return sum + [...without(a.volumes.get(n) ?? new Map<string, string>(), excludesOf(app, n))]
              .filter(([path, text]) => before?.get(path) !== text)
              .reduce((bytes, [, text]) => bytes + text.length, 0)
          }, 0)
          return { free: s.diskFree, needed }
        }),
      // The live pre-copy changes no volume and no snapshot: here it is only a step that may fail.
      precopy: (app, all) =>
        selected(app, "precopy", all).pipe(
          Effect.flatMap((volumes) =>
            world.step("snapshot-precopy", app.name, `pre-copy ${volumes.length} volume(s)`).pipe(
              Effect.mapError(fromFault(app, "precopy"))
            )
          )
        ),
      take: (app, version, all) =>
        Effect.gen(function*() {
          const volumes = yield* selected(app, "take", all)
          yield* world.step("snapshot", app.name, `snapshot ${volumes.length} volume(s) as ${version}`, version).pipe(
            Effect.mapError(fromFault(app, "take"))
          )
          const a = yield* world.app(app.name)
          if (Option.isSome(a.deployment)) return yield* failure(app, "take", "refused: the app is still deployed")
          const at = yield* Clock.currentTimeMillis
          const names = volumes.map((v) => volumeName(app, v))
          const copy = new Map(names.flatMap((n) => {
            const files = a.volumes.get(n)
            return files ? [[n, without(files, excludesOf(app, n))] as const] : []
          }))
          const exclude = new Map(names.map((n) => [n, excludesOf(app, n)] as const).filter(([, l]) => l.length > 0))
          const snapshot: SimSnapshot = { version, at, volumes: copy, ...(exclude.size > 0 ? { exclude } : {}) }
          yield* Ref.update(world.state, (s) => {
            // The replaced snapshot becomes the newest older one, as the live store keeps it.
            const previous = s.snapshots.get(app.name)
            const older = previous === undefined
              ? []
              : [{ ...previous, older: [] }, ...(previous.older ?? [])].slice(0, keepOf(app))
            const kept: SimSnapshot = older.length > 0 ? { ...snapshot, older } : snapshot
            return { ...s, snapshots: new Map([...s.snapshots, [app.name, kept]]) }
          })
          return metaOf(app, snapshot)
        }),
      restore: (app, volumes) =>
        Effect.gen(function*() {
          yield* world.step("restore", app.name, `restore ${volumes.length} volume(s)`).pipe(
            Effect.mapError(fromFault(app, "restore"))
          )
          const s = yield* Ref.get(world.state)
          const snapshot = s.snapshots.get(app.name)
          if (!snapshot) return yield* failure(app, "restore", "there is no snapshot to restore")
          // As the live layer: a volume list that differs from the snapshot's would be a partial restore.
          const held = [...snapshot.volumes.keys()]
          const missing = held.filter((n) => !volumes.some((v) => volumeName(app, v) === n))
          const extra = volumes.filter((v) => selects(app, v.name)).map((v) => volumeName(app, v)).filter((n) =>
            !snapshot.volumes.has(n)
          )
          if (missing.length > 0 || extra.length > 0) {
            const names = (list: ReadonlyArray<string>) => list.map((n) => `${app.stack}_${n}`).join(", ")
            return yield* failure(
              app,
              "restore",
              missing.length > 0
                ? `the snapshot holds volume(s) ${names(missing)} that Docker does not list now`
                : `volume(s) ${names(extra)} are not in the snapshot: refusing a partial restore`
            )
          }
          yield* refused(app, "restore", volumes.filter((v) => snapshot.volumes.has(volumeName(app, v))))
          const a = yield* world.app(app.name)
          if (Option.isSome(a.deployment)) return yield* failure(app, "restore", "refused: the app is still deployed")
          // What the take left out stays as the failed release left it.
          const restored = (n: string, f: Files, now: Files | undefined): Files => {
            const patterns = compiled(snapshot.exclude?.get(n) ?? [])
            return new Map([...f, ...[...(now ?? [])].filter(([path]) => excludesFile(patterns, path))])
          }
          yield* world.updateApp(app.name, (a) => ({
            ...a,
            volumes: new Map([
              ...a.volumes,
              ...[...snapshot.volumes].map(([n, f]) => [n, restored(n, f, a.volumes.get(n))] as const)
            ])
          }))
          return metaOf(app, snapshot)
        }),
      list: (app) =>
        world.step("snapshot-show", app.name, "read snapshot meta").pipe(
          Effect.mapError(fromFault(app, "show")),
          Effect.zipRight(Ref.get(world.state)),
          Effect.map((s) => {
            const last = s.snapshots.get(app.name)
            if (last === undefined) return []
            const summary = (snap: SimSnapshot, kept: boolean) => ({
              meta: metaOf(app, snap),
              volumes: [...snap.volumes].map(([n, files]) => ({
                name: `${app.stack}_${n}`,
                files: Option.some(files.size),
                bytes: [...files.values()].reduce((sum, text) => sum + text.length, 0)
              })),
              kept
            })
            return [summary(last, false), ...(last.older ?? []).map((o) => summary(o, true))]
          })
        ),
      show: (app) =>
        world.step("snapshot-show", app.name, "read snapshot meta").pipe(
          Effect.mapError(fromFault(app, "show")),
          Effect.zipRight(Ref.get(world.state)),
          Effect.map((s) =>
            Option.map(
              Option.fromNullable(s.snapshots.get(app.name)),
              (snap) => metaOf(app, snap)
            )
          )
        )
    })
  })
)
