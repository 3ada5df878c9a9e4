/**
 * Soak time: a release becomes an upgrade candidate only once its tag is `minReleaseAge` old, so
 * that a broken release is usually retagged before it reaches anyone. Pure: the tag dates and the
 * time are arguments.
 */
import { Duration } from "effect"

export interface Soaking {
  readonly tag: string
  /** How long until it has aged, in milliseconds (> 0). */
  readonly remainingMillis: number
}

/**
 * The tags still soaking at `now`, each with the time left. A tag without a date is not held back
 * (git dates every tag; a missing one is not a reason to stop upgrades).
 */
export const soaking = (
  tags: ReadonlyArray<string>,
  dates: ReadonlyMap<string, number>,
  minAge: Duration.Duration,
  now: number
): ReadonlyArray<Soaking> =>
  tags.flatMap((tag) => {
    const made = dates.get(tag)
    const remainingMillis = made === undefined ? 0 : made + Duration.toMillis(minAge) - now
    return remainingMillis > 0 ? [{ tag, remainingMillis }] : []
  })

const HOUR = 3_600_000
const DAY = 24 * HOUR

/** `1.2.0+1.2 soaks for 2 more days`: the time left, rounded up to whole days (or hours, under a day). */
export const describeSoaking = ({ remainingMillis, tag }: Soaking): string => {
  const [n, unit] = remainingMillis >= DAY
    ? [Math.ceil(remainingMillis / DAY), "day"]
    : [Math.ceil(remainingMillis / HOUR), "hour"]
  return `${tag} soaks for ${n} more ${unit}${n === 1 ? "" : "s"}`
}
