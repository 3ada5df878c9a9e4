/**
 * Property-based, second half: random worlds (tag sets, notes, health timelines, migrations, app
 * states, injected faults, SIGTERM), the real program on virtual time, the invariants after every
 * run. The first half is Properties.test.ts, so that vitest runs both at once.
 */
import { describe } from "@effect/vitest"
import { propertySuites } from "./PropertySuite.js"

describe("random worlds, second half", () => {
  propertySuites(20261126, "test/reconcile/Properties2.test.ts")
})
