/** What Swarm shows of one converged service (running its one replica on the current spec); tests override fields. */
import { Option } from "effect"
import type { ServiceFacts } from "../../src/services/Docker.js"

export const serviceFacts = (
  fullName: string,
  version: string,
  fields: Partial<ServiceFacts> = {}
): ServiceFacts => ({
  name: fullName,
  version: Option.some(version),
  update: "completed",
  updateStartedAt: Option.none(),
  updateMessage: "",
  desired: 1,
  running: 1,
  current: 1,
  health: [],
  lastTaskMessage: "",
  ...fields
})
