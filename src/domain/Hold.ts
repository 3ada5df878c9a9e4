/**
 * Why an upgrade is held: one spelling, `major`, `policy`, ... The outcome, the alert reason and
 * the hold record on disk spell it `held-<reason>` (as the Python original's alerts did); that
 * spelling is derived here, never written out by hand. Pure.
 */
import { Schema } from "effect"

/** In the order of the safety gate's precedence (also the order of the alert schema's enum). */
export const HOLD_REASONS = ["major", "manual-migration", "policy", "unknown-version", "failed-release"] as const
export const HoldReason = Schema.Literal(...HOLD_REASONS)
export type HoldReason = typeof HoldReason.Type

/** The outcome tag, alert reason and hold record reason of a hold: `held-major`, ... */
export type Held<R extends HoldReason = HoldReason> = `held-${R}`

export const held = <R extends HoldReason>(reason: R): Held<R> => `held-${reason}`

type HeldAll<T extends ReadonlyArray<HoldReason>> = { readonly [K in keyof T]: `held-${T[K] & string}` }
const HELD = HOLD_REASONS.map(held) as unknown as HeldAll<typeof HOLD_REASONS>

/** `held-major`, ...: the reason as the outcome, the alert and `hold.json` spell it. */
export const HeldReason = Schema.Literal(...HELD)
