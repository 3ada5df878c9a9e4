/**
 * Health, live (a real HTTPS probe of a local server with a self-signed certificate) and in
 * memory: the status the app answers (200, 500, 503 while it starts, 404 from the proxy when it is
 * not deployed), and HealthProbeError when no answer comes (the connection is refused).
 */
import { expect } from "@effect/vitest"
import { Context, Duration, Effect, Option, Ref } from "effect"
import type { AppSpec } from "../../src/domain/Config.js"
import * as LiveHealth from "../../src/live/Health.js"
import { Health } from "../../src/services/Health.js"
import * as SimulatedHealth from "../../src/simulation/Health.js"
import { closedPort, httpsServer } from "../support/httpsServer.js"
import * as Contract from "./harness.js"

const PATH = "/realms/master"
const ATTEMPT = Duration.millis(300)
const v1 = "1.1.0+1.1"

type Answer = "healthy" | "failing" | "starting" | "not deployed" | "silent"

interface HealthWorld {
  readonly health: Health["Type"]
  /** The app, as this world reaches it now. */
  readonly app: () => AppSpec
  readonly answers: (answer: Answer) => Effect.Effect<void>
}

const STATUS = { healthy: 200, failing: 500, starting: 503, "not deployed": 404 } as const

const liveTwin = Contract.live<HealthWorld>(Effect.gen(function*() {
  const domain = Contract.contractApp().domain
  const server = yield* httpsServer(domain)
  const context = yield* Contract.layerContext(LiveHealth.layer)
  const reachedAt = (port: number) =>
    Contract.contractApp({ path: PATH, connect: `127.0.0.1:${port}`, attemptTimeout: ATTEMPT })
  let app = reachedAt(server.port)
  // Nothing listens where the proxy should: the connection is refused.
  const refused = reachedAt(yield* closedPort)
  return {
    health: Context.get(context, Health),
    app: () => app,
    answers: (answer) =>
      Effect.sync(() => {
        if (answer === "silent") app = refused
        else server.setRoute(PATH, { status: STATUS[answer] })
      })
  } satisfies HealthWorld
}))

const simulatedTwin = Contract.simulated<HealthWorld>(Effect.gen(function*() {
  const app = Contract.contractApp({ path: PATH, attemptTimeout: ATTEMPT })
  const { context, world } = yield* Contract.simulatedWorld({
    recipes: {
      keycloak: {
        tags: [v1],
        releases: { [v1]: { health: "healthy" } }
      }
    },
    apps: [{ spec: app, deployed: v1 }]
  }, SimulatedHealth.layerTest)
  const release = (health: "never" | { readonly healthyAfter: Duration.DurationInput }) =>
    Ref.update(world.state, (s) => ({
      ...s,
      recipes: new Map([["keycloak", { tags: [v1], releases: { [v1]: { health } } }]])
    }))
  const deployment = (deployed: boolean, at: number) =>
    world.updateApp(app.name, (a) => ({
      ...a,
      deployment: deployed ? Option.some({ version: v1, at, broken: false }) : Option.none()
    }))
  return {
    health: Context.get(context, Health),
    app: () => app,
    answers: (answer) => {
      switch (answer) {
        case "healthy":
          return deployment(true, Number.NEGATIVE_INFINITY)
        case "failing":
          return Effect.zipRight(release("never"), deployment(true, Number.NEGATIVE_INFINITY))
        case "starting":
          // Deployed just now, healthy only after an hour.
          return Effect.zipRight(release({ healthyAfter: "1 hour" }), deployment(true, 0))
        case "not deployed":
          return deployment(false, 0)
        case "silent":
          // The probe gets no HTTP answer at all (in the Contract.live world: the connection is refused).
          return Ref.update(
            world.state,
            (s) => ({ ...s, faults: [{ step: "health" as const, kind: "fail" as const }] })
          )
      }
    }
  } satisfies HealthWorld
}))

Contract.suite("Health", [liveTwin, simulatedTwin], (test) => {
  test("a healthy app answers 200", (w) =>
    Effect.gen(function*() {
      yield* w.answers("healthy")
      expect(yield* w.health.probe(w.app())).toBe(200)
    }))

  test("any HTTP answer is the status: 500 failing, 503 starting, 404 from the proxy when not deployed", (w) =>
    Effect.gen(function*() {
      yield* w.answers("failing")
      expect(yield* w.health.probe(w.app())).toBe(500)
      yield* w.answers("starting")
      expect(yield* w.health.probe(w.app())).toBe(503)
      yield* w.answers("not deployed")
      expect(yield* w.health.probe(w.app())).toBe(404)
    }))

  test("no answer is a HealthProbeError for the app's domain", (w) =>
    Effect.gen(function*() {
      yield* w.answers("silent")
      const error = yield* Contract.failureOf(w.health.probe(w.app()))
      expect(error).toMatchObject({ _tag: "HealthProbeError", domain: w.app().domain })
    }))
})
