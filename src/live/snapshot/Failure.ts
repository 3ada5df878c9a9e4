/** The failure inside one snapshot operation; the service boundary turns it into a SnapshotError. */
import { Data, Effect } from "effect"
import { randomBytes } from "node:crypto"

export class Failure extends Data.TaggedError("Failure")<{ readonly message: string }> {}

export const describe = (e: unknown): string => e instanceof Error ? e.message : String(e)

/** Wrap any failure as a {@link Failure} that says what was being done. */
export const io = (what: string) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, Failure, R> =>
  Effect.mapError(effect, (e) => new Failure({ message: `${what}: ${describe(e)}` }))

/** A random suffix for the names of staging and retired dirs. */
export const suffix = (): string => randomBytes(6).toString("hex")
