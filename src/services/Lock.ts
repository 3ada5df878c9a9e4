/**
 * Lock: one run per app at a time, so the boot run and the timer run never overlap. A lock left
 * by a dead process (its pid gone, or taken before the last boot) is taken over, never waited on.
 */
import type { Duration, Effect, Scope } from "effect"
import { Context, Schema } from "effect"

/** Another live run holds the app's lock and did not let go in time (exit 75, EX_TEMPFAIL). */
export class LockBusy extends Schema.TaggedError<LockBusy>()("LockBusy", {
  app: Schema.String,
  holder: Schema.String,
  message: Schema.String
}) {}

export class LockError extends Schema.TaggedError<LockError>()("LockError", {
  app: Schema.String,
  message: Schema.String
}) {}

export class Lock extends Context.Tag("warm-reconcile/Lock")<Lock, {
  /** Hold the app's lock for the rest of the scope, waiting up to `wait` for another run. */
  readonly acquire: (
    app: string,
    wait: Duration.DurationInput
  ) => Effect.Effect<void, LockBusy | LockError, Scope.Scope>
}>() {}
