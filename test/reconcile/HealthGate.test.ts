/**
 * The health gate judges the new release across the whole stack (issue 15), on the simulated
 * world: an old task's answer counts for nothing, every service must converge, Swarm's own
 * verdicts and container health are heard, and the outcome and alert name the service.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Logger, Option, TestServices } from "effect"
import { type AppSpec, HealthConfig } from "../../src/domain/Config.js"
import * as Outcome from "../../src/domain/Outcome.js"
import { waitHealthy } from "../../src/reconcile/HealthGate.js"
import { Docker } from "../../src/services/Docker.js"
import { Health } from "../../src/services/Health.js"
import { rehearse } from "../../src/simulation/Rehearsal.js"
import * as Scenarios from "../../src/simulation/Scenarios.js"
import * as World from "../../src/simulation/World.js"
import { serviceFacts } from "../support/serviceFacts.js"

const [FROM, TO] = ["1.1.0+1.1", "1.2.0+1.2"]
const base = Scenarios.demoApp()
const app: AppSpec = {
  ...base,
  health: new HealthConfig({ ...base.health, timeout: Duration.seconds(60), interval: Duration.seconds(1) })
}
const stateless: AppSpec = { ...app, stateful: false }
const noHttp: AppSpec = { ...app, health: new HealthConfig({ ...app.health, http: false }) }

const upgrade = (spec: AppSpec, release: World.ReleaseSpec): World.WorldSetup => ({
  recipes: { keycloak: { tags: [FROM, TO], releases: { [TO]: release } } },
  servers: ["default"],
  apps: [Scenarios.running(FROM, spec)]
})

const NOT_FOUND: World.ReleaseSpec["health"] = { timeline: [{ from: 0, status: 404 }] }

describe("the health gate across the stack", () => {
  it.effect("a stateless upgrade to a 404 release is rolled back, though the old task answered 200 for 6 s", () =>
    Effect.gen(function*() {
      const r = yield* rehearse(stateless, upgrade(stateless, { health: NOT_FOUND, oldTaskServes: "6 seconds" }))
      expect(Outcome.format(r.outcome)).toBe(`rolled-back:${TO}->${FROM}`)
      expect(r.world.lastGood.get(app.name)).toBe(FROM)
      // The old task did answer 200 after the deploy: the gate heard it and did not count it.
      expect(r.world.trace.some((t) => t.step === "health" && t.detail.endsWith(`-> 200 from the task of ${FROM}`)))
        .toBe(true)
      expect(r.world.trace.some((t) => t.step === "last-good-write" && t.detail.includes(TO))).toBe(false)
    }))

  it.effect("a healthy stateless upgrade passes only on the new task's answers, after the grace period", () =>
    Effect.gen(function*() {
      const r = yield* rehearse(stateless, upgrade(stateless, { oldTaskServes: "6 seconds" }))
      expect(Outcome.format(r.outcome)).toBe(`upgraded:${FROM}->${TO}`)
      const deploy = r.world.trace.find((t) => t.step === "deploy" && t.detail.endsWith(TO))!
      const write = r.world.trace.find((t) => t.step === "last-good-write" && t.detail.includes(TO))!
      expect(write.at - deploy.at).toBeGreaterThanOrEqual(6_000)
    }))

  it.effect("a db service that crash-loops while app answers 200: rolled back, the alert names the service", () =>
    Effect.gen(function*() {
      const r = yield* rehearse(app, upgrade(app, { services: { db: "crash-loop" } }))
      expect(r.outcome._tag).toBe("rolled-back")
      const alert = r.world.alerts.find((a) => a.reason === "rollback")!
      expect(alert.fields["gate"]).toBe("crash-loop")
      expect(alert.fields["failed_service"]).toBe(`${app.stack}_db`)
      expect(String(alert.fields["cause"])).toContain(`failed tasks of ${app.stack}_db`)
      const deploy = r.world.trace.find((t) => t.step === "deploy" && t.detail.endsWith(TO))!
      const undeploy = r.world.trace.find((t) => t.at > deploy.at && t.step === "undeploy")!
      expect(undeploy.at - deploy.at).toBeLessThanOrEqual(20_000)
    }))

  it.effect("a worker that never gets a node fails the gate at its deadline, named with what Swarm said", () =>
    Effect.gen(function*() {
      const r = yield* rehearse(app, upgrade(app, { services: { worker: "pending" } }))
      expect(r.outcome._tag).toBe("rolled-back")
      const alert = r.world.alerts.find((a) => a.reason === "rollback")!
      expect(alert.fields["gate"]).toBe("not-converged")
      expect(alert.fields["failed_service"]).toBe(`${app.stack}_worker`)
      expect(String(alert.fields["cause"])).toContain("no suitable node")
    }))

  it.effect("without HTTP health: a container that never turns healthy is rolled back; a healthy one passes", () =>
    Effect.gen(function*() {
      const sick = yield* rehearse(noHttp, upgrade(noHttp, { healthcheck: "unhealthy" }))
      expect(sick.outcome._tag).toBe("rolled-back")
      expect(sick.world.alerts.find((a) => a.reason === "rollback")!.fields["gate"]).toBe("unhealthy")
      expect(sick.world.trace.some((t) => t.step === "health")).toBe(false)
      const well = yield* rehearse(noHttp, upgrade(noHttp, { healthcheck: "healthy" }))
      expect(Outcome.format(well.outcome)).toBe(`upgraded:${FROM}->${TO}`)
    }))

  it.effect("Swarm's own rollback fails the gate at once, and the outcome says Swarm rolled back first", () =>
    Effect.gen(function*() {
      const r = yield* rehearse(stateless, upgrade(stateless, { health: NOT_FOUND, swarmRollbackAfter: "3 seconds" }))
      expect(r.outcome._tag).toBe("rolled-back")
      const reason = r.outcome._tag === "rolled-back" ? r.outcome.reason : ""
      expect(reason).toContain("Swarm rollback completed the update")
      expect(r.world.alerts.find((a) => a.reason === "rollback")!.fields["gate"]).toBe("swarm-rollback")
      const deploy = r.world.trace.find((t) => t.step === "deploy" && t.detail.endsWith(TO))!
      const redeploy = r.world.trace.find((t) => t.at > deploy.at && t.step === "deploy")!
      expect(redeploy.at - deploy.at).toBeLessThan(10_000)
    }))

  it.effect("Swarm rolls back, then Docker cannot list the tasks: the old release's answers never pass the gate", () =>
    Effect.gen(function*() {
      // A property run found it: the gate's looks saw the new release converged, Swarm rolled it
      // back, the task list failed from then on (the settle check's two looks and the gate's first
      // two succeed), and the old release's 200s committed a release that never answered.
      const setup = {
        ...upgrade(stateless, { health: NOT_FOUND, swarmRollbackAfter: "3 seconds" }),
        faults: [{ step: "tasks" as const, kind: "fail" as const, after: 4 }]
      }
      const r = yield* rehearse(stateless, setup)
      expect(Outcome.format(r.outcome)).not.toMatch(/^upgraded/)
      expect(r.world.lastGood.get(app.name)).toBe(FROM)
      expect(r.world.trace.some((t) => t.step === "last-good-write" && t.detail.includes(TO))).toBe(false)
    }))

  it.effect("a long wait logs a line every 30 s: elapsed, the last probe, what Swarm says", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const logger = Logger.make(({ message }) => {
        lines.push(Array.isArray(message) ? message.join(" ") : String(message))
      })
      yield* rehearse(app, upgrade(app, { services: { worker: "pending" } }), { logger })
      const progress = lines.filter((l) => l.startsWith(`health of ${TO}:`))
      expect(progress.length).toBeGreaterThanOrEqual(1)
      expect(progress[0]).toMatch(/30 s waited; last probe: HTTP 200; Swarm: .*_worker: 0 of 1 replicas running/)
    }))

  it.effect("an app on latest whose stack is still converging past the settle time is waited for, not redeployed", () =>
    Effect.gen(function*() {
      // A deploy 20 s before the run, over a stack whose old task serves 90 s: Swarm converges 70 s
      // into the run, past the 60 s settle time and within the 120 s health timeout.
      const patient: AppSpec = {
        ...stateless,
        health: new HealthConfig({ ...stateless.health, timeout: Duration.seconds(120) })
      }
      const world = yield* World.make({
        ...upgrade(patient, { oldTaskServes: "90 seconds" }),
        apps: [Scenarios.running(TO, patient)]
      })
      yield* world.updateApp(patient.name, (a) => ({
        ...a,
        deployment: Option.some({ version: TO, at: -20_000, broken: false, replaced: { version: FROM, at: -1e6 } })
      }))
      const r = yield* rehearse(patient, world)
      expect(Outcome.format(r.outcome)).toBe(`noop-healthy:${TO}`)
      expect(r.world.trace.some((t) => t.step === "deploy")).toBe(false)
    }))

  it.effect("every redeploy of an app on latest writes an alert, also when it helped", () =>
    Effect.gen(function*() {
      const r = yield* rehearse(app, {
        ...upgrade(app, {}),
        apps: [Scenarios.running(TO, app, { brokenUntilRedeploy: true })]
      })
      expect(Outcome.format(r.outcome)).toBe(`redeployed-healthy:${TO}`)
      expect(r.world.alerts.map((a) => [a.reason, a.fields["version"]])).toEqual([["redeployed", TO]])
    }))
})

describe("an answer counts only between two looks that saw the stack converged", () => {
  /**
   * A start-first update: the old task answers 200 until it exits, and Swarm shows the stack
   * converged from the first look after that. `looks` is what Swarm shows at each look, in turn
   * (the last repeats); every probe is answered 200.
   */
  const gate = (looks: ReadonlyArray<"updating" | "converged">, options: { readonly afterDeploy: boolean }) => {
    let look = 0
    const docker = Docker.of({
      isDeployed: () => Effect.succeed(true),
      deployedVersion: () => Effect.succeed(Option.some(TO)),
      stackVolumes: () => Effect.succeed([]),
      chaosVersion: () => Effect.succeed(Option.none()),
      secrets: () => Effect.succeed([]),
      failedTasks: () => Effect.succeed([]),
      stackFacts: () =>
        Effect.sync(() => {
          const state = looks[Math.min(look++, looks.length - 1)]!
          return {
            services: [
              serviceFacts(`${app.stack}_app`, TO, state === "updating" ? { update: "updating", current: 0 } : {})
            ],
            failed: []
          }
        })
    })
    const health = Health.of({ probe: () => Effect.succeed(200) })
    // One answer passes the gate; probes 10 ms apart on the real clock.
    const one: AppSpec = {
      ...app,
      health: new HealthConfig({ ...app.health, successes: 1, interval: Duration.millis(10) })
    }
    return waitHealthy(one, { version: TO, timeout: "1 minute", since: 0, afterDeploy: options.afterDeploy }).pipe(
      Effect.provideService(Docker, docker),
      Effect.provideService(Health, health),
      TestServices.provideLive
    )
  }

  it.live("the answer sent while Swarm was still updating does not count, though the look after it saw convergence", () =>
    Effect.gen(function*() {
      // Probe 1 (updating), probe 2 (updating before, converged after: the old task's last answer),
      // probe 3 (converged before and after): one success is enough, and it is probe 3.
      const passed = yield* gate(["updating", "converged"], { afterDeploy: true })
      expect(passed.probes).toBe(3)
    }))

  it.live("right after a deploy the first probe never counts; a look at a running app lets it count", () =>
    Effect.gen(function*() {
      expect((yield* gate(["converged"], { afterDeploy: true })).probes).toBe(2)
      expect((yield* gate(["converged"], { afterDeploy: false })).probes).toBe(1)
    }))
})
