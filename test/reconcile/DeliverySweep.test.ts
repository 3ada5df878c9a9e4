/**
 * The fault sweep with the delivery included (issue 16): a run of a scenario that alerts, then the
 * delivery of the outbox to the channels, each on virtual time, is disturbed at every side effect
 * it makes (the run's steps and each channel's send) by a failure or a crash (SIGKILL: nothing
 * after it happens, the delivery included); then a night runs undisturbed, run and delivery.
 * After it every alert ever written has reached every channel whose filters match it, exactly once
 * (a simulated send and its record cannot be split by a crash: the live kill -9 case is e2e's),
 * and none reached a channel that does not match. A fault in a send never changes the run's outcome.
 *
 * `npm test` sweeps two scenarios (a rollback and a hold); `npm run test:deep` every scenario that
 * alerts without waiting out a long health deadline.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Ref, Schedule } from "effect"
import { matches, NotifyChannel } from "../../src/domain/Notify.js"
import * as Outcome from "../../src/domain/Outcome.js"
import { deliverOutbox } from "../../src/reconcile/Deliver.js"
import { Notifier } from "../../src/services/Notifier.js"
import * as SimulatedNotifier from "../../src/simulation/Notifier.js"
import { rehearse } from "../../src/simulation/Rehearsal.js"
import { type Scenario, scenarios } from "../../src/simulation/Scenarios.js"
import { runOnVirtualClock } from "../../src/simulation/VirtualClock.js"
import * as World from "../../src/simulation/World.js"
import { targets } from "../support/targets.js"
import { DEEP } from "./PropertySuite.js"

const CHANNELS = [
  new NotifyChannel({ url: "ntfy://ntfy.sh/all" }),
  new NotifyChannel({ name: "pager", url: "ntfy://ntfy.sh/pager", minSeverity: "critical" }),
  new NotifyChannel({ name: "kc-mail", url: "smtp://m.example.org/?from=a@x.org&to=b@x.org", apps: ["keycloak"] })
]
const NIGHT = 86_400_000
const KINDS = ["fail", "crash"] as const

/** One night: the run, then (unless it was killed) the delivery, as `reconcile` does them. */
const night = (
  scenario: Scenario,
  world: World.WorldApi,
  notifier: Notifier["Type"],
  startMillis: number,
  interrupt: boolean
) =>
  Effect.gen(function*() {
    const run = yield* rehearse(scenario.app, world, {
      startMillis,
      ...(interrupt && scenario.interruptAfter ? { interruptAfter: scenario.interruptAfter } : {})
    })
    const deliver = deliverOutbox({
      host: "h",
      stateDir: "/s",
      retry: Schedule.recurs(1),
      attemptTimeout: "30 seconds"
    })
      .pipe(Effect.provideService(Notifier, notifier))
    // The delivery starts an hour after the run began: after it, whatever it waited for.
    yield* Effect.flatMap(runOnVirtualClock(deliver, { startMillis: startMillis + 3_600_000 }), (exit) => exit)
    return run
  })

const sweep = (scenario: Scenario) =>
  Effect.gen(function*() {
    const failures: Array<string> = []
    // The undisturbed first night: its side effects are the targets.
    const clean = yield* World.make(scenario.setup)
    const cleanNotifier = yield* SimulatedNotifier.make(CHANNELS).pipe(
      Effect.provideService(World.SimulatedWorld, clean)
    )
    const undisturbed = yield* night(scenario, clean, cleanNotifier.notifier, 0, true)
    const trace = (yield* Ref.get(clean.state)).trace
    // As the fault sweep: a long health wait is hit at its first, second and last probe only.
    const targetList = targets(trace)
    let cases = 0
    for (const target of targetList) {
      for (const kind of KINDS) {
        const label = `${scenario.name} / ${kind} at ${target.step}#${target.occurrence} (${target.detail})`
        const world = yield* World.make({
          ...scenario.setup,
          // The scenario's own faults (a deploy that fails) stay; this case's is added.
          faults: [...(scenario.setup.faults ?? []), { step: target.step, kind, after: target.occurrence, times: 1 }]
        })
        const { notifier, sent } = yield* SimulatedNotifier.make(CHANNELS).pipe(
          Effect.provideService(World.SimulatedWorld, world)
        )
        const first = yield* night(scenario, world, notifier, 0, true)
        if (
          target.step === "notify" && kind === "fail" &&
          Outcome.format(first.outcome) !== Outcome.format(undisturbed.outcome)
        ) {
          failures.push(`${label}: a failed send changed the outcome to ${Outcome.format(first.outcome)}`)
        }
        yield* World.restart(world)
        yield* night(scenario, world, notifier, NIGHT, false)
        const alerts = (yield* Ref.get(world.state)).alerts
        const got = (yield* Ref.get(sent)).map((x) => `${x.message.id} ${x.channel}`)
        const outbox = yield* notifier.outbox
        const expected = outbox.flatMap(({ alert, id }) =>
          CHANNELS.filter((c) => matches(c, alert)).map((c) => `${id} ${c.name ?? "ntfy"}`)
        )
        if (outbox.length !== alerts.length) failures.push(`${label}: the outbox lost alerts`)
        if (JSON.stringify([...got].sort()) !== JSON.stringify([...expected].sort())) {
          failures.push(
            `${label}: sent ${JSON.stringify([...got].sort())}, expected ${JSON.stringify([...expected].sort())}`
          )
        }
        cases++
      }
    }
    return { cases, failures, alerts: (yield* Ref.get(clean.state)).alerts.length }
  })

const alerting = scenarios.filter((s) =>
  ["rolled-back", "rollback-failed", "held-major", "held-manual-migration", "unhealthy"].includes(s.expect)
)
// A release that never answers waits out its whole health deadline in every case (~2 s each): left
// to the Faults sweep, which covers those paths without the delivery.
const LONG_WAITS = [
  "broken-release",
  "never-healthy",
  "restore-fails",
  "unhealthy-on-latest",
  "stateless-broken-release"
]
const swept = DEEP
  ? alerting.filter((s) => !LONG_WAITS.includes(s.name))
  : alerting.filter((s) => ["deploy-fails", "major-bump"].includes(s.name))

describe("the fault sweep with the delivery", () => {
  it("sweeps scenarios that alert, on every channel kind of filter", () => {
    expect(swept.length).toBeGreaterThanOrEqual(2)
  })
  for (const scenario of swept) {
    it.effect(
      `${scenario.name}: every alert reaches its channels once, whatever failed the night before`,
      () =>
        Effect.gen(function*() {
          const v = yield* sweep(scenario)
          console.log(`delivery sweep, ${scenario.name}: ${v.cases} cases, ${v.failures.length} failed`)
          expect(v.alerts).toBeGreaterThan(0)
          // Every side effect of the run and of the delivery, each failed and each crashed.
          expect(v.cases).toBeGreaterThan(20)
          expect(v.failures.slice(0, 10)).toEqual([])
        }),
      // The interrupted scenario's 454 cases take about 3 minutes alone on 2 cores in the deep run,
      // and twice that beside other work.
      DEEP ? 1_200_000 : 300_000
    )
  }
})
