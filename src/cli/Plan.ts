/** `plan <app>` or `plan --all`: what `reconcile` would do, changing nothing. */
import { Args, Command, Options } from "@effect/cli"
import { Clock, Console, Duration, Effect, Option } from "effect"
import { type AppSpec, HealthConfig } from "../domain/Config.js"
import * as Discovery from "../domain/Discovery.js"
import { describeScope } from "../domain/SnapshotConfig.js"
import { describeSoaking } from "../domain/Soak.js"
import { escapeControls } from "../domain/Text.js"
import { describeWindow, localTimeZone, windows } from "../domain/Window.js"
import * as LiveLock from "../live/Lock.js"
import { observe } from "../reconcile/Reconcile.js"
import { State } from "../services/State.js"
import * as ConfigFile from "./ConfigFile.js"
import { type CommandError, type ExitCode, exitCode, worst } from "./ExitCode.js"
import * as Managed from "./Managed.js"
import * as Shared from "./Options.js"
import { printingRedacted, setExitCode, withLive } from "./Output.js"
import { unholdHint } from "./Unhold.js"

/**
 * How long `plan` looks at the running version's health: a few seconds, not reconcile's settle time
 * (60 s by default, up to the health timeout while Swarm converges). A dry run answers at once: ten
 * apps behind a proxy that was down took `plan --all` seven minutes. What it says is then "not
 * healthy now"; reconcile waits its whole settle time before it decides.
 */
export const PLAN_HEALTH_LOOK = Duration.seconds(5)

export const lookBriefly = (app: AppSpec): AppSpec => ({
  ...app,
  health: new HealthConfig({
    ...app.health,
    settle: Duration.min(app.health.settle, PLAN_HEALTH_LOOK),
    timeout: Duration.min(app.health.timeout, PLAN_HEALTH_LOOK)
  })
})

const NOT_HEALTHY_NOW = `not healthy in a ${Duration.format(PLAN_HEALTH_LOOK)} look`

const describePlan = (o: Effect.Effect.Success<ReturnType<typeof observe>>): string => {
  const p = o.plan
  switch (p._tag) {
    case "FreshDeploy":
      return `fresh deploy of ${p.version}${o.envExists ? "" : " (abra app new first)"}`
    case "Noop":
      return `nothing to do: ${p.version} is the latest and healthy`
    case "Redeploy":
      return `redeploy ${p.version}: it is the latest but ${NOT_HEALTHY_NOW}`
    case "Undeployed":
      return `leave undeployed (${p.version} is pinned): a person took it down; ` +
        `set "keepDeployed": true to have it deployed`
    case "Hold":
      if (p.reason === "chaos") {
        return `hold (chaos): a chaos deploy of ${p.from} runs; nothing is touched until a release is ` +
          `deployed with abra`
      }
      return `hold (${p.reason}) on ${p.from}, not upgrading to ${p.to}` +
        (p.warnings.length ? `: manual-migration warning in ${p.warnings.map((w) => w.version).join(", ")}` : "")
    case "Upgrade":
      return `upgrade ${p.from} -> ${p.to}, health-gated${p.fromHealthy ? "" : `; running version ${NOT_HEALTHY_NOW}`}`
    case "Fail":
      return `cannot plan: ${p.reason}`
  }
}

/** Who holds the app's lock, as its lock file says. */
const liveRun = (holder: LiveLock.LiveHolder): string =>
  holder.pid === undefined
    ? "a warm-reconcile run"
    : `a warm-reconcile run (pid ${holder.pid}${holder.since ? `, since ${escapeControls(holder.since)}` : ""})`

/** A service the plan reads could not answer: its message alone, exit 1. */
const unreadable = (e: CommandError & { readonly message: string }) =>
  Console.error(e.message).pipe(Effect.zipRight(setExitCode(exitCode(e))))

/** One app's plan on stdout (text or JSON); a paused app is not looked at. */
const planOne = (
  loaded: ConfigFile.LoadedConfig,
  app: AppSpec,
  args: { readonly skipFetch: boolean; readonly json: boolean; readonly fleet: boolean }
) =>
  Effect.gen(function*() {
    const why = args.fleet ? ` [${Discovery.why(app)}]` : ""
    if (!app.enabled) {
      // As reconcile: nothing is read for a paused app.
      return yield* Console.log(
        args.json
          ? JSON.stringify({ app: app.name, managedBy: app.managedBy ?? "listed", paused: true, plan: null })
          : `PLAN ${app.name}: paused ("enabled": false): reconcile does nothing${why}`
      )
    }
    const running = yield* LiveLock.liveHolder(loaded.config.stateDir, app.name)
    const fleetFields = args.fleet ? { managedBy: app.managedBy ?? "listed", paused: false } : {}
    const looked = yield* withLive(
      loaded,
      Effect.gen(function*() {
        const state = yield* State
        const pending = yield* state.inFlight(app.name)
        // A live run in the middle of this upgrade: its record is its progress, not something to
        // recover, and what runs now is between two releases: no plan is made from it.
        if (Option.isSome(running) && Option.isSome(pending)) {
          return { _tag: "Upgrading", record: pending.value, holder: running.value } as const
        }
        const previousHold = yield* state.hold(app.name)
        const o = yield* observe(lookBriefly(app), { readOnly: true, skipFetch: Shared.skipFetchOrEnv(args.skipFetch) })
        return { _tag: "Planned", pending, previousHold, o } as const
      })
    )
    if (looked._tag === "Upgrading") {
      const { holder, record: r } = looked
      return yield* Console.log(
        args.json
          ? JSON.stringify({ app: app.name, ...fleetFields, running: { ...holder, upgrade: r }, plan: null })
          : `PLAN ${app.name}: running now: ${liveRun(holder)} is upgrading ` +
            `${escapeControls(`${r.from} -> ${r.to}`)} (phase ${r.phase}); plan again once it has ended${why}`
      )
    }
    const { o, pending, previousHold } = looked
    if (args.json) {
      return yield* Console.log(JSON.stringify({
        app: app.name,
        ...fleetFields,
        running: Option.getOrNull(running),
        pendingRecovery: Option.getOrNull(pending),
        plan: o.plan,
        deployed: o.facts.deployed,
        current: Option.getOrNull(o.facts.current),
        healthy: o.healthy,
        envExists: o.envExists,
        missingSecrets: o.missingSecrets,
        soaking: o.soaking
      }))
    }
    if (Option.isSome(running)) {
      yield* Console.log(
        `PLAN ${app.name}: running now: ${liveRun(running.value)} holds its lock; reconcile would wait for it ` +
          "(--lock-wait); then, as things stand:"
      )
    } else if (Option.isSome(pending)) {
      const r = pending.value
      yield* Console.log(
        `PLAN ${app.name}: first recover the unfinished upgrade ${escapeControls(`${r.from} -> ${r.to}`)} ` +
          `(phase ${r.phase}, started ${escapeControls(r.startedAt)} by pid ${r.pid}); then:`
      )
    }
    // One line: versions and labels are text from outside, their control characters escaped.
    yield* Console.log(`PLAN ${app.name}: ${escapeControls(describePlan(o))}${why}`)
    // Next to every recorded hold (what `unhold` clears): how to clear it.
    if (Option.isSome(previousHold)) {
      const h = previousHold.value
      yield* Console.log(
        `  hold recorded: ${h.reason} ${escapeControls(`${h.from} -> ${h.to}`)}; ${unholdHint(app.name)}`
      )
    }
    if (o.missingSecrets.length) yield* Console.log(`  would generate secrets: ${o.missingSecrets.join(", ")}`)
    const window = describeWindow(windows(app.window), yield* Clock.currentTimeMillis, localTimeZone())
    if (Option.isSome(window)) yield* Console.log(`  maintenance window: ${window.value}`)
    for (const release of o.soaking) yield* Console.log(`  ${describeSoaking(release)}`)
    yield* Option.match(describeScope(app), { onNone: () => Effect.void, onSome: (line) => Console.log(`  ${line}`) })
  })

/** What stops one app's plan, as reconcile reports it: its message alone, with its exit code. */
const planFailures = {
  ConfigMismatch: unreadable,
  AbraError: unreadable,
  RecipeError: unreadable,
  DockerUnavailable: unreadable,
  DockerApiError: unreadable,
  StateError: unreadable,
  StateUnreadable: unreadable
}

export const planCommand = Command.make(
  "plan",
  {
    app: Shared.oneApp.pipe(Args.optional),
    all: Options.boolean("all").pipe(Options.withDescription("plan every managed app (listed and discovered)")),
    config: Shared.config,
    skipFetch: Shared.skipFetch,
    json: Shared.json("app")
  },
  (args) =>
    Effect.flatMap(ConfigFile.load(args.config), (loaded) =>
      printingRedacted(loaded)(Effect.gen(function*() {
        if (Option.isSome(args.app) === args.all) {
          return yield* new ConfigFile.UsageError({ message: "name one app, or pass --all (not both)" })
        }
        yield* ConfigFile.requireAbraDir(loaded)
        if (Option.isSome(args.app)) {
          const app = yield* Managed.findManaged(loaded, args.app.value)
          return yield* planOne(loaded, app, { ...args, fleet: false }).pipe(Effect.catchTags(planFailures))
        }
        const managed = yield* Managed.managedLive(loaded)
        if (managed.apps.length === 0 && !args.json) yield* Console.log("no apps configured or opted in")
        // One app that cannot be planned never stops the others; the worst exit code wins.
        const codes: Array<ExitCode> = []
        for (const app of managed.apps) {
          yield* planOne(loaded, app, { ...args, fleet: true }).pipe(
            Effect.catchAll(unreadable),
            Effect.zipRight(Effect.sync(() => codes.push((process.exitCode ?? 0) as ExitCode)))
          )
        }
        for (const problem of managed.problems) yield* Console.error(`warm-reconcile: ${problem}`)
        yield* setExitCode(worst(codes))
      })))
).pipe(
  Command.withDescription(
    "Say what reconcile would do, changing nothing (no deploy, snapshot, env write or alert); --all: every managed app."
  )
)
