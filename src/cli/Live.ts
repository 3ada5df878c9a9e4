/** `reconcile`, `plan` and `snapshot` on the live layers. */
import { Args, Command, HelpDoc, Options, ValidationError } from "@effect/cli"
import { Console, Duration, Effect, Option } from "effect"
import type { AppSpec } from "../domain/Config.js"
import * as Outcome from "../domain/Outcome.js"
import * as Live from "../live/Live.js"
import * as LiveLock from "../live/Lock.js"
import * as Metrics from "../live/Metrics.js"
import { observe, run } from "../reconcile/Reconcile.js"
import { Apps } from "../services/Apps.js"
import { Docker } from "../services/Docker.js"
import { Lock } from "../services/Lock.js"
import { Snapshots } from "../services/Snapshots.js"
import { State } from "../services/State.js"
import * as ConfigFile from "./ConfigFile.js"
import * as LogFormat from "./LogFormat.js"

/** Set the process's exit code without ending it, so that finalizers and output flush first. */
export const setExitCode = (code: number) =>
  Effect.sync(() => {
    process.exitCode = code
  })

const appArg = Args.text({ name: "app" }).pipe(Args.withDescription("the app's name in the config"))
const configOption = Options.text("config").pipe(
  Options.withDescription(`the JSON config file (default ${ConfigFile.DEFAULT_CONFIG})`),
  Options.optional
)
const json = Options.boolean("json").pipe(Options.withDescription("print one JSON object per app instead of text"))
const skipFetch = Options.boolean("skip-fetch").pipe(
  Options.withDescription(
    "use the local recipe clone as it is (also WARM_RECONCILE_SKIP_FETCH=1 or CCCI_SKIP_FETCH=1)"
  )
)

const skipFetchFromEnv = () =>
  process.env["WARM_RECONCILE_SKIP_FETCH"] === "1" || process.env["CCCI_SKIP_FETCH"] === "1"

const logFormat = Options.choice("log-format", LogFormat.LOG_FORMATS).pipe(
  Options.withDescription("logfmt (default), json or pretty; logs go to stderr"),
  Options.withDefault("logfmt" as const)
)

/** The output of a live command: logs on stderr in `format`, secret values of the apps' env files scrubbed. */
const output = (loaded: ConfigFile.LoadedConfig, format: LogFormat.LogFormat = "logfmt") =>
  LogFormat.make({ format, abraDir: loaded.abraDir, apps: ConfigFile.allApps(loaded) })

const withLive = <A, E, R>(loaded: ConfigFile.LoadedConfig, effect: Effect.Effect<A, E, R>, out?: LogFormat.Output) =>
  Effect.flatMap(out === undefined ? output(loaded) : Effect.succeed(out), (out) =>
    effect.pipe(
      LogFormat.observe(out),
      Effect.provide(Live.layer({ stateDir: loaded.config.stateDir, abraDir: loaded.abraDir })),
      Effect.provide(LogFormat.layer(out.format, out))
    ))

const printOutcome = (
  app: AppSpec,
  outcome: Outcome.Outcome,
  asJson: boolean,
  interrupted = false,
  fleet = false,
  redactor = LogFormat.Redactor.none
) =>
  Console.log(redactor.text(
    asJson
      ? JSON.stringify({
        app: app.name,
        outcome: outcome._tag,
        detail: Outcome.detail(outcome),
        result: Outcome.format(outcome),
        exitCode: Outcome.exitCode(outcome),
        interrupted
      })
      : (fleet ? `RECONCILE RESULT ${app.name}: ${Outcome.format(outcome)}` : Outcome.resultLine(outcome)) +
        (interrupted ? " (interrupted)" : "")
  ))

/** The worst exit code wins: 1 (unhealthy or failed) over 0. */
const worst = (codes: ReadonlyArray<number>) => codes.reduce((a, b) => Math.max(a, b), 0)

export const reconcileCommand = Command.make(
  "reconcile",
  {
    app: appArg.pipe(Args.optional),
    all: Options.boolean("all").pipe(Options.withDescription("reconcile every configured app")),
    concurrency: Options.integer("concurrency").pipe(
      Options.withDescription("with --all: how many apps at once (default 1)"),
      Options.withDefault(1)
    ),
    lockWait: Options.text("lock-wait").pipe(
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
    ),
    config: configOption,
    skipFetch,
    json,
    logFormat,
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
      const fleet = apps.length > 1 || args.all
      const options = { skipFetch: args.skipFetch || skipFetchFromEnv() }
      const out = yield* output(loaded, args.logFormat)
      const recorder = new Metrics.Recorder()
      const finished = (app: AppSpec, interrupted: boolean) => (o: Outcome.Outcome) =>
        Effect.sync(() => recorder.outcome(app.name, o)).pipe(
          Effect.zipRight(printOutcome(app, o, args.json, interrupted, fleet, out.redactor))
        )
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
      const busy = new Set<string>()
      // One app's failure never stops the others: `run` turns every failure into an outcome. The
      // per-app lock keeps the boot run and the timer run from working on the same app at once.
      const outcomes = yield* withLive(
        loaded,
        Effect.forEach(apps, (app) =>
          Effect.scoped(
            Effect.flatMap(Lock, (lock) => lock.acquire(app.name, args.lockWait)).pipe(
              Effect.zipRight(run(app, { ...options, onInterrupted: finished(app, true) })),
              Effect.tap(finished(app, false)),
              Effect.catchTags({
                LockBusy: (e) =>
                  Console.error(`warm-reconcile: ${e.message}`).pipe(
                    Effect.zipRight(Effect.sync(() => busy.add(app.name))),
                    Effect.as(Outcome.Outcome.failed({ reason: e.message }))
                  ),
                LockError: (e) =>
                  Console.error(`warm-reconcile: ${e.message}`).pipe(
                    Effect.as(Outcome.Outcome.failed({ reason: e.message }))
                  )
              }),
              // Also the lines `run` logs outside the program's own annotation (a failure before any change).
              Effect.annotateLogs({ app: app.name })
            )
          ), { concurrency: args.concurrency }).pipe(
            Metrics.recording(recorder),
            Effect.ensuring(writeMetrics),
            Effect.provide(LiveLock.layer({ stateDir: loaded.config.stateDir }))
          ),
        out
      )
      if (fleet && !args.json) {
        yield* Console.log(`\n${"app".padEnd(24)} ${"outcome".padEnd(24)} detail`)
        for (const [i, o] of outcomes.entries()) {
          yield* Console.log(`${apps[i]!.name.padEnd(24)} ${o._tag.padEnd(24)} ${out.redactor.text(Outcome.detail(o))}`)
        }
      }
      // 75 (EX_TEMPFAIL): another run held an app's lock past --lock-wait; try again later.
      yield* setExitCode(worst(outcomes.map((o, i) => busy.has(apps[i]!.name) ? 75 : Outcome.exitCode(o))))
    })
).pipe(Command.withDescription("Converge one app (or --all) to the latest safe version, health-gated, with rollback."))

const describePlan = (o: Effect.Effect.Success<ReturnType<typeof observe>>): string => {
  const p = o.plan
  switch (p._tag) {
    case "FreshDeploy":
      return `fresh deploy of ${p.version}${o.envExists ? "" : " (abra app new first)"}`
    case "Noop":
      return `nothing to do: ${p.version} is the latest and healthy`
    case "Redeploy":
      return `redeploy ${p.version}: it is the latest but not healthy`
    case "Hold":
      return `hold (${p.reason}) on ${p.from}, not upgrading to ${p.to}` +
        (p.warnings.length ? `: manual-migration warning in ${p.warnings.map((w) => w.version).join(", ")}` : "")
    case "Upgrade":
      return `upgrade ${p.from} -> ${p.to}, health-gated${p.fromHealthy ? "" : " (the running version is not healthy)"}`
    case "Fail":
      return `cannot plan: ${p.reason}`
  }
}

export const planCommand = Command.make(
  "plan",
  { app: appArg, config: configOption, skipFetch, json },
  (args) =>
    Effect.gen(function*() {
      const loaded = yield* ConfigFile.load(args.config)
      const app = yield* ConfigFile.findApp(loaded, args.app)
      const [pending, o] = yield* withLive(
        loaded,
        Effect.all([
          Effect.flatMap(State, (state) => state.inFlight(app.name)),
          observe(app, { readOnly: true, skipFetch: args.skipFetch || skipFetchFromEnv() })
        ])
      )
      if (args.json) {
        yield* Console.log(JSON.stringify({
          app: app.name,
          pendingRecovery: Option.getOrNull(pending),
          plan: o.plan,
          deployed: o.facts.deployed,
          current: Option.getOrNull(o.facts.current),
          healthy: o.healthy,
          envExists: o.envExists,
          missingSecrets: o.missingSecrets
        }))
      } else {
        if (Option.isSome(pending)) {
          const r = pending.value
          yield* Console.log(
            `PLAN ${app.name}: first recover the unfinished upgrade ${r.from} -> ${r.to} ` +
              `(phase ${r.phase}, started ${r.startedAt} by pid ${r.pid}); then:`
          )
        }
        yield* Console.log(`PLAN ${app.name}: ${describePlan(o)}`)
        if (o.missingSecrets.length) yield* Console.log(`  would generate secrets: ${o.missingSecrets.join(", ")}`)
      }
    }).pipe(Effect.catchTags({
      AbraError: (e) => Console.error(e.message).pipe(Effect.zipRight(setExitCode(1))),
      RecipeError: (e) => Console.error(e.message).pipe(Effect.zipRight(setExitCode(1))),
      DockerUnavailable: (e) => Console.error(e.message).pipe(Effect.zipRight(setExitCode(1))),
      DockerApiError: (e) => Console.error(e.message).pipe(Effect.zipRight(setExitCode(1))),
      StateError: (e) => Console.error(e.message).pipe(Effect.zipRight(setExitCode(1)))
    }))
).pipe(
  Command.withDescription("Say what reconcile would do, changing nothing (no deploy, snapshot, env write or alert).")
)

const snapshotAction = Args.choice([["take", "take"], ["restore", "restore"], ["show", "show"]] as const, {
  name: "action"
})

export const snapshotCommand = Command.make(
  "snapshot",
  { action: snapshotAction, app: appArg, config: configOption },
  (args) =>
    Effect.gen(function*() {
      const loaded = yield* ConfigFile.load(args.config)
      const app = yield* ConfigFile.findApp(loaded, args.app)
      const work = Effect.gen(function*() {
        const snapshots = yield* Snapshots
        const docker = yield* Docker
        const apps = yield* Apps
        switch (args.action) {
          case "show": {
            const meta = yield* snapshots.show(app)
            yield* Console.log(Option.match(meta, {
              onNone: () => `no snapshot for ${app.name}`,
              onSome: (m) => JSON.stringify(m, null, 2)
            }))
            return
          }
          case "take": {
            // A snapshot taken now would replace the one an unfinished upgrade's recovery needs.
            const pending = yield* Effect.flatMap(State, (state) => state.inFlight(app.name))
            if (Option.isSome(pending)) {
              return yield* Effect.fail({
                message: `${app.name} has an unfinished upgrade ${pending.value.from} -> ${pending.value.to} ` +
                  `(in-flight.json): run \`warm-reconcile reconcile ${app.name}\` to recover it before taking a snapshot`
              })
            }
            const env = yield* apps.readEnv(app)
            const pinned = Option.flatMap(env, (e) => e.pinned)
            const version = Option.isSome(pinned) ? pinned : yield* docker.deployedVersion(app.stack)
            const volumes = yield* docker.stackVolumes(app.stack)
            const meta = yield* snapshots.take(app, Option.getOrElse(version, () => "unknown"), volumes)
            yield* Console.log(`snapshot of ${meta.volumes.length} volume(s) of ${app.name} taken as ${meta.version}`)
            return
          }
          case "restore": {
            const volumes = yield* docker.stackVolumes(app.stack)
            const meta = yield* snapshots.restore(app, volumes)
            yield* Console.log(`restored ${meta.volumes.length} volume(s) of ${app.name} to ${meta.version}`)
            return
          }
        }
      })
      yield* withLive(loaded, work).pipe(
        Effect.catchAll((e) => Console.error(e.message).pipe(Effect.zipRight(setExitCode(1))))
      )
    })
).pipe(
  Command.withDescription(
    "Take, restore or show the snapshot of a stateful app's volumes (the app must be undeployed to take or restore)."
  )
)
