/**
 * What Swarm shows of a simulated stack at a moment: per service its update, replicas, whether the
 * running task is the current spec's, its container health, and the failed tasks of a crash loop.
 * Pure: the in-memory Docker reads it at the Clock's `now`.
 */
import { Duration, Option } from "effect"
import type { ServiceFacts, ServiceFailedTask, StackFacts } from "../services/Docker.js"
import {
  DEFAULT_RESTART_EVERY,
  DEFAULT_STARTUP,
  type Deployment,
  failedTasksAt,
  oldTaskServing,
  type ReleaseSpec,
  swarmRolledBack
} from "./World.js"

const crashed = (service: string, at: number): ServiceFailedTask => ({
  service,
  state: "failed",
  exitCode: Option.some(1),
  error: "task: non-zero exit (1)",
  at
})

/** Start times of the failed tasks of a crash-looping service deployed at `from`, by `now`. */
const crashesSince = (every: number, from: number, now: number): Array<number> =>
  Number.isFinite(from)
    ? Array.from({ length: Math.min(Math.max(0, Math.floor((now - from) / every)), 1000) }, (_, i) =>
      from + (i + 1) * every)
    : []

export const stackFactsAt = (
  stack: string,
  release: ReleaseSpec,
  deployment: Deployment,
  now: number,
  since: number
): StackFacts => {
  const age = now - deployment.at
  const rolledBack = swarmRolledBack(release, deployment, now)
  const updating = oldTaskServing(release, deployment, now)
  const updatedInPlace = deployment.replaced !== undefined
  const startedAt = Number.isFinite(deployment.at) ? Option.some(deployment.at) : Option.none()
  const update = rolledBack ? "rollback_completed" as const : updatedInPlace
    ? (updating ? "updating" as const : "completed" as const)
    : "none" as const
  const version = rolledBack && deployment.replaced !== undefined ? deployment.replaced.version : deployment.version
  const appRuns = release.health !== "crash-loop" || rolledBack
  const startup = Duration.toMillis(release.startup ?? DEFAULT_STARTUP)
  const every = Duration.toMillis(release.restartEvery ?? DEFAULT_RESTART_EVERY)
  const health = release.healthcheck === undefined || !appRuns || updating || rolledBack
    ? []
    : [{
      status: age < startup ? "starting" as const : release.healthcheck,
      lastLog: age < startup || release.healthcheck === "healthy" ? "" : "curl: (7) Failed to connect: refused"
    }]
  const service = (
    name: string,
    runs: boolean,
    lastTaskMessage: string,
    own: ReadonlyArray<{ readonly status: "healthy" | "unhealthy" | "starting" | "none"; readonly lastLog: string }>
  ): ServiceFacts => ({
    name: `${stack}_${name}`,
    version: Option.some(version),
    update,
    updateStartedAt: update === "none" ? Option.none() : startedAt,
    updateMessage: rolledBack ? "rollback completed" : updating ? "update in progress" : "",
    desired: 1,
    running: runs ? 1 : 0,
    current: runs && !updating ? 1 : 0,
    health: own,
    lastTaskMessage
  })
  const others = Object.entries(release.services ?? {})
  const services = [
    service("app", appRuns, appRuns ? "" : "failed: task: non-zero exit (1)", health),
    ...others.map(([name, behaviour]) =>
      service(
        name,
        behaviour === "healthy" || rolledBack,
        behaviour === "pending" && !rolledBack
          ? "pending: no suitable node (insufficient resources on 1 node)"
          : behaviour === "crash-loop" && !rolledBack
          ? "failed: task: non-zero exit (1)"
          : "",
        []
      )
    )
  ]
  const failed = [
    ...failedTasksAt(release, deployment, now).map((at) => crashed(`${stack}_app`, at)),
    ...others.filter(([, b]) => b === "crash-loop").flatMap(([name]) =>
      crashesSince(every, deployment.at, now).map((at) => crashed(`${stack}_${name}`, at))
    )
  ].filter((t) => t.at >= since).sort((a, b) => a.at - b.at)
  return { services, failed }
}
