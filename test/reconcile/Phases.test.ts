/**
 * The program marks its phases itself: a rolled-back upgrade on the TestClock, with its log lines
 * collected and its phase durations recorded as the metrics file reads them. Nothing here depends
 * on a span name.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, HashMap, Logger, Option, TestClock } from "effect"
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

const world = World.make({
  recipes: {
    keycloak: { tags: ["1.1.0+1.1", "1.2.0+1.2"], releases: { "1.2.0+1.2": { health: "never", migrate: migrateTo12 } } }
  },
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

interface Line {
  readonly message: string
  readonly app: unknown
  readonly phase: unknown
}

describe("the phases the program marks", () => {
  it.effect("log lines carry app and phase, and the timed phases reach the recorder of the run", () =>
    Effect.gen(function*() {
      const lines: Array<Line> = []
      const collect = Logger.make(({ annotations, message }) => {
        lines.push({
          message: String(Array.isArray(message) ? message[0] : message),
          app: Option.getOrUndefined(HashMap.get(annotations, "app")),
          phase: Option.getOrUndefined(HashMap.get(annotations, "phase"))
        })
      })
      const recorder = new Metrics.Recorder()
      const fiber = yield* run(app).pipe(
        Effect.provide(layerFor(yield* world)),
        Metrics.recording(recorder),
        Effect.provide(Logger.replace(Logger.defaultLogger, collect)),
        Effect.fork
      )
      while (Option.isNone(yield* Fiber.poll(fiber))) yield* TestClock.adjust("1 second")
      const outcome = yield* Fiber.join(fiber)
      expect(outcome._tag).toBe("rolled-back")

      expect(lines.every((l) => l.app === app.name)).toBe(true)
      const phaseOf = (message: string) => lines.find((l) => l.message === message)?.phase
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
