/**
 * Why an upgrade is held: one spelling, `major`, `policy`, ... The outcome, the alert reason and
 * the hold record on disk spell it `held-<reason>` (as the Python original's alerts did); that
 * spelling is derived here, never written out by hand. Pure.
 */
import { Schema } from "effect"

/**
 * In the order of the safety gate's precedence (also the order of the alert schema's enum), then
 * `chaos`: a person's chaos deploy (`abra app deploy -C`) runs, alerted once per chaos version;
 * then `no-space`, found by the upgrade itself before its first destructive step: the snapshot
 * would not fit (alerted once per target, tried again every run).
 */
export const HOLD_REASONS = [
  "major",
  "manual-migration",
  "policy",
  "unknown-version",
  "failed-release",
  "chaos",
  "no-space"
] as const
export const HoldReason = Schema.Literal(...HOLD_REASONS)
export type HoldReason = typeof HoldReason.Type
/** What the safety gate holds for: every reason but `no-space`, which the upgrade itself finds. */
export type PlanHoldReason = Exclude<HoldReason, "no-space">

/**
 * Left as a person left it, with no alert and no hold record: `undeployed` (an app taken down on
 * purpose, not brought back unless its config says `keepDeployed`).
 */
export const LEFT_ALONE_REASONS = ["undeployed"] as const
export type LeftAloneReason = typeof LEFT_ALONE_REASONS[number]

/** The outcome tag, alert reason and hold record reason of a hold: `held-major`, ... */
export type Held<R extends HoldReason | LeftAloneReason = HoldReason> = `held-${R}`

export const held = <R extends HoldReason | LeftAloneReason>(reason: R): Held<R> => `held-${reason}`

type HeldAll<T extends ReadonlyArray<HoldReason>> = { readonly [K in keyof T]: `held-${T[K] & string}` }
const HELD = HOLD_REASONS.map(held) as unknown as HeldAll<typeof HOLD_REASONS>

/** `held-major`, ...: the reason as the outcome, the alert and `hold.json` spell it. */
export const HeldReason = Schema.Literal(...HELD)
