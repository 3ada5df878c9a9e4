/**
 * Property-based, first half: random worlds (test/reconcile/RandomWorlds.ts), the real program on
 * virtual time, the invariants and the alert ledger after every case. `npm test` runs a few hundred
 * from a fresh seed; `npm run test:deep` 5,000 from the fixed seed below and 2,500 from a fresh one
 * (PropertySuite.ts). The second half is Properties2.test.ts, so that vitest runs both at once.
 */
import { describe } from "@effect/vitest"
import { propertySuites } from "./PropertySuite.js"

describe("random worlds, first half", () => {
  propertySuites(20261125, "test/reconcile/Properties.test.ts")
})
