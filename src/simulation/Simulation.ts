/**
 * Rehearse on the simulated world: every service's in-memory layer over one world, and a runner
 * that drives virtual time so a 15-minute health deadline passes in milliseconds.
 */
import { Chunk, Clock, Effect, Fiber, Layer, Option, TestClock, TestContext } from "effect"
import * as Alerts from "./Alerts.js"
import * as Apps from "./Apps.js"
import * as Docker from "./Docker.js"
import * as Health from "./Health.js"
import * as Recipes from "./Recipes.js"
import * as Snapshots from "./Snapshots.js"
import * as State from "./State.js"
import * as World from "./World.js"

/** Every service in memory, over a world the caller already holds (to inspect it afterwards). */
export const layerFor = (world: World.WorldApi) =>
  Layer.mergeAll(
    Apps.layerTest,
    Alerts.layerTest,
    Docker.layerTest,
    Health.layerTest,
    Recipes.layerTest,
    Snapshots.layerTest,
    State.layerTest
  ).pipe(Layer.provideMerge(Layer.succeed(World.SimulatedWorld, world)))

/** Every service in memory over a new world built from `setup` (provided too, for inspection). */
export const layer = (setup: World.WorldSetup) => Layer.unwrapEffect(Effect.map(World.make(setup), layerFor))

/**
 * Run an effect on virtual time: the TestClock starts at `startMillis` and jumps straight to the
 * next pending sleep whenever every fiber is waiting on the clock. Outside a test (the CLI's
 * `simulate`) this is what makes a rehearsal instant. Answers the effect's Exit. `interruptAt`, if given, interrupts the
 * effect at that virtual moment, as a SIGTERM would.
 */
export const runVirtual = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  options: { readonly startMillis?: number; readonly interruptAfterMillis?: number } = {}
) =>
  Effect.gen(function*() {
    const start = options.startMillis ?? 0
    yield* TestClock.setTime(start)
    const fiber = yield* Effect.fork(effect)
    let interrupter: Fiber.RuntimeFiber<unknown> | undefined
    if (options.interruptAfterMillis !== undefined) {
      interrupter = yield* Effect.fork(
        Effect.sleep(options.interruptAfterMillis).pipe(Effect.zipRight(Fiber.interrupt(fiber)))
      )
    }
    let idle = 0
    for (;;) {
      // Let every runnable fiber run before looking at the clock.
      for (let i = 0; i < 8; i++) yield* Effect.yieldNow()
      if (Option.isSome(yield* Fiber.poll(fiber))) break
      const sleeps = yield* TestClock.sleeps()
      const now = yield* Clock.currentTimeMillis
      if (Chunk.isEmpty(sleeps)) {
        // Nothing waits on the clock but the fiber is not done: it is busy, or stuck for good.
        if (++idle > 10_000) return yield* Effect.dieMessage("virtual time: the program is blocked without a timer")
        continue
      }
      idle = 0
      yield* TestClock.setTime(Math.max(now, Math.min(...Chunk.toReadonlyArray(sleeps))))
    }
    if (interrupter) yield* Fiber.interrupt(interrupter)
    return yield* Fiber.await(fiber)
  }).pipe(Effect.provide(TestContext.TestContext))
