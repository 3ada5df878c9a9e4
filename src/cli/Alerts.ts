/**
 * `alerts`: the alerts waiting for a person, newest first (`--acknowledged`: those already seen);
 * `alerts ack <id>` moves one into `alerts/acknowledged/`. Files are read as the live Alerts layer
 * and the Python original wrote them.
 */
import { Args, Command, Options } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import { type Alert, toJson } from "../domain/Alert.js"
import { escapeControls, problemLine } from "../domain/Text.js"
import * as LiveAlerts from "../live/Alerts.js"
import * as LiveNotifier from "../live/Notifier.js"
import * as ConfigFile from "./ConfigFile.js"
import * as Shared from "./Options.js"

const text = (value: unknown): string | undefined =>
  typeof value === "string" || typeof value === "number" ? String(value) : undefined

/** One line on what the alert is about, from the fields each reason carries. */
export const summary = (alert: Alert): string => {
  const f = alert.fields
  switch (alert.reason) {
    case "rollback":
    case "rollback-failed":
    case "recovered": {
      const back = f["recovered"] === false ? "NOT recovered" : `back on ${text(f["last_good"]) ?? "?"}`
      return `${text(f["attempted"]) ?? "?"} failed, ${back}` +
        (text(f["failed_step"]) === undefined ? "" : ` (${text(f["failed_step"])} failed)`)
    }
    case "unhealthy-on-latest":
    case "unhealthy-after-deploy":
      return `${text(f["version"]) ?? "?"} is not healthy`
    case "state-unreadable":
      return `${text(f["file"]) ?? "a state record"} does not read: stopped until a person looks`
    case "redeployed":
      return `${text(f["version"]) ?? "?"} was unhealthy, redeployed, healthy again`
    default:
      return `stays on ${text(f["current"]) ?? "?"}, not upgrading to ${text(f["latest"]) ?? "?"}`
  }
}

/** `  [delivered: ntfy; pending: smtp]`, or nothing without channels. */
const deliveryText = (channels: Record<string, "delivered" | "pending">): string => {
  const of = (state: string) => Object.keys(channels).filter((c) => channels[c] === state)
  const parts = (["delivered", "pending"] as const).flatMap((s) =>
    of(s).length === 0 ? [] : [`${s}: ${of(s).join(", ")}`]
  )
  return parts.length === 0 ? "" : `  [${parts.join("; ")}]`
}

const render = (
  listed: ReadonlyArray<LiveAlerts.ListedAlert>,
  deliveries: (a: LiveAlerts.ListedAlert) => Record<string, "delivered" | "pending">
): string => {
  const width = Math.max(...listed.map((a) => a.id.length))
  return listed.map((a) =>
    `${a.id.padEnd(width)}  ${
      escapeControls(a._tag === "Alert" ? summary(a.alert) : `unreadable: ${problemLine(a.problem)}`)
    }` +
    deliveryText(deliveries(a))
  ).join("\n")
}

const alertsList = Command.make(
  "alerts",
  {
    config: Shared.config,
    acknowledged: Options.boolean("acknowledged").pipe(
      Options.withDescription("list the alerts already acknowledged instead")
    ),
    json: Shared.json("alert")
  },
  (args) =>
    Effect.gen(function*() {
      const loaded = yield* ConfigFile.load(args.config)
      const listed = yield* LiveAlerts.list(loaded.config.stateDir, { acknowledged: args.acknowledged })
      // With channels configured: where each waiting alert stands with each of them.
      const status = loaded.config.notify.length === 0 || args.acknowledged
        ? () => ({})
        : yield* LiveNotifier.deliveryStatus(loaded.config.stateDir, loaded.config.notify)
      const deliveries = (a: LiveAlerts.ListedAlert) => a._tag === "Alert" ? status(a.id, a.alert) : {}
      if (args.json) {
        for (const a of listed) {
          const channels = deliveries(a)
          yield* Console.log(JSON.stringify(
            a._tag === "Alert"
              ? {
                id: a.id,
                path: a.path,
                ...toJson(a.alert),
                ...(Object.keys(channels).length === 0 ? {} : { deliveries: channels })
              }
              : { id: a.id, path: a.path, unreadable: a.problem }
          ))
        }
      } else {
        yield* Console.log(
          listed.length === 0 ? `no ${args.acknowledged ? "acknowledged " : ""}alerts` : render(listed, deliveries)
        )
      }
    })
).pipe(Command.withDescription("List the alerts, newest first; `alerts ack <id>` acknowledges one."))

const ackCommand = Command.make(
  "ack",
  {
    id: Args.text({ name: "id" }).pipe(Args.withDescription("the alert's id, as `alerts` lists it")),
    config: Shared.config
  },
  (args) =>
    Effect.gen(function*() {
      // `alerts --config FILE ack <id>` works as well as `alerts ack <id> --config FILE`.
      const parent = yield* alertsList
      const loaded = yield* ConfigFile.load(Option.orElse(args.config, () => parent.config))
      const to = yield* LiveAlerts.ack(loaded.config.stateDir, args.id)
      yield* Console.log(`acknowledged ${args.id}: moved to ${to}`)
    })
).pipe(Command.withDescription("Acknowledge one alert: move it into alerts/acknowledged/."))

export const alertsCommand = alertsList.pipe(Command.withSubcommands([ackCommand]))
