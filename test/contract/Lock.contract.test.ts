/**
 * Lock, live (a lock file per app in a temp state dir) and in memory: held for the scope, free
 * again after it, busy for another run until its wait is over, taken once the holder lets go.
 */
import { expect } from "@effect/vitest"
import { Context, Effect, Exit, Fiber, Option, Scope } from "effect"
import * as LiveLock from "../../src/live/Lock.js"
import { Lock } from "../../src/services/Lock.js"
import * as SimulatedLock from "../../src/simulation/Lock.js"
import * as Contract from "./harness.js"

interface LockWorld {
  readonly lock: Lock["Type"]
}

const liveTwin = Contract.live<LockWorld>(Effect.gen(function*() {
  const stateDir = yield* Contract.scratchDir("contract-lock-")
  // A short poll: the waiting cases take real time here.
  const context = yield* Contract.layerContext(LiveLock.layer({ stateDir, poll: "20 millis" }))
  return { lock: Context.get(context, Lock) } satisfies LockWorld
}))

const simulatedTwin = Contract.simulated<LockWorld>(
  Effect.map(Contract.layerContext(SimulatedLock.layerTest), (context) => ({ lock: Context.get(context, Lock) }))
)

/** Take the app's lock in a scope of its own; answers the scope, to let go by closing it. */
const hold = (lock: Lock["Type"], app: string) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    yield* Scope.extend(lock.acquire(app, 0), scope)
    return scope
  })

Contract.suite("Lock", [liveTwin, simulatedTwin], (test) => {
  test("the lock is free again once its holder's scope closes", (w) =>
    Effect.gen(function*() {
      const first = yield* hold(w.lock, "keycloak")
      yield* Scope.close(first, Exit.void)
      const second = yield* hold(w.lock, "keycloak")
      yield* Scope.close(second, Exit.void)
    }))

  test("a second run finds it busy (LockBusy) once its wait is over", (w) =>
    Effect.gen(function*() {
      const first = yield* hold(w.lock, "keycloak")
      for (const wait of [0, 200]) {
        const error = yield* Contract.failureOf(Effect.scoped(w.lock.acquire("keycloak", wait)))
        expect(error).toMatchObject({ _tag: "LockBusy", app: "keycloak" })
        expect(error.message).toContain("keycloak")
      }
      yield* Scope.close(first, Exit.void)
    }))

  test("a waiting run takes the lock as soon as the holder lets go", (w) =>
    Effect.gen(function*() {
      const first = yield* hold(w.lock, "keycloak")
      const waiting = yield* Effect.fork(Effect.scoped(w.lock.acquire("keycloak", "10 seconds")))
      yield* Effect.sleep("100 millis")
      expect(yield* Fiber.poll(waiting)).toEqual(Option.none())
      yield* Scope.close(first, Exit.void)
      expect(yield* Fiber.join(waiting)).toBeUndefined()
    }))

  test("locks of two apps do not block each other", (w) =>
    Effect.gen(function*() {
      const keycloak = yield* hold(w.lock, "keycloak")
      const wiki = yield* hold(w.lock, "wiki")
      yield* Scope.close(keycloak, Exit.void)
      yield* Scope.close(wiki, Exit.void)
    }))
})
