/** "Did you mean": the candidate closest to a mistyped name, if one is close enough. Pure. */
import { Option } from "effect"

/** Edits (insert, delete, replace one character, or swap two neighbours) from `a` to `b`. */
export const distance = (a: string, b: string): number => {
  const rows: Array<Array<number>> = Array.from({ length: a.length + 1 }, (_, i) => [i])
  for (let j = 1; j <= b.length; j++) rows[0]![j] = j
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let d = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1)
      rows[i]![j] = d
    }
  }
  return rows[a.length]![b.length]!
}

/**
 * The candidate nearest to `name`, when it is a plausible typo of it: at most a third of the
 * name's characters apart (at least 2), so that an unrelated name is never suggested.
 */
export const closest = (name: string, candidates: Iterable<string>): Option.Option<string> => {
  const limit = Math.max(2, Math.floor(name.length / 3))
  let best: { readonly candidate: string; readonly d: number } | undefined
  for (const candidate of candidates) {
    const d = distance(name.toLowerCase(), candidate.toLowerCase())
    if (d <= limit && (best === undefined || d < best.d)) best = { candidate, d }
  }
  return Option.fromNullable(best?.candidate)
}
