/**
 * Snapshots, live (tar archives under a temp state dir, volumes as real directories, the Docker
 * client on the fake engine) and in memory: show, take, restore round trip, and the refusals.
 */
import { expect } from "@effect/vitest"
import { Context, Effect, Layer, Option } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import type { AppSpec } from "../../src/domain/Config.js"
import { SnapshotConfig } from "../../src/domain/SnapshotConfig.js"
import * as LiveDocker from "../../src/live/Docker.js"
import * as LiveSnapshots from "../../src/live/Snapshots.js"
import type { StackVolume } from "../../src/services/Docker.js"
import { type SnapshotMeta, Snapshots } from "../../src/services/Snapshots.js"
import * as SimulatedSnapshots from "../../src/simulation/Snapshots.js"
import { appService, fakeEngine } from "../support/fakeEngine.js"
import * as Contract from "./harness.js"

const app = Contract.contractApp()
const [v1, v2] = ["1.1.0+1.1", "1.2.0+1.2"]
const NAMES = ["data", "db"] as const

/** Files by volume (without the stack prefix), by path inside the volume. */
type Volumes = Readonly<Record<string, Readonly<Record<string, string>>>>

const BEFORE: Volumes = {
  data: { "realms/master.json": "{\"realm\":\"master\"}\n", "users.json": "[1]\n" },
  db: { "schema": "schema 11\n" }
}
const MIGRATED: Volumes = {
  data: { "realms/master.json": "{\"realm\":\"master\",\"v\":12}\n", "cache/new.bin": "x" },
  db: { "schema": "schema 12\n" }
}

interface SnapshotsWorld {
  readonly snapshots: Snapshots["Type"]
  readonly volumes: ReadonlyArray<StackVolume>
  readonly deployed: (deployed: boolean) => Effect.Effect<void>
  /** Replace the volumes' contents. */
  readonly write: (files: Volumes) => Effect.Effect<void>
  readonly files: Effect.Effect<Volumes>
}

/** Every regular file under `dir`, by path relative to it. */
const readTree = (dir: string): Record<string, string> =>
  Object.fromEntries(
    Fs.readdirSync(dir, { recursive: true, encoding: "utf8" })
      .filter((p) => Fs.statSync(Path.join(dir, p)).isFile())
      .sort()
      .map((p) => [p, Fs.readFileSync(Path.join(dir, p), "utf8")])
  )

const liveTwin = Contract.live<SnapshotsWorld>(Effect.gen(function*() {
  const root = yield* Contract.scratchDir("contract-snapshots-")
  const volumes = NAMES.map((n) => ({
    name: `${app.stack}_${n}`,
    mountpoint: Path.join(root, "volumes", `${app.stack}_${n}`, "_data")
  }))
  const engine = yield* fakeEngine()
  const context = yield* Contract.layerContext(
    LiveSnapshots.layer({ stateDir: Path.join(root, "state") }).pipe(
      Layer.provide(LiveDocker.layerSocket(engine.socket))
    )
  )
  const mountpoint = (name: string) => volumes.find((v) => v.name === `${app.stack}_${name}`)!.mountpoint
  return {
    snapshots: Context.get(context, Snapshots),
    volumes,
    deployed: (deployed) =>
      Effect.sync(() => {
        engine.state.services.length = 0
        if (deployed) engine.state.services.push(appService(app.stack, v1))
      }),
    write: (files) =>
      Effect.sync(() => {
        for (const [name, content] of Object.entries(files)) {
          Fs.rmSync(mountpoint(name), { recursive: true, force: true })
          for (const [path, text] of Object.entries(content)) {
            Fs.mkdirSync(Path.dirname(Path.join(mountpoint(name), path)), { recursive: true })
            Fs.writeFileSync(Path.join(mountpoint(name), path), text)
          }
        }
      }),
    files: Effect.sync(() => Object.fromEntries(NAMES.map((n) => [n, readTree(mountpoint(n))])))
  } satisfies SnapshotsWorld
}))

const simulatedTwin = Contract.simulated<SnapshotsWorld>(Effect.gen(function*() {
  const { context, world } = yield* Contract.simulatedWorld({
    recipes: { keycloak: { tags: [v1, v2] } },
    apps: [{ spec: app, env: true }]
  }, SimulatedSnapshots.layerTest)
  return {
    snapshots: Context.get(context, Snapshots),
    volumes: NAMES.map((n) => ({
      name: `${app.stack}_${n}`,
      mountpoint: `/var/lib/docker/volumes/${app.stack}_${n}/_data`
    })),
    deployed: (deployed) =>
      world.updateApp(app.name, (a) => ({
        ...a,
        deployment: deployed ? Option.some({ version: v1, at: 0, broken: false }) : Option.none()
      })),
    write: (files) =>
      world.updateApp(app.name, (a) => ({
        ...a,
        volumes: new Map(Object.entries(files).map(([n, f]) => [n, new Map(Object.entries(f))]))
      })),
    files: Effect.map(
      world.app(app.name),
      (a) =>
        Object.fromEntries(
          [...a.volumes].map(([n, f]) => [n, Object.fromEntries([...f].sort(([x], [y]) => x < y ? -1 : 1))])
        )
    )
  } satisfies SnapshotsWorld
}))

/** What a snapshot of `version` of the app's two volumes says about itself. */
const expectMeta = (meta: SnapshotMeta, version: string) => {
  expect(meta).toMatchObject({
    recipe: "keycloak",
    domain: app.domain,
    version,
    volumes: NAMES.map((n) => `${app.stack}_${n}`)
  })
  expect(Object.keys(meta.sha256).sort()).toEqual(NAMES.map((n) => `${app.stack}_${n}`))
  expect(Object.values(meta.sha256).every((h) => /^[0-9a-f]{64}$/.test(h))).toBe(true)
  expect(typeof meta.ts === "string" && !Number.isNaN(Date.parse(meta.ts))).toBe(true)
}

const arranged = (w: SnapshotsWorld, deployed: boolean) => Effect.zipRight(w.write(BEFORE), w.deployed(deployed))

/** The data of v1 snapshot while undeployed, then the volumes migrated as v2 would. */
const snapshotThenMigrated = (w: SnapshotsWorld) =>
  arranged(w, false).pipe(
    Effect.zipRight(w.snapshots.take(app, v1, w.volumes)),
    Effect.zipRight(w.write(MIGRATED))
  )

Contract.suite("Snapshots", [liveTwin, simulatedTwin], (test) => {
  test("show with no snapshot is none", (w) =>
    Effect.gen(function*() {
      yield* arranged(w, false)
      expect(yield* w.snapshots.show(app)).toEqual(Option.none())
    }))

  test("take of an undeployed app, then show: the same snapshot of the version", (w) =>
    Effect.gen(function*() {
      yield* arranged(w, false)
      const meta = yield* w.snapshots.take(app, v1, w.volumes)
      expectMeta(meta, v1)
      const shown = yield* w.snapshots.show(app)
      expect(Option.map(shown, (m) => [m.version, m.volumes, m.sha256, m.ts])).toEqual(
        Option.some([meta.version, meta.volumes, meta.sha256, meta.ts])
      )
      expect(yield* w.files).toEqual(BEFORE)
    }))

  test("restore brings back exactly the data of the last snapshot taken", (w) =>
    Effect.gen(function*() {
      yield* snapshotThenMigrated(w)
      expect(yield* w.files).toEqual(MIGRATED)
      expectMeta(yield* w.snapshots.restore(app, w.volumes), v1)
      expect(yield* w.files).toEqual(BEFORE)
      // A second take replaces the first as a whole.
      yield* w.write(MIGRATED)
      yield* w.snapshots.take(app, v2, w.volumes)
      yield* w.write(BEFORE)
      expectMeta(yield* w.snapshots.restore(app, w.volumes), v2)
      expect(yield* w.files).toEqual(MIGRATED)
    }))

  test("restore with no snapshot fails (restore) and leaves the data", (w) =>
    Effect.gen(function*() {
      yield* arranged(w, false)
      const error = yield* Contract.failureOf(w.snapshots.restore(app, w.volumes))
      expect(error).toMatchObject({ _tag: "SnapshotError", app: "keycloak", operation: "restore" })
      expect(error.message).toContain("no snapshot")
      expect(yield* w.files).toEqual(BEFORE)
    }))

  test("take and restore of a deployed app are refused and change nothing", (w) =>
    Effect.gen(function*() {
      yield* snapshotThenMigrated(w)
      yield* w.deployed(true)
      for (
        const [operation, call] of [["take", w.snapshots.take(app, v2, w.volumes)], [
          "restore",
          w.snapshots.restore(app, w.volumes)
        ]] as const
      ) {
        const error = yield* Contract.failureOf(call)
        expect(error).toMatchObject({ _tag: "SnapshotError", app: "keycloak", operation })
        expect(error.message).toContain("deployed")
      }
      expect(Option.map(yield* w.snapshots.show(app), (m) => m.version)).toEqual(Option.some(v1))
      expect(yield* w.files).toEqual(MIGRATED)
    }))

  test("restore over a volume list that differs from the snapshot's is refused (restore)", (w) =>
    Effect.gen(function*() {
      yield* snapshotThenMigrated(w)
      const [data, db] = w.volumes
      for (
        const [volumes, says] of [
          [[data!], `the snapshot holds volume(s) ${db!.name} that Docker does not list now`],
          [[...w.volumes, { name: `${app.stack}_cache`, mountpoint: `${data!.mountpoint}-cache` }], "partial restore"]
        ] as const
      ) {
        const error = yield* Contract.failureOf(w.snapshots.restore(app, volumes))
        expect(error).toMatchObject({ _tag: "SnapshotError", app: "keycloak", operation: "restore" })
        expect(error.message).toContain(says)
      }
      expect(yield* w.files).toEqual(MIGRATED)
    }))

  test("snapshot.volumes and snapshot.exclude: what is left out is left as the release left it", (w) =>
    Effect.gen(function*() {
      const narrowed: AppSpec = {
        ...app,
        snapshot: SnapshotConfig.make({
          volumes: ["data"],
          exclude: { data: ["cache/", "/users.json", "realms/*.tmp"] }
        })
      }
      yield* w.write({ data: { ...BEFORE.data, "cache/old.bin": "o", "realms/a.tmp": "t" }, db: BEFORE.db! })
      yield* w.deployed(false)
      const meta = yield* w.snapshots.take(narrowed, v1, w.volumes)
      expect(meta.volumes).toEqual([`${app.stack}_data`])
      expect(meta.exclude).toEqual({ [`${app.stack}_data`]: ["cache/", "/users.json", "realms/*.tmp"] })
      const released = {
        data: {
          "realms/master.json": "{\"realm\":\"master\",\"v\":12}\n",
          "realms/b.tmp": "u",
          "users.json": "[2]\n",
          "new/cache/y.bin": "y",
          "new/other": "gone"
        },
        db: MIGRATED.db!
      }
      yield* w.write(released)
      yield* w.snapshots.restore(narrowed, w.volumes)
      // The snapshot's data comes back; excluded paths (even in a directory the snapshot lacks) and
      // the volume left out stay as the release left them.
      expect(yield* w.files).toEqual({
        data: {
          "new/cache/y.bin": "y",
          "realms/b.tmp": "u",
          "realms/master.json": BEFORE.data!["realms/master.json"],
          "users.json": "[2]\n"
        },
        db: MIGRATED.db!
      })
    }))

  test("snapshot settings naming a volume the stack does not have are refused before anything changes", (w) =>
    Effect.gen(function*() {
      yield* arranged(w, false)
      for (const snapshot of [{ volumes: ["data", "nope"] as const }, { exclude: { nope: ["x"] } }]) {
        const error = yield* Contract.failureOf(
          w.snapshots.take({ ...app, snapshot: SnapshotConfig.make(snapshot) }, v1, w.volumes)
        )
        expect(error).toMatchObject({ _tag: "SnapshotError", app: "keycloak", operation: "take" })
        expect(error.message).toContain("volume(s) nope that stack id_example_org does not have")
      }
      expect(yield* w.snapshots.show(app)).toEqual(Option.none())
    }))

  test("a volume Docker says cannot be copied (a bind, NFS, outside its data root) is refused; left out, it is fine", (w) =>
    Effect.gen(function*() {
      yield* snapshotThenMigrated(w)
      const why = "volume id_example_org_db is a local volume with driver options (o=bind): ..."
      const volumes = w.volumes.map((v) => v.name.endsWith("_db") ? { ...v, refused: why } : v)
      for (
        const [operation, call] of [
          ["take", Effect.asVoid(w.snapshots.take(app, v2, volumes))],
          ["space", Effect.asVoid(w.snapshots.space(app, volumes))],
          ["restore", Effect.asVoid(w.snapshots.restore(app, volumes))]
        ] as const
      ) {
        const error = yield* Contract.failureOf(call)
        expect(error).toMatchObject({ _tag: "SnapshotError", app: "keycloak", operation })
        expect(error.message).toContain(`${why}; nothing was changed`)
      }
      expect(Option.map(yield* w.snapshots.show(app), (m) => m.version)).toEqual(Option.some(v1))
      expect(yield* w.files).toEqual(MIGRATED)
      // Left out of the app's snapshots, the refused volume stops nothing.
      const dataOnly: AppSpec = { ...app, snapshot: SnapshotConfig.make({ volumes: ["data"] }) }
      expect((yield* w.snapshots.take(dataOnly, v2, volumes)).version).toBe(v2)
    }))

  test("snapshot.keep keeps that many older snapshots, listed newest first after the last one", (w) =>
    Effect.gen(function*() {
      const keeping: AppSpec = { ...app, snapshot: SnapshotConfig.make({ keep: 1, volumes: ["db"] }) }
      yield* arranged(w, false)
      expect(yield* w.snapshots.list(keeping)).toEqual([])
      for (const version of [v1, v2, "1.3.0+1.3"]) {
        yield* w.write({ ...BEFORE, db: { schema: `schema of ${version}\n` } })
        yield* w.snapshots.take(keeping, version, w.volumes)
      }
      const listed = yield* w.snapshots.list(keeping)
      expect(listed.map((s) => [s.meta.version, s.kept])).toEqual([["1.3.0+1.3", false], [v2, true]])
      expect(listed[0]!.volumes).toEqual([{ name: `${app.stack}_db`, files: Option.some(1), bytes: 20 }])
      // The last one is still the one a restore brings back.
      yield* w.write(MIGRATED)
      expect((yield* w.snapshots.restore(keeping, w.volumes)).version).toBe("1.3.0+1.3")
      expect(yield* w.files).toEqual({ ...MIGRATED, db: { schema: "schema of 1.3.0+1.3\n" } })
    }))
})
