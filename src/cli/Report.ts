/** How a run is shown to a person: the trace of side effects, and the result line. Pure. */
import type { TraceEntry } from "../simulation/World.js"

const clock = (millis: number): string => {
  const total = Math.max(0, Math.round(millis))
  const m = Math.floor(total / 60_000)
  const s = Math.floor((total % 60_000) / 1000)
  const ms = total % 1000
  return `+${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")}.${String(ms).padStart(3, "0")}`
}

/** Steps that repeat while waiting; runs of them are folded into one line. */
const REPEATING = new Set(["health", "tasks"])

/**
 * One line per side effect, relative to `start`. Runs of health probes and task look-ups are
 * folded into one line that says how many there were, over what span, and what the last saw.
 */
export const formatTrace = (trace: ReadonlyArray<TraceEntry>, start: number): Array<string> => {
  const lines: Array<string> = []
  let i = 0
  while (i < trace.length) {
    const entry = trace[i]!
    let j = i + 1
    if (REPEATING.has(entry.step)) {
      while (j < trace.length && REPEATING.has(trace[j]!.step)) j++
    }
    const run = trace.slice(i, j)
    if (run.length === 1) {
      lines.push(`  ${clock(entry.at - start)}  ${entry.step.padEnd(16)} ${entry.detail}`)
    } else {
      const probes = run.filter((e) => e.step === "health")
      const last = probes[probes.length - 1] ?? entry
      const span = `${clock(entry.at - start)}..${clock(run[run.length - 1]!.at - start).slice(1)}`
      lines.push(
        `  ${clock(entry.at - start)}  ${"health".padEnd(16)} ${probes.length} probe(s) over ${span}, ` +
          `${run.length - probes.length} task look-up(s); last: ${last.detail}`
      )
    }
    i = j
  }
  return lines
}
