/**
 * `notify`: deliver the outbox (every alert not yet acknowledged) to the configured channels, on
 * its own: what a timer every 15 minutes and the unit's failure hook run. `notify test` sends a
 * test message to each channel and prints each one's result: what an operator runs right after
 * configuring a channel.
 */
import { Command } from "@effect/cli"
import { NodeHttpClient } from "@effect/platform-node"
import { Clock, Console, Effect, Layer, Schedule } from "effect"
import * as Os from "node:os"
import * as Message from "../domain/Message.js"
import { channelName } from "../domain/Notify.js"
import * as LiveNotifier from "../live/Notifier.js"
import { deliverOutbox, type DeliveryReport } from "../reconcile/Deliver.js"
import { Notifier } from "../services/Notifier.js"
import * as ConfigFile from "./ConfigFile.js"
import * as Shared from "./Options.js"
import { setExitCode, withLive } from "./Output.js"

/** The live Notifier of a config: its channels, the outbox in its state directory, real HTTP. */
export const notifierLayer = (loaded: ConfigFile.LoadedConfig) =>
  LiveNotifier.layer({ stateDir: loaded.config.stateDir, channels: loaded.config.notify }).pipe(
    Layer.provide(NodeHttpClient.layerUndici)
  )

/** What a message says about the server it comes from. */
export const messageContext = (loaded: ConfigFile.LoadedConfig): Message.Context => ({
  host: Os.hostname(),
  stateDir: loaded.config.stateDir
})

const summary = (report: DeliveryReport): string =>
  report.outboxError !== undefined
    ? `could not read the outbox: ${report.outboxError}`
    : `${report.delivered.length} delivered, ${report.failed.length} failed (left for the next run)`

const deliverCommand = Command.make(
  "notify",
  { config: Shared.config, logFormat: Shared.logFormat },
  (args) =>
    Effect.gen(function*() {
      const loaded = yield* ConfigFile.load(args.config)
      if (loaded.config.notify.length === 0) {
        return yield* Console.log("no channels configured (the config's `notify` list is empty)")
      }
      const work = deliverOutbox(messageContext(loaded)).pipe(
        Effect.tap((report) => Console.log(summary(report))),
        Effect.flatMap((report) => setExitCode(report.failed.length === 0 && report.outboxError === undefined ? 0 : 1)),
        Effect.provide(notifierLayer(loaded))
      )
      yield* withLive(loaded, work, args.logFormat)
    })
).pipe(
  Command.withDescription(
    "Deliver the alerts not yet delivered to the configured channels; `notify test` tests each channel."
  )
)

const testCommand = Command.make(
  "test",
  { config: Shared.config },
  (args) =>
    Effect.gen(function*() {
      const parent = yield* deliverCommand
      const loaded = yield* ConfigFile.load(args.config._tag === "Some" ? args.config : parent.config)
      if (loaded.config.notify.length === 0) {
        yield* Console.log("no channels configured (the config's `notify` list is empty)")
        return yield* setExitCode(1)
      }
      const work = Effect.gen(function*() {
        const notifier = yield* Notifier
        const now = new Date(yield* Clock.currentTimeMillis).toISOString()
        const message = Message.test(messageContext(loaded), now)
        // One quick retry: a test should answer within seconds, not wait out a long backoff.
        const results = yield* Effect.forEach(notifier.channels, (entry) => {
          const name = channelName(entry)
          return notifier.send(name, message).pipe(
            Effect.retry(Schedule.spaced("1 second").pipe(Schedule.intersect(Schedule.recurs(1)))),
            Effect.timeout("60 seconds"),
            Effect.match({
              onFailure: (e) => ({ name, ok: false, text: `${name}: FAILED: ${e.message}` }),
              onSuccess: () => ({ name, ok: true, text: `${name}: ok` })
            })
          )
        }, { concurrency: "unbounded" })
        for (const r of results) yield* Console.log(r.text)
        yield* setExitCode(results.every((r) => r.ok) ? 0 : 1)
      }).pipe(Effect.provide(notifierLayer(loaded)))
      yield* withLive(loaded, work)
    })
).pipe(
  Command.withDescription("Send a test message to each channel and print each one's result (exit 1 if any failed).")
)

export const notifyCommand = deliverCommand.pipe(Command.withSubcommands([testCommand]))
