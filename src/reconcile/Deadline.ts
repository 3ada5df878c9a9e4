/**
 * A deadline that holds everywhere. Effect's timeouts work by interrupting the effect, so inside an
 * uninterruptible region (the acquire of the upgrade, or the rollback: a finalizer, possibly of an
 * interrupted run) a plain `Effect.timeout` waits forever on a step that hangs. Here the step runs
 * in a fiber of its own, interruptible, which a timer interrupts at the deadline; the caller only
 * awaits it, and stops it too if the caller is itself interrupted where it may be.
 *
 * Hand-written on purpose: `Effect.interruptible(step).pipe(Effect.timeoutFail(...))` was tried and
 * fails the sweeps. It races the step in child fibers of the caller, and Effect hands an interrupt
 * of the caller on to its children at once, even while the caller itself is uninterruptible: a
 * SIGTERM arriving during a rollback step cut that step, and with it the rollback (the fault sweep
 * held 599 of 609 cases, the random worlds of seed 20261125 failed). The daemon fiber here is no
 * child: only the timer stops it, or the caller where the caller may be interrupted.
 */
import { Duration, Effect, Exit, Fiber, Ref } from "effect"

export const withDeadline =
  <E2>(limit: Duration.DurationInput, onTimeout: () => E2) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | E2, R> =>
    Effect.gen(function*() {
      const timedOut = yield* Ref.make(false)
      const work = yield* Effect.forkDaemon(Effect.interruptible(effect))
      const timer = yield* Effect.forkDaemon(
        Effect.interruptible(
          Effect.sleep(limit).pipe(Effect.zipRight(Ref.set(timedOut, true)), Effect.zipRight(Fiber.interrupt(work)))
        )
      )
      const exit = yield* Fiber.await(work).pipe(Effect.onInterrupt(() => Fiber.interrupt(work)))
      yield* Fiber.interrupt(timer)
      if (Exit.isSuccess(exit)) return exit.value
      if (Exit.isInterrupted(exit) && (yield* Ref.get(timedOut))) return yield* Effect.fail(onTimeout())
      return yield* exit
    })

export const formatLimit = (limit: Duration.DurationInput) => Duration.format(Duration.decode(limit))
