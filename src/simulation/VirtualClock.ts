/**
 * A virtual Clock for rehearsals: time stands still while any fiber can run, and jumps to the next
 * pending sleep once every fiber waits on the clock. Effect's TestClock does the same but checks
 * that all fibers are suspended through several timer rounds on every wake-up; a rehearsal whose
 * health gate waits 15 minutes in 500 ms steps wakes thousands of times, and property tests run
 * thousands of rehearsals, so this clock keeps wake-ups to a few microtasks.
 *
 * The program cannot tell the difference: it only ever reads time and sleeps through `Clock`.
 */
import { Clock, Duration, Effect, Fiber, FiberRef, Option, type Scheduler } from "effect"

interface Sleeper {
  readonly end: number
  readonly seq: number
  readonly wake: () => void
}

export class VirtualClock implements Clock.Clock {
  readonly [Clock.ClockTypeId]: Clock.ClockTypeId = Clock.ClockTypeId
  private now: number
  private seq = 0
  // Sorted by (end, seq): few sleepers are pending at once, so a sorted array beats a heap.
  private sleepers: Array<Sleeper> = []

  constructor(startMillis = 0) {
    this.now = startMillis
  }

  unsafeCurrentTimeMillis(): number {
    return this.now
  }
  unsafeCurrentTimeNanos(): bigint {
    return BigInt(Math.round(this.now * 1_000_000))
  }
  readonly currentTimeMillis = Effect.sync(() => this.now)
  readonly currentTimeNanos = Effect.sync(() => this.unsafeCurrentTimeNanos())

  sleep(duration: Duration.Duration): Effect.Effect<void> {
    return Effect.suspend(() => {
      const millis = Duration.toMillis(duration)
      if (!(millis > 0)) return Effect.void
      const end = this.now + millis
      return Effect.async<void>((resume) => {
        const sleeper: Sleeper = { end, seq: this.seq++, wake: () => resume(Effect.void) }
        let i = this.sleepers.length
        while (i > 0 && this.sleepers[i - 1]!.end > end) i--
        this.sleepers.splice(i, 0, sleeper)
        // An interrupted sleep (a timeout's loser) must not hold the clock back.
        return Effect.sync(() => {
          const at = this.sleepers.indexOf(sleeper)
          if (at >= 0) this.sleepers.splice(at, 1)
        })
      })
    })
  }

  get pending(): number {
    return this.sleepers.length
  }

  /** Jump to the earliest pending sleep and wake every sleeper due then. False when none is pending. */
  advance(): boolean {
    const next = this.sleepers[0]
    if (next === undefined) return false
    this.now = Math.max(this.now, next.end)
    const due: Array<Sleeper> = []
    while (this.sleepers.length > 0 && this.sleepers[0]!.end <= this.now) due.push(this.sleepers.shift()!)
    for (const s of due) s.wake()
    return true
  }
}

/**
 * A scheduler that only queues: the driver runs the queue to empty, synchronously. An empty queue
 * means every fiber of the rehearsal waits (on the clock, or on nothing at all), which is exactly
 * when virtual time may move. No timers, no guessing how many turns are enough.
 */
class QueueScheduler implements Scheduler.Scheduler {
  private queue: Array<Scheduler.Task> = []
  scheduleTask(task: Scheduler.Task) {
    this.queue.push(task)
  }
  shouldYield(fiber: Fiber.RuntimeFiber<unknown, unknown>): number | false {
    return fiber.currentOpCount > fiber.getFiberRef(FiberRef.currentMaxOpsBeforeYield)
      ? fiber.getFiberRef(FiberRef.currentSchedulingPriority)
      : false
  }
  /** Run queued tasks, and those they queue, until none is left. */
  drain(): number {
    let ran = 0
    while (this.queue.length > 0) {
      const batch = this.queue
      this.queue = []
      for (const task of batch) task()
      ran += batch.length
    }
    return ran
  }
}

/** Wall time between two turns of the host's event loop while a rehearsal runs. */
const TURN_EVERY_MS = 50

/**
 * One turn of the host's event loop (a macrotask), whatever clock the caller runs on. Effect's own
 * scheduler yields to microtasks, and to a timer only every 2,048 rounds: a sweep of rehearsals
 * driven from one fiber would otherwise starve timers and I/O for minutes (vitest's worker saw its
 * RPC time out while a deep sweep ran).
 */
const hostTurn: Effect.Effect<void> = Effect.async<void>((resume) => {
  const timer = setTimeout(() => resume(Effect.void), 0)
  return Effect.sync(() => clearTimeout(timer))
})

/**
 * Run `effect` on a new virtual clock starting at `startMillis` until it ends; answer its Exit.
 * `interruptAfterMillis` interrupts it at that virtual moment, as a SIGTERM would.
 */
export const runOnVirtualClock = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  options: { readonly startMillis?: number; readonly interruptAfterMillis?: number } = {}
) =>
  Effect.gen(function*() {
    const clock = new VirtualClock(options.startMillis ?? 0)
    const scheduler = new QueueScheduler()
    const virtual = <X, Y, Z>(e: Effect.Effect<X, Y, Z>) =>
      e.pipe(Effect.withClock(clock), Effect.withScheduler(scheduler))
    const fiber = yield* Effect.fork(virtual(effect))
    // A daemon, stopped below: a child would be interrupted on a queue nobody drains any more, and
    // its parent would wait for that forever when the program ends before the interruption is due.
    const interrupter = options.interruptAfterMillis === undefined ? undefined : yield* Effect.forkDaemon(
      virtual(Effect.sleep(options.interruptAfterMillis).pipe(Effect.zipRight(Fiber.interruptFork(fiber))))
    )
    let stalled = 0
    let turnAt = performance.now() + TURN_EVERY_MS
    for (;;) {
      if (performance.now() >= turnAt) {
        yield* hostTurn
        turnAt = performance.now() + TURN_EVERY_MS
      }
      const ran = scheduler.drain()
      if (Option.isSome(yield* Fiber.poll(fiber))) break
      if (ran === 0 && !clock.advance()) {
        // Nothing runs and nothing sleeps: give other schedulers a turn before calling it stuck.
        if (++stalled > 1000) {
          return yield* Effect.dieMessage("virtual clock: the program waits on something other than time")
        }
        yield* Effect.yieldNow()
      } else {
        stalled = 0
      }
    }
    if (interrupter !== undefined) {
      yield* Fiber.interruptFork(interrupter)
      scheduler.drain()
    }
    return yield* Fiber.await(fiber)
  })
