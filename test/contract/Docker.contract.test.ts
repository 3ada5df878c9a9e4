/**
 * Docker, live (the Engine API client on the fake engine's socket) and in memory: whether a stack
 * is deployed and at which version, its volumes and secrets, and nothing of a neighbouring stack.
 */
import { expect } from "@effect/vitest"
import { Clock, Context, Effect, Option } from "effect"
import { AppConfig, AppName, appSpec } from "../../src/domain/Config.js"
import * as LiveDocker from "../../src/live/Docker.js"
import { Docker } from "../../src/services/Docker.js"
import * as SimulatedDocker from "../../src/simulation/Docker.js"
import { appService, fakeEngine, stackLabel, stackVolume } from "../support/fakeEngine.js"
import * as Contract from "./harness.js"

const app = Contract.contractApp()
const stack = app.stack
/** A neighbour on the same engine, deployed with a volume and a secret: never part of the answers. */
const wiki = appSpec(AppName.make("wiki"), new AppConfig({ recipe: "wiki", domain: "wiki.example.org" }))
const [v1, v2, wikiVersion] = ["1.1.0+1.1", "1.2.0+1.2", "2.0.0+2.0"]
/** A crash loop: the app's task fails every 5 s; the twins arrange it since 12 s before `now`. */
const RESTART_EVERY = 5_000
const failedTask = (at: number) => ({ state: "failed", exitCode: Option.some(1), error: "task: non-zero exit (1)", at })

interface DockerWorld {
  readonly docker: Docker["Type"]
  /** The app's stack runs `version`. */
  readonly deployed: (version: string) => Effect.Effect<void>
  /** The app's volumes (without the stack prefix), deployed or not. */
  readonly volumes: (names: ReadonlyArray<string>) => Effect.Effect<void>
  /** The app's stack runs v2, which has crash-looped since 12 s before `now`. */
  readonly crashLooping: (now: number) => Effect.Effect<void>
  /** The app's generated secrets, as `<name>_<version>`. */
  readonly secrets: (names: ReadonlyArray<string>) => Effect.Effect<void>
}

const liveTwin = Contract.live<DockerWorld>(Effect.gen(function*() {
  const engine = yield* fakeEngine({
    state: {
      services: [appService(wiki.stack, wikiVersion)],
      volumes: [stackVolume(wiki.stack, "data")],
      secrets: [{ name: `${wiki.stack}_admin_password_v1`, labels: { [stackLabel]: wiki.stack } }]
    }
  })
  const context = yield* Contract.layerContext(LiveDocker.layerSocket(engine.socket))
  return {
    docker: Context.get(context, Docker),
    deployed: (version) => Effect.sync(() => engine.state.services.push(appService(stack, version))),
    volumes: (names) => Effect.sync(() => engine.state.volumes.push(...names.map((n) => stackVolume(stack, n)))),
    crashLooping: (now) =>
      Effect.sync(() => {
        engine.state.services.push(appService(stack, v2))
        for (const at of [now - 12_000 + RESTART_EVERY, now - 12_000 + 2 * RESTART_EVERY]) {
          engine.state.tasks.push({
            service: `${stack}_app`,
            state: "failed",
            createdAt: at,
            exitCode: 1,
            err: "task: non-zero exit (1)"
          })
        }
      }),
    secrets: (names) =>
      Effect.sync(() =>
        engine.state.secrets.push(...names.map((n) => ({ name: `${stack}_${n}`, labels: { [stackLabel]: stack } })))
      )
  } satisfies DockerWorld
}))

const simulatedTwin = Contract.simulated<DockerWorld>(Effect.gen(function*() {
  const { context, world } = yield* Contract.simulatedWorld({
    recipes: {
      keycloak: { tags: [v1, v2], releases: { [v2]: { health: "crash-loop", restartEvery: RESTART_EVERY } } },
      wiki: { tags: [wikiVersion] }
    },
    apps: [
      { spec: app, env: true },
      {
        spec: wiki,
        deployed: wikiVersion,
        volumes: { data: {} },
        secrets: ["admin_password_v1"],
        secretsGenerated: true
      }
    ]
  }, SimulatedDocker.layerTest)
  return {
    docker: Context.get(context, Docker),
    deployed: (version) =>
      world.updateApp(app.name, (a) => ({ ...a, deployment: Option.some({ version, at: 0, broken: false }) })),
    volumes: (names) =>
      world.updateApp(app.name, (a) => ({ ...a, volumes: new Map(names.map((n) => [n, new Map()])) })),
    crashLooping: (now) =>
      world.updateApp(app.name, (a) => ({
        ...a,
        deployment: Option.some({ version: v2, at: now - 12_000, broken: false })
      })),
    secrets: (names) =>
      world.updateApp(app.name, (a) => ({
        ...a,
        env: Option.some({ pinned: Option.none(), secrets: names }),
        secretsGenerated: true
      }))
  } satisfies DockerWorld
}))

Contract.suite("Docker", [liveTwin, simulatedTwin], (test) => {
  test("a stack that was never deployed: not deployed, no version, no volumes, no secrets, no failed tasks", (w) =>
    Effect.gen(function*() {
      expect(yield* w.docker.isDeployed(stack)).toBe(false)
      expect(yield* w.docker.deployedVersion(stack)).toEqual(Option.none())
      expect(yield* w.docker.stackVolumes(stack)).toEqual([])
      expect(yield* w.docker.secrets(stack)).toEqual([])
      expect(yield* w.docker.failedTasks(stack, 0)).toEqual([])
    }))

  test("a deployed stack is deployed at the version of its app service", (w) =>
    Effect.gen(function*() {
      yield* w.deployed(v1)
      expect(yield* w.docker.isDeployed(stack)).toBe(true)
      expect(yield* w.docker.deployedVersion(stack)).toEqual(Option.some(v1))
      expect(yield* w.docker.isDeployed(wiki.stack)).toBe(true)
      expect(yield* w.docker.deployedVersion(wiki.stack)).toEqual(Option.some(wikiVersion))
    }))

  test("stackVolumes lists the stack's volumes with their mountpoints, deployed or not", (w) =>
    Effect.gen(function*() {
      yield* w.volumes(["data", "db"])
      const expected = ["data", "db"].map((v) => ({
        name: `${stack}_${v}`,
        mountpoint: `/var/lib/docker/volumes/${stack}_${v}/_data`
      }))
      expect(yield* w.docker.stackVolumes(stack)).toEqual(expected)
      yield* w.deployed(v1)
      expect(yield* w.docker.stackVolumes(stack)).toEqual(expected)
    }))

  test("secrets lists the stack's secrets as <stack>_<name>_<version>", (w) =>
    Effect.gen(function*() {
      yield* w.secrets(["admin_password_v1", "db_password_v2"])
      expect(yield* w.docker.secrets(stack)).toEqual([`${stack}_admin_password_v1`, `${stack}_db_password_v2`])
      expect(yield* w.docker.secrets(wiki.stack)).toEqual([`${wiki.stack}_admin_password_v1`])
    }))

  test("failedTasks lists the failed tasks of the stack's app service created at or after `since`", (w) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      yield* w.crashLooping(now)
      const tasks = [failedTask(now - 7_000), failedTask(now - 2_000)]
      expect(yield* w.docker.failedTasks(stack, now - 12_000)).toEqual(tasks)
      expect(yield* w.docker.failedTasks(stack, now - 2_000)).toEqual(tasks.slice(1))
      expect(yield* w.docker.failedTasks(stack, now)).toEqual([])
      expect(yield* w.docker.failedTasks(wiki.stack, 0)).toEqual([])
    }))
})
