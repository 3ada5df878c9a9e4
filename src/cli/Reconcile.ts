/** `reconcile [app] [--all]`: converge apps to the latest safe version on the live layers. */
import { Args, Command, HelpDoc, Options, ValidationError } from "@effect/cli"
import { Console, Duration, Effect, Option } from "effect"
import type { AppSpec } from "../domain/Config.js"
import * as Outcome from "../domain/Outcome.js"
import * as LiveLock from "../live/Lock.js"
import * as Metrics from "../live/Metrics.js"
import { Redaction } from "../live/Redaction.js"
import { run } from "../reconcile/Reconcile.js"
import { Lock } from "../services/Lock.js"
import * as ConfigFile from "./ConfigFile.js"
import { type Ending, exitCode, worst } from "./ExitCode.js"
import * as Shared from "./Options.js"
import { printOutcome, setExitCode, withLive } from "./Output.js"

const lockWait = Options.text("lock-wait").pipe(
  Options.withDescription(
    "how long to wait for another run of the same app (default \"10 minutes\"); then exit 75"
  ),
  Options.withDefault("10 minutes"),
  Options.mapEffect((text) =>
    Option.match(Duration.decodeUnknown(text), {
      onNone: () =>
        Effect.fail(
          ValidationError.invalidValue(
            HelpDoc.p(`--lock-wait: expected a duration such as "10 minutes", got ${text}`)
          )
        ),
      onSome: (d) => Effect.succeed(d)
    })
  )
)

export const reconcileCommand = Command.make(
  "reconcile",
  {
    app: Shared.oneApp.pipe(Args.optional),
    all: Options.boolean("all").pipe(Options.withDescription("reconcile every configured app")),
    concurrency: Options.integer("concurrency").pipe(
      Options.withDescription("with --all: how many apps at once (default 1)"),
      Options.withDefault(1)
    ),
    lockWait,
    config: Shared.config,
    skipFetch: Shared.skipFetch,
    json: Shared.json("app"),
    logFormat: Shared.logFormat,
    metricsFile: Options.file("metrics-file").pipe(
      Options.withDescription(
        "write Prometheus metrics here at the end (atomically), e.g. for node_exporter's textfile collector"
      ),
      Options.optional
    )
  },
  (args) =>
    Effect.gen(function*() {
      const loaded = yield* ConfigFile.load(args.config)
      if (Option.isSome(args.app) === args.all) {
        return yield* new ConfigFile.UsageError({ message: "name one app, or pass --all (not both)" })
      }
      if (args.concurrency < 1) {
        return yield* new ConfigFile.UsageError({ message: "--concurrency must be 1 or more" })
      }
      const apps = Option.isSome(args.app)
        ? [yield* ConfigFile.findApp(loaded, args.app.value)]
        : ConfigFile.allApps(loaded)
      yield* ConfigFile.requireAbraDir(loaded)
      const fleet = apps.length > 1 || args.all
      const options = { skipFetch: Shared.skipFetchOrEnv(args.skipFetch) }
      const recorder = new Metrics.Recorder()
      // Written also after an interrupt: the history has the interrupted runs by then.
      const writeMetrics = Option.match(args.metricsFile, {
        onNone: () => Effect.void,
        onSome: (path) =>
          Metrics.write(path, {
            stateDir: loaded.config.stateDir,
            apps: ConfigFile.allApps(loaded).map((a) => a.name),
            recorder
          }).pipe(Effect.catchAll((e) => Effect.logError(e.message)), Effect.annotateLogs({ phase: "metrics" }))
      })
      const work = Effect.gen(function*() {
        const redaction = yield* Redaction
        const finished = (app: AppSpec, interrupted: boolean) => (o: Outcome.Outcome) =>
          Effect.sync(() => recorder.outcome(app.name, o)).pipe(
            Effect.zipRight(printOutcome(app, o, { json: args.json, interrupted, fleet, redaction }))
          )
        // What each app's run ended with: its outcome, or the lock it could not take or a config that
        // does not fit (shown as `failed`).
        const lockFailed = (e: Extract<Ending, { _tag: "LockBusy" | "LockError" | "ConfigMismatch" }>) =>
          Console.error(`warm-reconcile: ${e.message}`).pipe(
            Effect.as({ outcome: Outcome.Outcome.failed({ reason: e.message }), ending: e as Ending })
          )
        // One app's failure never stops the others: `run` turns every failure into an outcome. The
        // per-app lock keeps the boot run and the timer run from working on the same app at once.
        const ended = yield* Effect.forEach(apps, (app) =>
          Effect.scoped(
            Effect.flatMap(Lock, (lock) => lock.acquire(app.name, args.lockWait)).pipe(
              Effect.zipRight(run(app, { ...options, onInterrupted: finished(app, true) })),
              Effect.tap(finished(app, false)),
              Effect.map((outcome) => ({ outcome, ending: outcome as Ending })),
              // A config that does not fit abra's files (exit 2) stops only that app, as a busy lock does.
              Effect.catchTags({ LockBusy: lockFailed, LockError: lockFailed, ConfigMismatch: lockFailed }),
              // Also the lines `run` logs outside the program's own annotation (a failure before any change).
              Effect.annotateLogs({ app: app.name })
            )
          ), { concurrency: args.concurrency }).pipe(
            Metrics.recording(recorder),
            Effect.ensuring(writeMetrics),
            Effect.provide(LiveLock.layer({ stateDir: loaded.config.stateDir }))
          )
        if (fleet && !args.json) {
          yield* Console.log(`\n${"app".padEnd(24)} ${"outcome".padEnd(24)} detail`)
          for (const [i, { outcome }] of ended.entries()) {
            yield* Console.log(
              `${apps[i]!.name.padEnd(24)} ${outcome._tag.padEnd(24)} ${redaction.text(Outcome.detail(outcome))}`
            )
          }
        }
        yield* setExitCode(worst(ended.map(({ ending }) => exitCode(ending))))
      })
      yield* withLive(loaded, work, args.logFormat)
    })
).pipe(Command.withDescription("Converge one app (or --all) to the latest safe version, health-gated, with rollback."))
