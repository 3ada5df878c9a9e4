/** The side effects a fault sweep hits, shared by the fault sweeps (Faults, DeliverySweep). */
import type * as World from "../../src/simulation/World.js"

/** One side effect of an undisturbed run: its step, which occurrence of that step, and when. */
export interface Target {
  readonly step: World.Step
  readonly occurrence: number
  readonly at: number
  readonly detail: string
}

/**
 * Every occurrence of every step, except that a long health wait is hit at its first, second and
 * last probe (the probes between are alike).
 */
export const targets = (trace: ReadonlyArray<World.TraceEntry>): Array<Target> => {
  const seen = new Map<World.Step, number>()
  const all = trace.map((t) => {
    const occurrence = seen.get(t.step) ?? 0
    seen.set(t.step, occurrence + 1)
    return { step: t.step, occurrence, at: t.at, detail: t.detail }
  })
  return all.filter((t) => t.step !== "health" || t.occurrence < 2 || t.occurrence === seen.get("health")! - 1)
}
