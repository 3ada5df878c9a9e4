/** `reconcile [app] [--all]`: converge apps to the latest safe version on the live layers. */
import { Args, Command, Options } from "@effect/cli"
import { NodeHttpClient } from "@effect/platform-node"
import { Clock, Console, Effect, Exit, Option } from "effect"
import { timestamp } from "../domain/Alert.js"
import type { AppSpec } from "../domain/Config.js"
import * as Discovery from "../domain/Discovery.js"
import { discoveryOn } from "../domain/Discovery.js"
import type { HeartbeatEvent } from "../domain/Heartbeat.js"
import * as Notice from "../domain/Notice.js"
import * as Outcome from "../domain/Outcome.js"
import * as Heartbeat from "../live/Heartbeat.js"
import * as LiveLock from "../live/Lock.js"
import * as Metrics from "../live/Metrics.js"
import { Redaction } from "../live/Redaction.js"
import { deliverOutbox, postNotice } from "../reconcile/Deliver.js"
import { run } from "../reconcile/Reconcile.js"
import { Lock } from "../services/Lock.js"
import * as ConfigFile from "./ConfigFile.js"
import { type Ending, exitCode, worst } from "./ExitCode.js"
import * as Managed from "./Managed.js"
import { messageContext, notifierLayer } from "./Notify.js"
import * as Shared from "./Options.js"
import { noteEnded, printOutcome, setExitCode, withLive } from "./Output.js"

export const reconcileCommand = Command.make(
  "reconcile",
  {
    app: Shared.oneApp.pipe(Args.optional),
    all: Options.boolean("all").pipe(Options.withDescription("reconcile every managed app (listed and discovered)")),
    concurrency: Options.integer("concurrency").pipe(
      Options.withDescription("with --all: how many apps at once (default 1)"),
      Options.withDefault(1)
    ),
    lockWait: Shared.lockWait,
    config: Shared.config,
    skipFetch: Shared.skipFetch,
    json: Shared.json("app"),
    logFormat: Shared.logFormat,
    // Text, not Options.file: it is an output path, and a file check would stat (and refuse) a FIFO
    // planted there on every run; the metrics writer refuses what it must not write through.
    metricsFile: Options.text("metrics-file").pipe(
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
      const one = Option.isSome(args.app) ? [yield* Managed.findManaged(loaded, args.app.value)] : undefined
      yield* ConfigFile.requireAbraDir(loaded)
      const managed = one !== undefined ? { apps: one, problems: [] } : yield* Managed.managedLive(loaded)
      const apps = managed.apps
      // Discovery's problems (an opted-in app that cannot be managed) are said; the others run.
      for (const problem of managed.problems) yield* Console.error(`warm-reconcile: ${problem}`)
      if (Option.isSome(args.metricsFile)) {
        yield* Metrics.checkPath(args.metricsFile.value).pipe(
          Effect.mapError((e) => new ConfigFile.UsageError({ message: `--metrics-file: ${e.message}` }))
        )
      }
      const fleet = apps.length > 1 || args.all
      const options = { skipFetch: Shared.skipFetchOrEnv(args.skipFetch) }
      const recorder = new Metrics.Recorder()
      // Written after the delivery (its backlog and failures), or without one after an interrupt:
      // the history has the interrupted runs by then.
      const writeMetrics = (failed: ReadonlyArray<{ readonly channel: string }>) =>
        Option.match(args.metricsFile, {
          onNone: () => Effect.void,
          onSome: (path) =>
            Metrics.write(path, {
              stateDir: loaded.config.stateDir,
              apps: ConfigFile.allApps(loaded).map((a) => a.name),
              recorder,
              notify: { channels: loaded.config.notify, failed }
            }).pipe(Effect.catchAll((e) => Effect.logError(e.message)), Effect.annotateLogs({ phase: "metrics" }))
        })
      const heartbeat = (event: HeartbeatEvent) =>
        loaded.config.heartbeat === undefined
          ? Effect.void
          : Heartbeat.send(loaded.config.heartbeat, event).pipe(Effect.provide(NodeHttpClient.layerUndici))
      // Successes, for the channels that asked (`successes`): into the outbox, delivered at the end.
      const notice = (make: (ts: string) => Notice.Notice | undefined) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => postNotice(make(timestamp(now)))).pipe(
          Effect.provide(notifierLayer(loaded))
        )
      const work = Effect.gen(function*() {
        yield* heartbeat({ _tag: "start" })
        const redaction = yield* Redaction
        const finished = (app: AppSpec, interrupted: boolean) => (o: Outcome.Outcome) =>
          noteEnded(o).pipe(
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
            // A paused app is not touched at all: not even its lock is taken.
            (app.enabled ? Effect.flatMap(Lock, (lock) => lock.acquire(app.name, args.lockWait)) : Effect.void).pipe(
              Effect.zipRight(run(app, { ...options, onInterrupted: finished(app, true) })),
              Effect.tap(finished(app, false)),
              Effect.tap((o) => notice((ts) => Notice.ofOutcome(app.name, ts, o))),
              Effect.map((outcome) => ({ outcome, ending: outcome as Ending })),
              // A config that does not fit abra's files (exit 2) stops only that app, as a busy lock does.
              Effect.catchTags({ LockBusy: lockFailed, LockError: lockFailed, ConfigMismatch: lockFailed }),
              // Also the lines `run` logs outside the program's own annotation (a failure before any change).
              Effect.annotateLogs({ app: app.name })
            )
          ), { concurrency: args.concurrency }).pipe(
            Metrics.recording(recorder),
            Effect.onExit((exit) => Exit.isSuccess(exit) ? Effect.void : writeMetrics([])),
            Effect.provide(LiveLock.layer({ stateDir: loaded.config.stateDir }))
          )
        // Interrupted from here on (during the delivery, say), the metrics are still written.
        yield* Effect.addFinalizer((exit) => Exit.isInterrupted(exit) ? writeMetrics([]) : Effect.void)
        if (fleet && !args.json) {
          // With discovery, why each app is managed (listed / opted in) ends its row.
          const why = (app: AppSpec) => discoveryOn(loaded.config) ? `  [${Discovery.why(app)}]` : ""
          yield* Console.log(`\n${"app".padEnd(24)} ${"outcome".padEnd(24)} detail`)
          for (const [i, { outcome }] of ended.entries()) {
            yield* Console.log(
              `${apps[i]!.name.padEnd(24)} ${outcome._tag.padEnd(24)} ${redaction.text(Outcome.detail(outcome))}${
                why(apps[i]!)
              }`
            )
          }
        }
        if (args.all && apps.length > 0) {
          yield* notice((ts) => Notice.summary(ts, ended.map(({ outcome }, i) => ({ app: apps[i]!.name, outcome }))))
        }
        const code = worst(ended.map(({ ending }) => exitCode(ending)))
        yield* setExitCode(code)
        yield* heartbeat({ _tag: "end", exitCode: code })
        // The alerts of this run (and any an earlier run could not deliver) to the channels. It
        // never fails, so a channel that is down never changes the exit code set above.
        const report = yield* deliverOutbox(messageContext(loaded)).pipe(Effect.provide(notifierLayer(loaded)))
        yield* writeMetrics(report.failed)
      })
      yield* withLive(loaded, Effect.scoped(work), args.logFormat)
    })
).pipe(Command.withDescription("Converge one app (or --all) to the latest safe version, health-gated, with rollback."))
