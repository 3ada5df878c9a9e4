/**
 * Property-based, first half: random worlds (tag sets, notes, health timelines, migrations, app
 * states, injected faults, SIGTERM), the real program on virtual time, the invariants after every
 * run. The second half (another seed) is Properties2.test.ts, so that vitest runs both at once.
 */
import { describe } from "@effect/vitest"
import { propertySuites } from "./PropertySuite.js"

describe("random worlds, first half", () => {
  propertySuites(20261125, "test/reconcile/Properties.test.ts")
})
