/**
 * Property-based, second half: random worlds (tag sets, notes, health timelines, migrations, app
 * states, injected faults, SIGTERM), the real program on virtual time, the invariants after every
 * run. The first half is Properties.test.ts, so that vitest runs both at once.
 */
import { describe } from "@effect/vitest"
import { propertySuite } from "./RandomWorlds.js"

describe("random worlds, second half", () => {
  propertySuite(20261126)
})
