/** Per-app upgrade policy. Pure: no services. */
import { Schema } from "effect"
import type { Bump } from "./Version.js"

/**
 * - `minor` (default): patch and minor upgrades applied, majors held.
 * - `patch`: only patch upgrades applied; minor held too.
 * - `none`: every upgrade held (one alert per new version).
 */
export const UpgradePolicy = Schema.Literal("minor", "patch", "none")
export type UpgradePolicy = typeof UpgradePolicy.Type

export const allows = (policy: UpgradePolicy, bump: Bump): boolean => {
  switch (policy) {
    case "minor":
      return bump === "patch" || bump === "minor"
    case "patch":
      return bump === "patch"
    case "none":
      return false
  }
}
