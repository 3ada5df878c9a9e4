/**
 * The window gate: whether a plan that changes the app may start now. Pure. Outside the app's
 * maintenance windows, or too late in one for the change to end before it closes, a deploy is not
 * started: the run ends `held-window`, having planned, held and alerted as any run does.
 */
import { Duration, Option } from "effect"
import type { AppSpec } from "./Config.js"
import { Outcome } from "./Outcome.js"
import type { Plan } from "./Plan.js"
import { mayStart, showLocal, windows } from "./Window.js"

type Timing = Pick<AppSpec, "deployTimeout" | "health">

/** One deploy and its health gate at their time limits. */
const deployAndHealth = (app: Timing) => Duration.toMillis(app.deployTimeout) + Duration.toMillis(app.health.timeout)

/**
 * The longest a change may take. An upgrade: its deploy and health gate, then a rollback's (the
 * snapshot and its restore are not bounded by a setting, so they are not counted). A fresh deploy
 * or a redeploy has no rollback.
 */
export const expectedDuration = (plan: Plan, app: Timing): number =>
  plan._tag === "Upgrade" ? 2 * deployAndHealth(app) : deployAndHealth(app)

/** What the plan would change, `from` -> `to`; none for a plan that deploys nothing. */
const change = (plan: Plan): Option.Option<{ readonly from: string; readonly to: string; readonly what: string }> => {
  switch (plan._tag) {
    case "Upgrade":
      return Option.some({ from: plan.from, to: plan.to, what: `upgrade ${plan.from} -> ${plan.to}` })
    case "Redeploy":
      return Option.some({ from: plan.version, to: plan.version, what: `redeploy of ${plan.version}` })
    case "FreshDeploy":
      return Option.some({ from: "undeployed", to: plan.version, what: `fresh deploy of ${plan.version}` })
    default:
      return Option.none()
  }
}

/** The run's outcome when the window stops the plan; none when it may go ahead. */
export const windowGate = (
  plan: Plan,
  app: Pick<AppSpec, "deployTimeout" | "health" | "window">,
  now: number,
  timeZone: string
): Option.Option<Extract<Outcome, { _tag: "held-window" }>> =>
  Option.flatMap(change(plan), ({ from, to, what }) => {
    const decision = mayStart(windows(app.window), now, timeZone, expectedDuration(plan, app))
    const next = decision._tag === "Open" ? Option.none() : decision.next
    const opens = Option.match(next, {
      onNone: () => "no window opens within a week",
      onSome: (o) => `the next window opens ${showLocal(o.start, timeZone)}`
    })
    switch (decision._tag) {
      case "Open":
        return Option.none()
      case "Closed":
        return Option.some(
          Outcome["held-window"]({ from, to, reason: `outside the maintenance window: ${what} waits; ${opens}` })
        )
      case "TooLate":
        return Option.some(Outcome["held-window"]({
          from,
          to,
          reason: `the maintenance window closes ${showLocal(decision.closes, timeZone)}, before a ${what} ` +
            `could end (up to ${Duration.format(Duration.millis(expectedDuration(plan, app)))}): not started; ${opens}`
        }))
    }
  })
