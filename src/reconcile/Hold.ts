/**
 * Holds: an upgrade the safety gate stops (a major bump, a manual migration, the policy, an
 * unknown version, a release that failed before) is alerted once per reason and target, and the
 * version that stays is still watched. Also the hold a rollback leaves on the release it undid.
 */
import { Clock, Effect, Match, Option } from "effect"
import { timestamp } from "../domain/Alert.js"
import type { AppSpec } from "../domain/Config.js"
import { type Held, held } from "../domain/Hold.js"
import { Outcome } from "../domain/Outcome.js"
import type * as Plan from "../domain/Plan.js"
import { HoldRecord, State } from "../services/State.js"
import { deployAndWait, notesText, report, RETRY, settled, SHORT_STEP, within, writeAlert } from "./Steps.js"

type HoldPlan = Extract<Plan.Plan, { _tag: "Hold" }>
type HeldOutcome = Extract<Outcome, { readonly _tag: Held }>

/**
 * Remember a release that was rolled back, so that the next runs hold it instead of failing on it
 * again every night. The rollback alert already told a person, so the hold counts as alerted.
 */
export const rememberFailedRelease = (app: AppSpec, from: string, to: string) =>
  Effect.gen(function*() {
    const state = yield* State
    const now = yield* Clock.currentTimeMillis
    yield* state.setHold(
      app.name,
      Option.some(new HoldRecord({ reason: held("failed-release"), from, to, ts: timestamp(now) }))
    ).pipe(
      within(app, "hold write", SHORT_STEP),
      Effect.catchAll((e) => Effect.logError(`could not remember the failed release ${to}: ${e.message}`))
    )
  })

/** Forget an alerted hold once the app has moved past it. */
export const clearHold = (app: AppSpec) =>
  Effect.gen(function*() {
    const state = yield* State
    const previous = yield* state.hold(app.name).pipe(within(app, "hold read", SHORT_STEP))
    if (Option.isSome(previous)) {
      yield* state.setHold(app.name, Option.none()).pipe(within(app, "hold write", SHORT_STEP))
    }
  })

/** `12.3 GiB (13207024435 bytes)`: readable, and exact for a script. */
const bytes = (n: number): string => {
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB"] as const
  const power = Math.min(units.length - 1, Math.floor(Math.log(Math.max(n, 1)) / Math.log(1024)))
  return power === 0 ? `${n} bytes` : `${(n / 1024 ** power).toFixed(1)} ${units[power]} (${n} bytes)`
}

/**
 * The snapshot of a stateful app would not fit: held before anything is undeployed, alerted once
 * per target (the record says it was), and tried again every run.
 */
export const holdNoSpace = (
  app: AppSpec,
  from: string,
  to: string,
  space: { readonly free: number; readonly needed: number }
) =>
  Effect.gen(function*() {
    const state = yield* State
    const outcome = Outcome[held("no-space")]({ from, to, ...space })
    yield* Effect.logWarning(
      `not upgrading ${from} -> ${to}: the snapshot needs ${bytes(space.needed)}, ${bytes(space.free)} free`
    )
    const previous = yield* state.hold(app.name).pipe(within(app, "hold read", SHORT_STEP))
    if (Option.exists(previous, (h) => h.reason === outcome._tag && h.to === to && h.from === from)) return outcome
    yield* Effect.uninterruptible(Effect.gen(function*() {
      yield* writeAlert(app, outcome._tag, {
        current: from,
        latest: to,
        needed: bytes(space.needed),
        free: bytes(space.free)
      })
      const now = yield* Clock.currentTimeMillis
      yield* state.setHold(
        app.name,
        Option.some(new HoldRecord({ reason: outcome._tag, from, to, ts: timestamp(now) }))
      ).pipe(within(app, "hold write", SHORT_STEP), Effect.retry(RETRY))
    }))
    return outcome
  })

const heldOutcome = (plan: HoldPlan): HeldOutcome =>
  Match.value(plan.reason).pipe(
    Match.when("major", () => Outcome[held("major")]({ from: plan.from, to: plan.to })),
    Match.when("manual-migration", () =>
      Outcome[held("manual-migration")]({
        from: plan.from,
        to: plan.to,
        versions: plan.warnings.map((w) => w.version)
      })),
    Match.when("policy", () => Outcome[held("policy")]({ from: plan.from, to: plan.to, policy: plan.policy })),
    Match.when("unknown-version", () => Outcome[held("unknown-version")]({ from: plan.from, to: plan.to })),
    Match.when("failed-release", () => Outcome[held("failed-release")]({ from: plan.from, to: plan.to })),
    Match.when("chaos", () => Outcome[held("chaos")]({ chaosVersion: plan.from })),
    Match.exhaustive
  )

/** A hold: write the alert once per (reason, target), then stay put. */
export const hold = (app: AppSpec, plan: HoldPlan) =>
  Effect.gen(function*() {
    const state = yield* State
    const outcome = heldOutcome(plan)
    const previous = yield* state.hold(app.name).pipe(within(app, "hold read", SHORT_STEP))
    const already = Option.exists(
      previous,
      (h) => h.reason === outcome._tag && h.to === plan.to && h.from === plan.from
    )
    if (already) {
      yield* Effect.logInfo(`${outcome._tag} ${plan.from} -> ${plan.to}: already alerted, still holding`)
    } else {
      yield* alertHold(app, plan, outcome)
    }
    // A chaos deploy is a person's work in progress: not probed, never redeployed.
    if (plan.reason === "chaos") return outcome
    // Held does not mean unwatched: the version that stays must still answer, as on latest.
    if (plan.reason === "unknown-version" || (yield* settled(app, plan.from))) return outcome
    yield* Effect.logWarning(`held on ${plan.from}, which is unhealthy: redeploy it`)
    const passed = yield* deployAndWait(app, plan.from).pipe(Effect.either)
    if (passed._tag === "Right") return outcome
    yield* writeAlert(app, "unhealthy-after-deploy", {
      version: plan.from,
      held: outcome._tag,
      error: passed.left.message
    })
    return Outcome.unhealthy({ version: plan.from })
  })

const alertHold = (app: AppSpec, plan: HoldPlan, outcome: HeldOutcome) =>
  Effect.gen(function*() {
    const state = yield* State
    const notes = plan.reason === "manual-migration" ? plan.warnings : plan.notes
    // The alert, then the record that it was written, as one step a SIGTERM does not split: an
    // alert without its record would be written again the next night. (If the alert cannot be
    // written, no record is kept and the next night tries again: late beats lost.)
    yield* Effect.uninterruptible(Effect.gen(function*() {
      yield* writeAlert(app, outcome._tag, {
        current: plan.from,
        latest: plan.to,
        ...(plan.reason === "chaos"
          ? {
            chaos_version: plan.from,
            resume: `a chaos deploy (abra app deploy -C) of ${plan.from} runs: nothing is touched until a release ` +
              `is deployed again; to resume, deploy one with abra (abra app deploy ${app.domain} <version>)`
          }
          : {}),
        ...(plan.reason === "policy" ? { policy: plan.policy } : {}),
        ...(plan.reason === "manual-migration"
          ? { versions: plan.warnings.map((w) => w.version), markers: plan.warnings.map((w) => w.marker) }
          : {}),
        release_notes: notesText(notes)
      })
      const now = yield* Clock.currentTimeMillis
      yield* state.setHold(
        app.name,
        Option.some(new HoldRecord({ reason: outcome._tag, from: plan.from, to: plan.to, ts: timestamp(now) }))
      ).pipe(within(app, "hold write", SHORT_STEP), Effect.retry(RETRY))
      yield* report(outcome)
    }))
  })
