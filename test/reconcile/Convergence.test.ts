/**
 * Convergence: an answer counts only once Swarm has converged on the release in every service;
 * Swarm's own verdicts and a crash loop in any service fail at once, naming the service.
 */
import { describe, expect, it } from "@effect/vitest"
import { Option } from "effect"
import { describe as say, judge } from "../../src/reconcile/Convergence.js"
import type { ServiceFacts, StackFacts } from "../../src/services/Docker.js"
import { serviceFacts } from "../support/serviceFacts.js"

const V = "1.2.0+1.2"
const SINCE = 1_000_000
const expected = { version: V, since: SINCE, failedTasks: 3 }

const service = (name: string, fields: Partial<ServiceFacts> = {}): ServiceFacts =>
  serviceFacts(`kc_${name}`, V, { updateStartedAt: Option.some(SINCE + 10), ...fields })
const stack = (services: ReadonlyArray<ServiceFacts>, failed: StackFacts["failed"] = []): StackFacts => ({
  services,
  failed
})
const failedTask = (service: string, at: number) => ({
  service: `kc_${service}`,
  state: "failed",
  exitCode: Option.some(137),
  error: "task: non-zero exit (137)",
  at
})

describe("judge", () => {
  it("every service on the new spec with its replicas, containers healthy: converged", () => {
    const facts = stack([service("app", { health: [{ status: "healthy", lastLog: "" }] }), service("db")])
    expect(judge(facts, expected)._tag).toBe("converged")
  })

  it("an old task still running, an update in progress, replicas missing, health starting: waiting, named", () => {
    const cases: Array<[Partial<ServiceFacts>, string]> = [
      [{ current: 0 }, "kc_db: 1 of 1 running tasks are of the previous spec"],
      [{ update: "updating", updateMessage: "update in progress" }, "kc_db: update in progress"],
      [
        { running: 0, lastTaskMessage: "pending: no suitable node" },
        "kc_db: 0 of 1 replicas running (pending: no suitable node)"
      ],
      [{ health: [{ status: "starting", lastLog: "" }] }, "kc_db: container health: starting"]
    ]
    for (const [fields, why] of cases) {
      const seen = judge(stack([service("app"), service("db", fields)]), expected)
      expect(seen._tag === "waiting" && seen.kind).toBe("converging")
      expect(say(seen)).toBe(why)
    }
  })

  it("an unhealthy container and another version are waiting too, but not slow: the kind says so", () => {
    const sick = judge(stack([service("app", { health: [{ status: "unhealthy", lastLog: "refused" }] })]), expected)
    expect(sick._tag === "waiting" && sick.kind).toBe("unhealthy")
    expect(say(sick)).toBe("kc_app: container unhealthy (refused)")
    const other = judge(stack([service("app", { version: Option.some("1.1.0+1.1") })]), expected)
    expect(other._tag === "waiting" && other.kind).toBe("version")
  })

  it("Swarm's rollback or pause of this deploy's update fails at once; an older one does not", () => {
    const rolled = judge(stack([service("app"), service("db", { update: "rollback_completed" })]), expected)
    expect(rolled).toMatchObject({ _tag: "failed", reason: "swarm-rollback", service: "kc_db" })
    const paused = judge(stack([service("app", { update: "paused", updateMessage: "update paused" })]), expected)
    expect(paused).toMatchObject({ _tag: "failed", reason: "swarm-paused", service: "kc_app" })
    expect(say(paused)).toBe("Swarm paused the update of kc_app (update paused)")
    const old = service("db", { update: "rollback_completed", updateStartedAt: Option.some(SINCE - 1) })
    expect(judge(stack([service("app"), old]), expected)._tag).toBe("converged")
  })

  it("failed tasks of any service count toward the crash loop, which names the service that failed most", () => {
    const facts = stack([service("app"), service("worker", { running: 0 })], [
      failedTask("worker", SINCE + 1),
      failedTask("app", SINCE + 2),
      failedTask("worker", SINCE + 3)
    ])
    const seen = judge(facts, expected)
    expect(seen).toMatchObject({ _tag: "failed", reason: "crash-loop", service: "kc_worker", tasks: 3 })
    expect(say(seen)).toBe(
      "2 failed tasks of kc_worker (task: non-zero exit (137), exit code 137) and 1 of other services"
    )
    expect(judge(stack(facts.services, facts.failed.slice(0, 2)), expected)._tag).toBe("waiting")
  })

  it("a stack with no service is waiting", () => {
    expect(judge(stack([]), expected)._tag).toBe("waiting")
  })
})
