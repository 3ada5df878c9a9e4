/**
 * The program on Effect's own TestClock, driven by `TestClock.adjust` from the test: the same
 * transaction as in the rehearsals, without the virtual clock, so nothing in the program depends
 * on how time is simulated. Health deadlines are shortened to keep the number of wake-ups small.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, HashMap, Logger, Option, Ref, TestClock } from "effect"
import { HealthConfig } from "../../src/domain/Config.js"
import * as Metrics from "../../src/live/Metrics.js"
import { run } from "../../src/reconcile/Reconcile.js"
import { DATA_BEFORE, demoApp, migrateTo12 } from "../../src/simulation/Scenarios.js"
import { layerFor } from "../../src/simulation/Simulation.js"
import * as World from "../../src/simulation/World.js"

const app = {
  ...demoApp(),
  health: new HealthConfig({ path: "/", timeout: Duration.minutes(2), interval: Duration.seconds(1) })
}

const setup = (release: World.ReleaseSpec): World.WorldSetup => ({
  recipes: { keycloak: { tags: ["1.1.0+1.1", "1.2.0+1.2"], releases: { "1.2.0+1.2": release } } },
  servers: ["default"],
  apps: [{
    spec: app,
    env: true,
    pinned: "1.1.0+1.1",
    deployed: "1.1.0+1.1",
    volumes: { data: DATA_BEFORE },
    lastGood: "1.1.0+1.1"
  }]
})

/** Advance the TestClock one second at a time until the fiber is done (bounded). */
const driveToEnd = <A, E>(fiber: Fiber.RuntimeFiber<A, E>, limit = Duration.minutes(30)) =>
  Effect.gen(function*() {
    for (let t = 0; t < Duration.toSeconds(limit); t++) {
      if (Option.isSome(yield* Fiber.poll(fiber))) break
      yield* TestClock.adjust("1 second")
    }
    return yield* Fiber.await(fiber)
  })

describe("on the TestClock", () => {
  it.effect("a release that migrates and fails is rolled back; the volume is restored byte for byte", () =>
    Effect.gen(function*() {
      const world = yield* World.make(setup({ health: "never", migrate: migrateTo12 }))
      const fiber = yield* Effect.fork(run(app).pipe(Effect.provide(layerFor(world))))
      const exit = yield* driveToEnd(fiber)
      expect(exit._tag).toBe("Success")
      const state = yield* Ref.get(world.state)
      expect(exit._tag === "Success" && exit.value._tag).toBe("rolled-back")
      expect(Object.fromEntries(state.apps.get(app.name)!.volumes.get("data")!)).toEqual(DATA_BEFORE)
      expect(state.alerts.map((a) => a.reason)).toEqual(["rollback"])
    }))

  it.effect("interrupting the fiber during the health wait runs the same rollback", () =>
    Effect.gen(function*() {
      const world = yield* World.make(setup({ health: "never", migrate: migrateTo12 }))
      const fiber = yield* Effect.fork(run(app).pipe(Effect.provide(layerFor(world))))
      yield* TestClock.adjust("20 seconds")
      const before = yield* Ref.get(world.state)
      // Mid health wait: the target is deployed and has already migrated the data.
      expect(Option.map(before.apps.get(app.name)!.deployment, (d) => d.version)).toEqual(Option.some("1.2.0+1.2"))
      expect(before.apps.get(app.name)!.volumes.get("data")!.get("db/schema")).toBe("schema 12\n")
      const interrupting = yield* Effect.fork(Fiber.interrupt(fiber))
      const exit = yield* driveToEnd(interrupting)
      expect(exit._tag).toBe("Success")
      const state = yield* Ref.get(world.state)
      expect(Object.fromEntries(state.apps.get(app.name)!.volumes.get("data")!)).toEqual(DATA_BEFORE)
      expect(Option.map(state.apps.get(app.name)!.deployment, (d) => d.version)).toEqual(Option.some("1.1.0+1.1"))
      expect(state.alerts.map((a) => [a.reason, a.fields["cause"]])).toEqual([["rollback", "interrupted"]])
      expect(state.history).toMatchObject([{ outcome: "rolled-back", interrupted: true }])
    }))

  it.effect("a crash-looping release is rolled back within seconds, not at the deadline", () =>
    Effect.gen(function*() {
      const world = yield* World.make(setup({ health: "crash-loop", restartEvery: "4 seconds" }))
      const fiber = yield* Effect.fork(run(app).pipe(Effect.provide(layerFor(world))))
      const exit = yield* driveToEnd(fiber)
      expect(exit._tag === "Success" && exit.value._tag).toBe("rolled-back")
      const state = yield* Ref.get(world.state)
      const deploy = state.trace.find((t) => t.step === "deploy")!
      const restore = state.trace.find((t) => t.step === "restore")!
      expect(restore.at - deploy.at).toBeLessThanOrEqual(15_000)
    }))

  it.effect("the program marks its steps: log lines carry app and step, timed phases reach the run's recorder", () =>
    Effect.gen(function*() {
      const world = yield* World.make(setup({ health: "never", migrate: migrateTo12 }))
      const lines: Array<{ readonly message: string; readonly app: unknown; readonly step: unknown }> = []
      const collect = Logger.make(({ annotations, message }) => {
        lines.push({
          message: String(Array.isArray(message) ? message[0] : message),
          app: Option.getOrUndefined(HashMap.get(annotations, "app")),
          step: Option.getOrUndefined(HashMap.get(annotations, "step"))
        })
      })
      const recorder = new Metrics.Recorder()
      const fiber = yield* run(app).pipe(
        Effect.provide(layerFor(world)),
        Metrics.recording(recorder),
        Effect.provide(Logger.replace(Logger.defaultLogger, collect)),
        Effect.fork
      )
      const exit = yield* driveToEnd(fiber)
      expect(exit._tag === "Success" && exit.value._tag).toBe("rolled-back")

      expect(lines.every((l) => l.app === app.name)).toBe(true)
      const phaseOf = (message: string) => lines.find((l) => l.message === message)?.step
      expect(phaseOf("deploy 1.2.0+1.2")).toBe("deploy")
      expect(phaseOf("deploy 1.1.0+1.1")).toBe("deploy")
      // Lines between the steps belong to no step (the CLI gives them the in-flight record's phase).
      expect(phaseOf("restore snapshot of 1.1.0+1.1")).toBeUndefined()

      const durations = recorder.durations(app.name)
      expect([...durations.keys()].sort()).toEqual(["deploy", "health", "restore", "snapshot"])
      // On the TestClock, exact: the failed gate waited out its 2 minutes, the rollback's gate 3 s more.
      // The planner's look at the running app before the upgrade (1 s) is no gate and not counted.
      expect(durations.get("health")).toBe(123)
      // Another recorder, or another app, sees none of it.
      expect(new Metrics.Recorder().durations(app.name)).toEqual(new Map())
      expect(recorder.durations("other")).toEqual(new Map())
    }))
})
