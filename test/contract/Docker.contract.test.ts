/**
 * Docker, live (the Engine API client on the fake engine's socket) and in memory: whether a stack
 * is deployed and at which version, its volumes and secrets, what Swarm shows of every service of
 * the stack (update, replicas, current spec, container health, failed tasks), and nothing of a
 * neighbouring stack.
 */
import { expect } from "@effect/vitest"
import { Clock, Context, Effect, Option, Ref } from "effect"
import { AppConfig, AppName, appSpec } from "../../src/domain/Config.js"
import * as LiveDocker from "../../src/live/Docker.js"
import { Docker, type ServiceFacts } from "../../src/services/Docker.js"
import * as SimulatedDocker from "../../src/simulation/Docker.js"
import type * as World from "../../src/simulation/World.js"
import { appService, type FakeEngine, fakeEngine, stackLabel, stackVolume } from "../support/fakeEngine.js"
import { serviceFacts } from "../support/serviceFacts.js"
import * as Contract from "./harness.js"

const app = Contract.contractApp()
const stack = app.stack
/** A neighbour on the same engine, deployed with a volume and a secret: never part of the answers. */
const wiki = appSpec(AppName.make("wiki"), new AppConfig({ recipe: "wiki", domain: "wiki.example.org" }))
const [v1, v2, wikiVersion] = ["1.1.0+1.1", "1.2.0+1.2", "2.0.0+2.0"]
/** A crash loop: the app's task fails every 5 s; the twins arrange it since 12 s before `now`. */
const RESTART_EVERY = 5_000
const failedTask = (at: number) => ({ state: "failed", exitCode: Option.some(1), error: "task: non-zero exit (1)", at })

/**
 * A stack on v2 since 12 s before `now` (5 s for `old-task`), with a `db` service and the app's
 * container under a healthcheck: `converged` (all running on the new spec, healthy), `db-crash-loop`
 * (db fails every 5 s), `old-task` (v1's task still runs, the update in progress), `swarm-rollback`
 * (Swarm rolled the update back to v1), `unhealthy` (the app's healthcheck fails).
 */
type StackCase = "converged" | "db-crash-loop" | "old-task" | "swarm-rollback" | "unhealthy"
const UNHEALTHY_LOG = "curl: (7) Failed to connect: refused"
const TASK_ERROR = "task: non-zero exit (1)"

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
  readonly stackCase: (now: number, which: StackCase) => Effect.Effect<void>
}

/** The fake engine's services, tasks and containers for one {@link StackCase}. */
const engineStack = (engine: FakeEngine, now: number, which: StackCase) => {
  const since = which === "old-task" ? now - 5_000 : now - 12_000
  const labelled = appService(stack, which === "swarm-rollback" ? v1 : v2).labels
  const update = which === "old-task"
    ? { state: "updating", startedAt: since, message: "update in progress" }
    : which === "swarm-rollback"
    ? { state: "rollback_completed", startedAt: since, message: "rollback completed" }
    : { state: "completed", startedAt: since }
  for (const name of ["app", "db"]) {
    engine.state.services.push({ name: `${stack}_${name}`, labels: labelled, image: "example:2", update })
  }
  engine.state.tasks.push({
    service: `${stack}_app`,
    state: "running",
    createdAt: since,
    containerId: "app1",
    ...(which === "old-task" ? { image: "example:1" } : {})
  })
  if (which !== "old-task" && which !== "swarm-rollback") {
    engine.state.containers.push({
      id: "app1",
      health: which === "unhealthy" ? "unhealthy" : "healthy",
      ...(which === "unhealthy" ? { lastLog: `${UNHEALTHY_LOG}\n` } : {})
    })
  }
  if (which === "db-crash-loop") {
    for (const at of [now - 7_000, now - 2_000]) {
      engine.state.tasks.push({ service: `${stack}_db`, state: "failed", createdAt: at, exitCode: 1, err: TASK_ERROR })
    }
  } else {
    engine.state.tasks.push({ service: `${stack}_db`, state: "running", createdAt: since })
  }
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
      ),
    stackCase: (now, which) => Effect.sync(() => engineStack(engine, now, which))
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
      })),
    stackCase: (now, which) =>
      Effect.gen(function*() {
        const release: World.ReleaseSpec = {
          services: { db: which === "db-crash-loop" ? "crash-loop" : "healthy" },
          restartEvery: RESTART_EVERY,
          healthcheck: which === "unhealthy" ? "unhealthy" : "healthy",
          ...(which === "old-task" ? { oldTaskServes: "30 seconds" } : {}),
          ...(which === "swarm-rollback" ? { swarmRollbackAfter: "5 seconds" } : {})
        }
        yield* Ref.update(world.state, (s) => ({
          ...s,
          recipes: new Map([...s.recipes, ["keycloak", { tags: [v1, v2], releases: { [v2]: release } }]])
        }))
        const at = which === "old-task" ? now - 5_000 : now - 12_000
        yield* world.updateApp(app.name, (a) => ({
          ...a,
          deployment: Option.some({ version: v2, at, broken: false, replaced: { version: v1, at: at - 60_000 } })
        }))
      })
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

/** The facts of one service as the cases compare them. */
const service = (name: string, fields: Partial<ServiceFacts> = {}): ServiceFacts =>
  serviceFacts(`${stack}_${name}`, v2, fields)

Contract.suite("Docker stackFacts", [liveTwin, simulatedTwin], (test) => {
  test("a stack that was never deployed has no services and no failed tasks", (w) =>
    Effect.gen(function*() {
      expect(yield* w.docker.stackFacts(stack, 0)).toEqual({ services: [], failed: [] })
    }))

  test("a converged stack: every service runs its replicas on the current spec, the app's container healthy", (w) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      yield* w.stackCase(now, "converged")
      const since = Option.some(now - 12_000)
      expect(yield* w.docker.stackFacts(stack, now - 60_000)).toEqual({
        services: [
          service("app", { updateStartedAt: since, health: [{ status: "healthy", lastLog: "" }] }),
          service("db", { updateStartedAt: since })
        ],
        failed: []
      })
      expect((yield* w.docker.stackFacts(wiki.stack, 0)).services.map((s) => s.name)).toEqual([`${wiki.stack}_app`])
    }))

  test("a crash-looping service: none of its replicas runs, its failed tasks since `since` name it", (w) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      yield* w.stackCase(now, "db-crash-loop")
      const facts = yield* w.docker.stackFacts(stack, now - 12_000)
      expect(facts.services[1]).toEqual(
        service("db", {
          updateStartedAt: Option.some(now - 12_000),
          running: 0,
          current: 0,
          lastTaskMessage: `failed: ${TASK_ERROR}`
        })
      )
      const failed = (at: number) => ({ service: `${stack}_db`, ...failedTask(at) })
      expect(facts.failed).toEqual([failed(now - 7_000), failed(now - 2_000)])
      expect((yield* w.docker.stackFacts(stack, now - 2_000)).failed).toEqual([failed(now - 2_000)])
    }))

  test("an update in progress: the running task was created for the old spec", (w) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      yield* w.stackCase(now, "old-task")
      const facts = yield* w.docker.stackFacts(stack, now - 5_000)
      expect(facts.services[0]).toEqual(
        service("app", {
          update: "updating",
          updateStartedAt: Option.some(now - 5_000),
          updateMessage: "update in progress",
          current: 0
        })
      )
    }))

  test("Swarm rolled the update back: the services carry the old version again, the rollback named", (w) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      yield* w.stackCase(now, "swarm-rollback")
      const facts = yield* w.docker.stackFacts(stack, now - 12_000)
      expect(facts.services.map((s) => [s.name, s.update, Option.getOrNull(s.version), s.updateMessage])).toEqual([
        [`${stack}_app`, "rollback_completed", v1, "rollback completed"],
        [`${stack}_db`, "rollback_completed", v1, "rollback completed"]
      ])
    }))

  test("an unhealthy container: its health and the healthcheck's last output", (w) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      yield* w.stackCase(now, "unhealthy")
      const facts = yield* w.docker.stackFacts(stack, now - 12_000)
      expect(facts.services[0]?.health).toEqual([{ status: "unhealthy", lastLog: UNHEALTHY_LOG }])
    }))
})
