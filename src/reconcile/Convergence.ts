/**
 * Has Swarm converged on the release the gate judges? Pure: from the facts of every service of the
 * stack, either converged, still on its way (and why, naming the service), or a verdict that fails
 * the gate at once (Swarm rolled back or paused the update, a crash loop in any service).
 */
import { Data, Option } from "effect"
import { type ServiceFacts, type StackFacts, SWARM_VERDICTS } from "../services/Docker.js"

/** Why a gate fails at once, before its deadline. */
export type ImmediateReason = "crash-loop" | "swarm-rollback" | "swarm-paused"

export type WaitingKind = "converging" | "unhealthy" | "version"

export type Convergence = Data.TaggedEnum<{
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- a variant without fields, as Data.TaggedEnum writes it
  converged: {}
  /**
   * Not yet: `service` is the first one that keeps the stack from it, `why` what it shows, `kind`
   * whether Swarm is still at work (`converging`: slow is not broken), a container's healthcheck
   * failed (`unhealthy`), or the stack runs another version (`version`).
   */
  waiting: { readonly service: string; readonly why: string; readonly kind: WaitingKind }
  /** `tasks`: the failed tasks of the stack since the deploy. */
  failed: { readonly reason: ImmediateReason; readonly service: string; readonly why: string; readonly tasks: number }
}>
export const Convergence = Data.taggedEnum<Convergence>()

export interface Expected {
  /** The version every labelled service must carry. */
  readonly version: string
  /** Only an update or failed task at or after this moment (epoch ms) is of this deploy. */
  readonly since: number
  /** This many failed tasks (of any service) since `since` are a crash loop. */
  readonly failedTasks: number
}

/** ` (text)`, unless there is nothing to add to `what`. */
const said = (text: string, what = "") => text.trim() === "" || text.trim() === what ? "" : ` (${text.trim()})`

/** The first thing that keeps `service` from having converged, if any. */
const notYet = (service: ServiceFacts, version: string): Option.Option<{ why: string; kind: WaitingKind }> => {
  const running = Option.getOrUndefined(service.version)
  if (running !== undefined && running !== version) {
    return Option.some({ why: `runs version ${running}, not ${version}`, kind: "version" })
  }
  if (service.update === "updating" || service.update === "rollback_started") {
    return Option.some({
      why: `update in progress${said(service.updateMessage, "update in progress")}`,
      kind: "converging"
    })
  }
  if (service.running < service.desired) {
    return Option.some({
      why: `${service.running} of ${service.desired} replicas running${said(service.lastTaskMessage)}`,
      kind: "converging"
    })
  }
  if (service.current < service.running) {
    return Option.some({
      why: `${service.running - service.current} of ${service.running} running tasks are of the previous spec`,
      kind: "converging"
    })
  }
  const unhealthy = service.health.find((h) => h.status === "unhealthy")
  if (unhealthy !== undefined) {
    return Option.some({ why: `container unhealthy${said(unhealthy.lastLog)}`, kind: "unhealthy" })
  }
  if (service.health.some((h) => h.status === "starting")) {
    return Option.some({ why: "container health: starting", kind: "converging" })
  }
  return Option.none()
}

/** The service with the most failed tasks since the deploy, and its last task's error. */
const crashLoop = (facts: StackFacts, threshold: number) => {
  if (facts.failed.length < threshold) return Option.none()
  const counts = new Map<string, number>()
  for (const task of facts.failed) counts.set(task.service, (counts.get(task.service) ?? 0) + 1)
  const [service, count] = [...counts].sort((a, b) => b[1] - a[1])[0]!
  const last = facts.failed.filter((t) => t.service === service).at(-1)!
  const exit = Option.match(last.exitCode, { onNone: () => "", onSome: (code) => `, exit code ${code}` })
  const others = facts.failed.length - count
  return Option.some(Convergence.failed({
    reason: "crash-loop",
    service,
    tasks: facts.failed.length,
    why: `${count} failed tasks of ${service} (${last.error === "" ? last.state : last.error}${exit})` +
      (others > 0 ? ` and ${others} of other services` : "")
  }))
}

export const judge = (facts: StackFacts, expected: Expected): Convergence => {
  for (const service of facts.services) {
    const ours = Option.match(service.updateStartedAt, { onNone: () => true, onSome: (at) => at >= expected.since })
    if (ours && SWARM_VERDICTS.includes(service.update)) {
      return Convergence.failed({
        reason: service.update === "paused" ? "swarm-paused" : "swarm-rollback",
        service: service.name,
        tasks: facts.failed.length,
        why: `Swarm ${service.update.replace("_", " ")} the update of ${service.name}${said(service.updateMessage)}`
      })
    }
  }
  const looping = crashLoop(facts, expected.failedTasks)
  if (Option.isSome(looping)) return looping.value
  if (facts.services.length === 0) {
    return Convergence.waiting({ service: "", why: "no service runs", kind: "converging" })
  }
  for (const service of facts.services) {
    const blocked = notYet(service, expected.version)
    if (Option.isSome(blocked)) return Convergence.waiting({ service: service.name, ...blocked.value })
  }
  return Convergence.converged()
}

/** One line for the log: what Swarm says. */
export const describe = (convergence: Convergence): string =>
  Convergence.$match(convergence, {
    converged: () => "converged",
    waiting: ({ service, why }) => service === "" ? why : `${service}: ${why}`,
    failed: ({ why }) => why
  })
