/** An in-memory per-app lock: rehearsals of overlapping runs in one process. */
import { Clock, Duration, Effect, Layer, Ref } from "effect"
import { Lock, LockBusy } from "../services/Lock.js"

export const layerTest: Layer.Layer<Lock> = Layer.effect(
  Lock,
  Effect.gen(function*() {
    const held = yield* Ref.make(new Set<string>())
    return Lock.of({
      acquire: (app, wait) =>
        Effect.gen(function*() {
          const deadline = (yield* Clock.currentTimeMillis) + Duration.toMillis(wait)
          for (;;) {
            const taken = yield* Ref.modify(held, (s) => s.has(app) ? [false, s] : [true, new Set([...s, app])])
            if (taken) break
            if ((yield* Clock.currentTimeMillis) >= deadline) {
              return yield* new LockBusy({ app, holder: "another run", message: `another run is working on ${app}` })
            }
            yield* Effect.sleep("1 second")
          }
          yield* Effect.addFinalizer(() => Ref.update(held, (s) => new Set([...s].filter((a) => a !== app))))
        })
    })
  })
)
