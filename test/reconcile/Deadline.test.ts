/**
 * The step deadline on Effect's TestClock: it holds where Effect's own interruption cannot reach a
 * plain timeout (an uninterruptible region, a finalizer), and lets a step that finishes in time be.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Option, TestClock } from "effect"
import { withDeadline } from "../../src/reconcile/Deadline.js"

const late = () => ({ _tag: "Late" as const, message: "too late" })

describe("withDeadline", () => {
  it.effect("a step that hangs inside an uninterruptible region fails at the deadline", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.never.pipe(withDeadline("10 seconds", late), Effect.uninterruptible, Effect.fork)
      yield* TestClock.adjust("9 seconds")
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.await(fiber)).toEqual(Exit.fail(late()))
    }))

  it.effect("a step that hangs in a finalizer fails at the deadline, and the finalizer goes on", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const fiber = yield* Effect.void.pipe(
        Effect.ensuring(
          Effect.never.pipe(
            withDeadline("1 minute", late),
            Effect.catchAll((e) => Effect.sync(() => seen.push(e.message)))
          )
        ),
        Effect.fork
      )
      yield* TestClock.adjust("1 minute")
      expect(Exit.isSuccess(yield* Fiber.await(fiber))).toBe(true)
      expect(seen).toEqual(["too late"])
    }))

  it.effect("a step that ends in time keeps its result and its own failure", () =>
    Effect.gen(function*() {
      const ok = yield* Effect.sleep("5 seconds").pipe(Effect.as(42), withDeadline("10 seconds", late), Effect.fork)
      const failed = yield* Effect.fail("own").pipe(withDeadline("10 seconds", late), Effect.exit)
      yield* TestClock.adjust("5 seconds")
      expect(yield* Fiber.join(ok)).toBe(42)
      expect(failed).toEqual(Exit.fail("own"))
    }))

  it.effect("an interrupt of the caller in an uninterruptible region does not cut the step (a rollback runs to its end)", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const step = Effect.sleep("30 seconds").pipe(
        Effect.zipRight(Effect.sync(() => seen.push("step done"))),
        Effect.onInterrupt(() => Effect.sync(() => seen.push("step cut")))
      )
      const fiber = yield* step.pipe(withDeadline("1 minute", late), Effect.uninterruptible, Effect.fork)
      yield* TestClock.adjust("10 seconds")
      const interrupting = yield* Effect.fork(Fiber.interrupt(fiber))
      yield* TestClock.adjust("20 seconds")
      yield* Fiber.join(interrupting)
      expect(seen).toEqual(["step done"])
    }))
})
