/**
 * `unhold <app>`: forget the app's hold (`hold.json`), so that the next run decides afresh: a
 * release held as failed is tried again, a gate's hold is alerted again if it still applies.
 */
import { Command } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import { State } from "../services/State.js"
import * as ConfigFile from "./ConfigFile.js"
import * as Shared from "./Options.js"
import { withLive } from "./Output.js"

/** The line plan and status print next to a hold: how to clear it. */
export const unholdHint = (app: string): string => `warm-reconcile unhold ${app} clears it`

export const unholdCommand = Command.make(
  "unhold",
  { app: Shared.oneApp, config: Shared.config },
  (args) =>
    Effect.gen(function*() {
      const loaded = yield* ConfigFile.load(args.config)
      const app = yield* ConfigFile.findApp(loaded, args.app)
      const previous = yield* withLive(
        loaded,
        Effect.gen(function*() {
          const state = yield* State
          const previous = yield* state.hold(app.name)
          if (Option.isSome(previous)) yield* state.setHold(app.name, Option.none())
          return previous
        })
      )
      yield* Console.log(Option.match(previous, {
        onNone: () => `${app.name}: no hold`,
        onSome: (h) => `${app.name}: cleared the hold ${h.reason} ${h.from} -> ${h.to}; the next run decides afresh`
      }))
    })
).pipe(
  Command.withDescription(
    "Clear an app's hold (hold.json): a release held as failed is tried again by the next run."
  )
)
