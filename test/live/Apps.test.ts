/**
 * The live Apps layer against the fake abra (first on PATH): servers, the env file, app new,
 * deploy with pinning, undeploy, secrets, and the AbraError each failure becomes.
 */
import { NodeFileSystem } from "@effect/platform-node"
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { AppConfig, AppName, appSpec } from "../../src/domain/Config.js"
import * as LiveApps from "../../src/live/Apps.js"
import * as LiveProcessRunner from "../../src/live/ProcessRunner.js"
import { type AbraError, Apps } from "../../src/services/Apps.js"
import type { AbraWorld, FakeAbraCall } from "../support/fakeAbra.js"
import { git, makeAbraWorld, makeRecipeRepo } from "../support/fakeAbra.js"

const DOMAIN = "id.example.org"
const v1 = "1.0.0+24.0.1"
const v2 = "1.1.0+25.0.0"
const v3 = "1.2.0+26.0.0"
const app = appSpec(AppName.make("keycloak"), new AppConfig({ recipe: "keycloak", domain: DOMAIN }))

/**
 * A sample with what real ones hold: a commented-out key, quotes, inline comments, `# length=`
 * modifiers, a colon list. The last line differs per version, so a copy of the wrong one shows.
 * v2's DOMAIN placeholder is one abra does not substitute: only the layer's own write of DOMAIN
 * can put the app's domain there.
 */
const sample = (tag: string) =>
  [
    "TYPE=keycloak",
    "",
    `DOMAIN=${tag === v2 ? "example.com" : "keycloak.example.com"} # the public name`,
    "## Domain aliases",
    "#EXTRA_DOMAINS=', `www.keycloak.example.com`'",
    "LETS_ENCRYPT_ENV=production",
    "",
    "# The first admin",
    "KEYCLOAK_ADMIN=\"admin user\"   # quoted, with a space",
    "WELCOME_THEME='keycloak'",
    "COMPOSE_FILE=compose.yml:compose.smtp.yml",
    "SECRET_ADMIN_PASSWORD_VERSION=v1 # length=32",
    "SECRET_DB_PASSWORD_VERSION=v2 # length=64",
    `RELEASED_AS=${tag}`,
    ""
  ].join("\n")

/** What `abra app new` itself writes: the domain substituted, the version pinned. */
const newEnv = (tag: string) =>
  sample(tag).split("keycloak.example.com").join(DOMAIN).replace(/^TYPE=keycloak$/m, `TYPE=keycloak:${tag}`)

const ENV_KNOBS = ["FAKE_ABRA_FAIL", "FAKE_ABRA_HANG", "FAKE_ABRA_DEPLOY_DELAY_MS", "FAKE_ABRA_RECIPES"] as const
const saved: Record<string, string | undefined> = {}
/** Holds the recipe's source repo and the `abra` symlink that goes first on PATH. */
let shared: AbraWorld
let source: string

beforeAll(() => {
  shared = makeAbraWorld()
  source = makeRecipeRepo(
    shared.recipesSource,
    "keycloak",
    [v1, v2, v3].map((tag) => ({ tag, envSample: sample(tag) }))
  )
  // The layer's processes inherit the environment: the fake first on PATH, no knobs from outside.
  for (const name of [...ENV_KNOBS, "PATH"]) saved[name] = process.env[name]
  for (const name of ENV_KNOBS) delete process.env[name]
  process.env.PATH = shared.env.PATH!
})

afterAll(() => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name]
    else process.env[name] = value
  }
  shared.cleanup()
})

/** Runs `effect` with `vars` set in the environment the layer's processes inherit, restored after. */
const withEnv = <A, E, R>(vars: Record<string, string>, effect: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const before = Object.fromEntries(Object.keys(vars).map((name) => [name, process.env[name]]))
      Object.assign(process.env, vars)
      return before
    }),
    () => effect,
    (before) =>
      Effect.sync(() => {
        for (const [name, value] of Object.entries(before)) {
          if (value === undefined) delete process.env[name]
          else process.env[name] = value
        }
      })
  )

// A world per test: the app's lifecycle (created, deployed, secrets) is state each test sets up.
let world: AbraWorld
beforeEach(() => {
  world = makeAbraWorld()
  // Cloned directly rather than by `abra recipe fetch`: each abra call starts a node.
  git(world.abraDir, ["clone", "--quiet", source, Path.join(world.abraDir, "recipes", "keycloak")])
})
afterEach(() => world.cleanup())

const apps = <A, E>(f: (apps: Apps["Type"]) => Effect.Effect<A, E>) =>
  Effect.flatMap(Apps, f).pipe(
    Effect.provide(
      LiveApps.layer({ abraDir: world.abraDir }).pipe(
        Layer.provide(Layer.mergeAll(LiveProcessRunner.layerNode, NodeFileSystem.layer))
      )
    )
  )

const envFile = () => world.envFile(DOMAIN)
const readEnvText = () => Fs.readFileSync(envFile(), "utf8")

/** The app as `abra app new <tag>` leaves it, written directly to spare an abra call. */
const givenCreated = (tag: string) => {
  Fs.mkdirSync(Path.dirname(envFile()), { recursive: true })
  Fs.writeFileSync(envFile(), newEnv(tag))
}

/** The fake's record of a deploy, in the shape its README documents. */
const givenDeployed = (tag: string) => {
  Fs.mkdirSync(Path.join(world.abraDir, ".fake-abra"), { recursive: true })
  Fs.writeFileSync(
    Path.join(world.abraDir, ".fake-abra", "state.json"),
    JSON.stringify({ deployed: { [DOMAIN]: { version: tag, at: Date.now() } }, secrets: {} })
  )
}

/** Every call the layer made in this world, each checked to carry `-n` (abra would prompt without it). */
const calls = (): ReadonlyArray<FakeAbraCall> => {
  const all = world.readCalls()
  for (const call of all) expect(call.argv, `abra ${call.argv.join(" ")}`).toContain("-n")
  return all
}
const commands = () => calls().map((c) => [c.argv.slice(0, 2).join(" "), c.exitCode])

describe("live Apps: servers", () => {
  it.live("adds the local server when abra lists none, once; an unknown other server is an error", () =>
    Effect.gen(function*() {
      yield* apps((a) => a.ensureServer("default"))
      expect(Fs.statSync(Path.join(world.abraDir, "servers", "default")).isDirectory()).toBe(true)
      yield* apps((a) => a.ensureServer("default"))
      expect(commands()).toEqual([["server ls", 0], ["server add", 0], ["server ls", 0]])

      const error = yield* Effect.flip(apps((a) => a.ensureServer("remote.example.org")))
      expect(error._tag).toBe("AbraError")
      expect(error.message).toContain("remote.example.org")
      expect(error.message).toContain("abra server add")
      // Nothing was added for it: abra's `server add --local` only ever makes `default`.
      expect(commands()).toEqual([["server ls", 0], ["server add", 0], ["server ls", 0], ["server ls", 0]])
    }))
})

describe("live Apps: the env file", () => {
  it.live("readEnv is None for an app never created, and spawns nothing", () =>
    Effect.gen(function*() {
      expect(yield* apps((a) => a.readEnv(app))).toEqual(Option.none())
      expect(calls()).toEqual([])
    }))

  it.live("readEnv of an env file with a syntax error is an AbraError naming the file and the line", () =>
    Effect.gen(function*() {
      givenCreated(v1)
      const lines = readEnvText().split("\n")
      lines.splice(4, 0, "export SMTP_HOST=mail.example.org")
      Fs.writeFileSync(envFile(), lines.join("\n"))
      const error = yield* Effect.flip(apps((a) => a.readEnv(app)))
      expect(error._tag).toBe("AbraError")
      expect(error.message).toContain(envFile())
      expect(error.message).toContain("line 5")
      expect(error.message).toContain("export")
    }))
})

describe("live Apps: create", () => {
  it.live("runs app new at the version, then sets DOMAIN and empties LETS_ENCRYPT_ENV, keeping every other line", () =>
    Effect.gen(function*() {
      Fs.mkdirSync(Path.join(world.abraDir, "servers", "default"), { recursive: true })
      yield* apps((a) => a.create(app, v2))

      expect(calls().map((c) => [c.argv.slice(0, 4), c.exitCode])).toEqual([[["app", "new", "keycloak", v2], 0]])
      const written = readEnvText().split("\n")
      // What abra wrote (the v2 sample, the domain substituted, the version pinned), then our two keys.
      const fromAbra = newEnv(v2).split("\n")
      expect(written).toHaveLength(fromAbra.length)
      expect(fromAbra).toContain("DOMAIN=example.com # the public name")
      fromAbra.forEach((line, i) => {
        if (line.startsWith("DOMAIN=")) expect(written[i]).toBe(`DOMAIN=${DOMAIN} # the public name`)
        else if (line.startsWith("LETS_ENCRYPT_ENV=")) expect(written[i]).toBe("LETS_ENCRYPT_ENV=")
        else expect(written[i], `line ${i + 1}`).toBe(line)
      })
      expect(written).toContain(`TYPE=keycloak:${v2}`)
      expect(written).toContain(`RELEASED_AS=${v2}`)

      const env = yield* apps((a) => a.readEnv(app))
      expect(Option.map(env, (e) => e.pinned)).toEqual(Option.some(Option.some(v2)))
      expect(Option.map(env, (e) => e.secrets)).toEqual(Option.some(["admin_password_v1", "db_password_v2"]))
    }))

  it.live("fails with abra's reason when the env file already exists, and leaves it alone", () =>
    Effect.gen(function*() {
      givenCreated(v1)
      const before = readEnvText()
      const error = yield* Effect.flip(apps((a) => a.create(app, v2)))
      expect(error._tag).toBe("AbraError")
      expect(error.operation).toBe("app new")
      expect(error.stderr).toContain(`FATA ${DOMAIN}.env already exists`)
      expect(readEnvText()).toBe(before)
    }))
})

describe("live Apps: deploy", () => {
  it.live("deploys the version, which abra pins on the TYPE line, the only line that changes", () =>
    Effect.gen(function*() {
      givenCreated(v1)
      const before = readEnvText().split("\n")
      yield* apps((a) => a.deploy(app, v2))

      expect(world.readState().deployed[DOMAIN]?.version).toBe(v2)
      const after = readEnvText().split("\n")
      expect(after).toHaveLength(before.length)
      before.forEach((line, i) => {
        expect(after[i], `line ${i + 1}`).toBe(line.startsWith("TYPE=") ? `TYPE=keycloak:${v2}` : line)
      })
      expect(yield* apps((a) => a.readEnv(app).pipe(Effect.map(Option.flatMap((e) => e.pinned))))).toEqual(
        Option.some(v2)
      )
      expect(calls().map((c) => [c.argv.slice(0, 4), c.exitCode])).toEqual([[["app", "deploy", DOMAIN, v2], 0]])
    }))

  it.live("a failing deploy is an AbraError naming the version and carrying abra's stderr", () =>
    Effect.gen(function*() {
      givenCreated(v1)
      givenDeployed(v1)
      const before = readEnvText()
      const error = yield* Effect.flip(withEnv({ FAKE_ABRA_FAIL: `deploy:${v2}` }, apps((a) => a.deploy(app, v2))))
      expect(error._tag).toBe("AbraError")
      expect(error.app).toBe("keycloak")
      expect(error.stderr).toContain("FATA deploy failed: converge timeout")
      expect(error.message).toContain(v2)
      expect(error.message).toContain("converge timeout")
      // Nothing changed: still the old version, still pinned to it.
      expect(world.readState().deployed[DOMAIN]?.version).toBe(v1)
      expect(readEnvText()).toBe(before)
      expect(process.env.FAKE_ABRA_FAIL).toBeUndefined()
      expect(commands()).toEqual([["app deploy", 1]])
    }))
})

describe("live Apps: undeploy", () => {
  it.live("undeploys a deployed app; undeploying it again succeeds quietly", () =>
    Effect.gen(function*() {
      givenCreated(v1)
      givenDeployed(v1)
      yield* apps((a) => a.undeploy(app))
      expect(world.readState().deployed).toEqual({})
      yield* apps((a) => a.undeploy(app))
      // abra did fail the second time ("is not deployed?"): the layer took that as done.
      expect(commands()).toEqual([["app undeploy", 0], ["app undeploy", 1]])
    }))

  it.live("any other undeploy failure is still an AbraError", () =>
    Effect.gen(function*() {
      givenCreated(v1)
      givenDeployed(v1)
      const error = yield* Effect.flip(withEnv({ FAKE_ABRA_FAIL: "undeploy" }, apps((a) => a.undeploy(app))))
      expect(error._tag).toBe("AbraError")
      expect(error.stderr).toContain(`FATA unable to undeploy ${DOMAIN}`)
      expect(world.readState().deployed[DOMAIN]?.version).toBe(v1)
      expect(commands()).toEqual([["app undeploy", 1]])
    }))
})

describe("live Apps: secrets", () => {
  it.live("generates every secret the env file declares", () =>
    Effect.gen(function*() {
      givenCreated(v1)
      yield* apps((a) => a.generateSecrets(app))
      const declared = yield* apps((a) => a.readEnv(app).pipe(Effect.map(Option.map((e) => e.secrets))))
      expect(declared).toEqual(Option.some(["admin_password_v1", "db_password_v2"]))
      expect([...world.readState().secrets[DOMAIN] ?? []].sort()).toEqual(["admin_password_v1", "db_password_v2"])
      expect(commands()).toEqual([["app secret", 0]])
    }))
})

describe("live Apps: abra missing", () => {
  it.live("is an AbraError that says abra was not found", () =>
    Effect.gen(function*() {
      givenCreated(v1)
      const empty = Fs.mkdtempSync(Path.join(Os.tmpdir(), "no-abra-"))
      const withoutAbra = <A>(f: (apps: Apps["Type"]) => Effect.Effect<A, AbraError>) =>
        withEnv({ PATH: empty }, Effect.flip(apps(f)))
      const errors = yield* Effect.all([
        withoutAbra((a) => a.ensureServer("default")),
        withoutAbra((a) => a.deploy(app, v1))
      ]).pipe(Effect.ensuring(Effect.sync(() => Fs.rmSync(empty, { recursive: true, force: true }))))
      for (const error of errors) {
        expect(error._tag).toBe("AbraError")
        expect(error.message).toContain("abra was not found")
      }
      expect(process.env.PATH).toBe(shared.env.PATH)
      expect(calls()).toEqual([])
    }))
})
