/**
 * Time bounds on Effect's TestClock for code that waits on Effect's Clock while doing real I/O
 * (files, sockets): the virtual clock moves only when a test adjusts it, so "gives up at the
 * timeout" is checked as "still waiting just before, done at", and "at once" as "done without
 * waiting on the clock", whatever the load of the machine. Wall-clock bounds flake under load.
 */
import { Chunk, Effect, Fiber, Option, TestClock } from "effect"

/** A pause in real time, which the TestClock does not see: real I/O goes on meanwhile. */
export const realPause = (millis: number) => Effect.promise(() => new Promise<void>((r) => setTimeout(r, millis)))

/**
 * Wait (in real time, up to about 20 s) until `fiber` has ended or waits on the clock (a sleep or
 * a timeout is pending on the TestClock).
 */
export const settles = <A, E>(fiber: Fiber.Fiber<A, E>) =>
  Effect.gen(function*() {
    for (let i = 0; i < 2_000; i++) {
      if (Option.isSome(yield* Fiber.poll(fiber))) return "ended" as const
      if (Chunk.isNonEmpty(yield* TestClock.sleeps())) return "waiting" as const
      yield* realPause(10)
    }
    return yield* Effect.dieMessage("the fiber neither ended nor waited on the clock within 20 s")
  })

/** Has `fiber` ended? After a clock adjustment, real I/O may still need a moment: give it one. */
export const endsSoon = <A, E>(fiber: Fiber.Fiber<A, E>) =>
  Effect.gen(function*() {
    for (let i = 0; i < 500; i++) {
      if (Option.isSome(yield* Fiber.poll(fiber))) return true
      yield* realPause(10)
    }
    return false
  })

/**
 * How `fiber` meets a deadline of `millis` on the TestClock: it waits on the clock, is still running
 * 1 ms before (given real time to answer if it could), and has ended soon after the deadline.
 */
export const timeline = <A, E>(fiber: Fiber.Fiber<A, E>, millis: number) =>
  Effect.gen(function*() {
    const first = yield* settles(fiber)
    yield* TestClock.adjust(millis - 1)
    yield* realPause(100)
    const runningBefore = Option.isNone(yield* Fiber.poll(fiber))
    yield* TestClock.adjust(1)
    return { first, runningBefore, endedAt: yield* endsSoon(fiber) }
  })

/** What {@link timeline} gives for a fiber that gives up exactly at its deadline. */
export const GIVES_UP_AT_DEADLINE = { first: "waiting", runningBefore: true, endedAt: true } as const
