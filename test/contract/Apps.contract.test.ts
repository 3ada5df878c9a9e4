/**
 * Apps, live (the fake abra on real env files and recipe clones) and in memory (the simulated
 * world): env file, app new, deploy and its pin, undeploy (also of an app that is not deployed),
 * secrets and servers, and the AbraError of each refusal.
 */
import { afterAll, beforeAll, expect } from "@effect/vitest"
import { Context, Effect, Layer, Option, Ref } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as LiveApps from "../../src/live/Apps.js"
import * as LiveProcessRunner from "../../src/live/ProcessRunner.js"
import { Apps } from "../../src/services/Apps.js"
import * as SimulatedApps from "../../src/simulation/Apps.js"
import { git, makeAbraWorld, makeRecipeRepo } from "../support/fakeAbra.js"
import * as Contract from "./harness.js"

const app = Contract.contractApp()
const [v1, v2, v3] = ["1.0.0+24.0.1", "1.1.0+25.0.0", "1.2.0+26.0.0"]
const SECRET = "admin_password_v1"

interface AppsWorld {
  readonly apps: Apps["Type"]
  /** The app's env file exists, pinned at `version`, as `abra app new` leaves it (on server default). */
  readonly created: (version: string) => Effect.Effect<void>
  /** ...and its stack runs `version`, its secrets generated. */
  readonly deployed: (version: string) => Effect.Effect<void>
  /** The version the stack runs, as abra / the world knows it. */
  readonly running: Effect.Effect<Option.Option<string>>
  readonly servers: Effect.Effect<ReadonlyArray<string>>
  readonly generatedSecrets: Effect.Effect<ReadonlyArray<string>>
  /** The env file (created) opts the app in to automatic upgrades: `ENABLE_AUTO_UPDATE=true`. */
  readonly optIn: Effect.Effect<void>
}

const abra = Contract.fakeAbraOnPath({ beforeAll, afterAll })
/** One clone for every case: abra only reads it (tags, `.env.sample` at a tag). */
let clone: string
beforeAll(() => {
  const source = makeRecipeRepo(abra.get().recipesSource, "keycloak", [v1, v2, v3].map((tag) => ({ tag })))
  clone = Path.join(abra.get().abraDir, "recipes", "keycloak")
  git(abra.get().root, ["clone", "--quiet", source, clone])
})

const liveTwin = Contract.live<AppsWorld>(Effect.gen(function*() {
  // A fresh ABRA_DIR per case, its recipe the shared clone.
  const world = yield* Effect.acquireRelease(Effect.sync(makeAbraWorld), (w) => Effect.sync(w.cleanup))
  Fs.mkdirSync(Path.join(world.abraDir, "recipes"))
  Fs.symlinkSync(clone, Path.join(world.abraDir, "recipes", "keycloak"))
  const context = yield* Contract.layerContext(
    LiveApps.layer({ abraDir: world.abraDir }).pipe(Layer.provide(LiveProcessRunner.layerNode))
  )
  const writeState = (version: string) => {
    Fs.mkdirSync(Path.join(world.abraDir, ".fake-abra"), { recursive: true })
    const state = { deployed: { [app.domain]: { version, at: Date.now() } }, secrets: { [app.domain]: [SECRET] } }
    Fs.writeFileSync(Path.join(world.abraDir, ".fake-abra", "state.json"), JSON.stringify(state))
  }
  const created = (version: string) =>
    Effect.sync(() => {
      Fs.mkdirSync(Path.dirname(world.envFile(app.domain)), { recursive: true })
      Fs.writeFileSync(
        world.envFile(app.domain),
        `TYPE=keycloak:${version}\nDOMAIN=${app.domain}\nSECRET_ADMIN_PASSWORD_VERSION=v1 # length=32\n`
      )
    })
  return {
    apps: Context.get(context, Apps),
    created,
    deployed: (version) => Effect.zipRight(created(version), Effect.sync(() => writeState(version))),
    running: Effect.sync(() => Option.fromNullable(world.readState().deployed[app.domain]?.version)),
    servers: Effect.sync(() =>
      Fs.existsSync(Path.join(world.abraDir, "servers")) ? Fs.readdirSync(Path.join(world.abraDir, "servers")) : []
    ),
    generatedSecrets: Effect.sync(() => world.readState().secrets[app.domain] ?? []),
    optIn: Effect.sync(() => Fs.appendFileSync(world.envFile(app.domain), "ENABLE_AUTO_UPDATE=true\n"))
  } satisfies AppsWorld
}))

const simulatedTwin = Contract.simulated<AppsWorld>(Effect.gen(function*() {
  const { context, world } = yield* Contract.simulatedWorld({
    recipes: { keycloak: { tags: [v1, v2, v3], secrets: [SECRET] } },
    apps: [{ spec: app, env: false }]
  }, SimulatedApps.layerTest)
  const created = (version: string) =>
    world.updateApp(
      app.name,
      (a) => ({ ...a, env: Option.some({ pinned: Option.some(version), secrets: [SECRET] }) })
    )
  return {
    apps: Context.get(context, Apps),
    created: (version) =>
      Effect.zipRight(created(version), Ref.update(world.state, (s) => ({ ...s, servers: new Set(["default"]) }))),
    deployed: (version) =>
      Effect.zipRight(
        created(version),
        world.updateApp(app.name, (a) => ({
          ...a,
          deployment: Option.some({ version, at: 0, broken: false }),
          secretsGenerated: true
        }))
      ),
    running: Effect.map(world.app(app.name), (a) => Option.map(a.deployment, (d) => d.version)),
    servers: Effect.map(Ref.get(world.state), (s) => [...s.servers]),
    generatedSecrets: Effect.map(
      world.app(app.name),
      (a) => a.secretsGenerated ? Option.match(a.env, { onNone: () => [], onSome: (e) => e.secrets }) : []
    ),
    optIn: world.updateApp(app.name, (a) => ({ ...a, env: Option.map(a.env, (e) => ({ ...e, autoUpdate: true })) }))
  } satisfies AppsWorld
}))

Contract.suite("Apps", [liveTwin, simulatedTwin], (test) => {
  test("readEnv of an app never created is none", (w) =>
    Effect.gen(function*() {
      expect(yield* w.apps.readEnv(app)).toEqual(Option.none())
    }))

  test("create writes the env file at the version, declaring the recipe's secrets", (w) =>
    Effect.gen(function*() {
      yield* w.apps.ensureServer("default")
      yield* w.apps.create(app, v1)
      expect(yield* w.apps.readEnv(app)).toEqual(Option.some({ pinned: Option.some(v1), secrets: [SECRET] }))
      expect(yield* w.running).toEqual(Option.none())
    }))

  test("create over an existing env file fails (app new) and leaves the file", (w) =>
    Effect.gen(function*() {
      yield* w.created(v1)
      const error = yield* Contract.failureOf(w.apps.create(app, v2))
      expect(error).toMatchObject({ _tag: "AbraError", app: "keycloak", operation: "app new" })
      expect(error.message).toContain(`${app.domain}.env already exists`)
      expect(yield* w.apps.readEnv(app)).toEqual(Option.some({ pinned: Option.some(v1), secrets: [SECRET] }))
    }))

  test("create on a server abra does not have fails (app new) and writes nothing", (w) =>
    Effect.gen(function*() {
      const error = yield* Contract.failureOf(w.apps.create(app, v1))
      expect(error).toMatchObject({ _tag: "AbraError", app: "keycloak", operation: "app new" })
      expect(error.message).toContain("server default does not exist")
      expect(yield* w.apps.readEnv(app)).toEqual(Option.none())
    }))

  test("deploy of a version runs it and pins it in the env file", (w) =>
    Effect.gen(function*() {
      yield* w.deployed(v1)
      yield* w.apps.deploy(app, v2)
      expect(yield* w.running).toEqual(Option.some(v2))
      expect(Option.flatMap(yield* w.apps.readEnv(app), (e) => e.pinned)).toEqual(Option.some(v2))
    }))

  test("deploy of a version that is not published fails and changes nothing", (w) =>
    Effect.gen(function*() {
      yield* w.deployed(v1)
      const error = yield* Contract.failureOf(w.apps.deploy(app, "9.9.9+9"))
      expect(error).toMatchObject({ _tag: "AbraError", app: "keycloak", operation: "app deploy 9.9.9+9" })
      expect(error.message).toContain("9.9.9+9 is not a published version")
      expect(yield* w.running).toEqual(Option.some(v1))
      expect(Option.flatMap(yield* w.apps.readEnv(app), (e) => e.pinned)).toEqual(Option.some(v1))
    }))

  test("deploy of an app without an env file fails: abra cannot find it", (w) =>
    Effect.gen(function*() {
      const error = yield* Contract.failureOf(w.apps.deploy(app, v1))
      expect(error).toMatchObject({ _tag: "AbraError", app: "keycloak", operation: `app deploy ${v1}` })
      expect(error.message).toContain(`unable to find app ${app.domain}`)
      expect(yield* w.running).toEqual(Option.none())
    }))

  test("undeploy removes the stack; the env file stays", (w) =>
    Effect.gen(function*() {
      yield* w.deployed(v2)
      yield* w.apps.undeploy(app)
      expect(yield* w.running).toEqual(Option.none())
      expect(yield* w.apps.readEnv(app)).toEqual(Option.some({ pinned: Option.some(v2), secrets: [SECRET] }))
    }))

  test("undeploy of an app that is not deployed succeeds and leaves it undeployed", (w) =>
    Effect.gen(function*() {
      yield* w.created(v1)
      yield* w.apps.undeploy(app)
      yield* w.apps.undeploy(app)
      expect(yield* w.running).toEqual(Option.none())
      // And it deploys as before.
      yield* w.apps.deploy(app, v1)
      expect(yield* w.running).toEqual(Option.some(v1))
    }))

  test("generateSecrets generates every declared secret, and again is a no-op", (w) =>
    Effect.gen(function*() {
      yield* w.created(v1)
      expect(yield* w.generatedSecrets).toEqual([])
      yield* w.apps.generateSecrets(app)
      expect(yield* w.generatedSecrets).toEqual([SECRET])
      yield* w.apps.generateSecrets(app)
      expect(yield* w.generatedSecrets).toEqual([SECRET])
    }))

  test("ensureServer adds the local server default once", (w) =>
    Effect.gen(function*() {
      expect(yield* w.servers).toEqual([])
      yield* w.apps.ensureServer("default")
      yield* w.apps.ensureServer("default")
      expect(yield* w.servers).toEqual(["default"])
    }))

  test("ensureServer of a server abra does not know fails (server ls)", (w) =>
    Effect.gen(function*() {
      const error = yield* Contract.failureOf(w.apps.ensureServer("remote.example.org"))
      expect(error).toMatchObject({ _tag: "AbraError", app: "remote.example.org", operation: "server ls" })
      expect(error.message).toContain("abra does not know the server remote.example.org")
      expect(yield* w.servers).toEqual([])
    }))

  test("discovery: servers and found list abra's servers and each app's recipe and opt-in from its env file", (w) =>
    Effect.gen(function*() {
      expect(yield* w.apps.servers()).toEqual([])
      expect(yield* w.apps.found("default")).toEqual([])
      yield* w.created(v1)
      expect(yield* w.apps.servers()).toEqual(["default"])
      const found = { server: "default", domain: app.domain, recipe: Option.some("keycloak") }
      expect(yield* w.apps.found("default")).toEqual([{ ...found, autoUpdate: false }])
      yield* w.optIn
      expect(yield* w.apps.found("default")).toEqual([{ ...found, autoUpdate: true }])
      expect(yield* w.apps.found("remote.example.org")).toEqual([])
    }))
})
