/** `plan <app>`: what `reconcile` would do, changing nothing. */
import { Command } from "@effect/cli"
import { Clock, Console, Effect, Option } from "effect"
import { describeSoaking } from "../domain/Soak.js"
import { escapeControls } from "../domain/Text.js"
import { describeWindow, localTimeZone, windows } from "../domain/Window.js"
import { observe } from "../reconcile/Reconcile.js"
import { State } from "../services/State.js"
import * as ConfigFile from "./ConfigFile.js"
import { type CommandError, exitCode } from "./ExitCode.js"
import * as Shared from "./Options.js"
import { setExitCode, withLive } from "./Output.js"
import { unholdHint } from "./Unhold.js"

const describePlan = (o: Effect.Effect.Success<ReturnType<typeof observe>>): string => {
  const p = o.plan
  switch (p._tag) {
    case "FreshDeploy":
      return `fresh deploy of ${p.version}${o.envExists ? "" : " (abra app new first)"}`
    case "Noop":
      return `nothing to do: ${p.version} is the latest and healthy`
    case "Redeploy":
      return `redeploy ${p.version}: it is the latest but not healthy`
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
      return `upgrade ${p.from} -> ${p.to}, health-gated${p.fromHealthy ? "" : " (the running version is not healthy)"}`
    case "Fail":
      return `cannot plan: ${p.reason}`
  }
}

/** A service the plan reads could not answer: its message alone, exit 1. */
const unreadable = (e: CommandError & { readonly message: string }) =>
  Console.error(e.message).pipe(Effect.zipRight(setExitCode(exitCode(e))))

export const planCommand = Command.make(
  "plan",
  { app: Shared.oneApp, config: Shared.config, skipFetch: Shared.skipFetch, json: Shared.json("app") },
  (args) =>
    Effect.gen(function*() {
      const loaded = yield* ConfigFile.load(args.config)
      const app = yield* ConfigFile.findApp(loaded, args.app)
      yield* ConfigFile.requireAbraDir(loaded)
      const [pending, previousHold, o] = yield* withLive(
        loaded,
        Effect.all([
          Effect.flatMap(State, (state) => state.inFlight(app.name)),
          Effect.flatMap(State, (state) => state.hold(app.name)),
          observe(app, { readOnly: true, skipFetch: Shared.skipFetchOrEnv(args.skipFetch) })
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
          missingSecrets: o.missingSecrets,
          soaking: o.soaking
        }))
      } else {
        if (Option.isSome(pending)) {
          const r = pending.value
          yield* Console.log(
            `PLAN ${app.name}: first recover the unfinished upgrade ${escapeControls(`${r.from} -> ${r.to}`)} ` +
              `(phase ${r.phase}, started ${escapeControls(r.startedAt)} by pid ${r.pid}); then:`
          )
        }
        // One line: versions and labels are text from outside, their control characters escaped.
        yield* Console.log(`PLAN ${app.name}: ${escapeControls(describePlan(o))}`)
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
      }
    }).pipe(Effect.catchTags({
      ConfigMismatch: unreadable,
      AbraError: unreadable,
      RecipeError: unreadable,
      DockerUnavailable: unreadable,
      DockerApiError: unreadable,
      StateError: unreadable,
      StateUnreadable: unreadable
    }))
).pipe(
  Command.withDescription("Say what reconcile would do, changing nothing (no deploy, snapshot, env write or alert).")
)
