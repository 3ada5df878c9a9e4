/** The options and arguments several commands share, declared once. */
import { Args, HelpDoc, Options, ValidationError } from "@effect/cli"
import { Duration, Effect, Option } from "effect"
import * as ConfigFile from "./ConfigFile.js"
import * as LogFormat from "./LogFormat.js"

export const config = Options.text("config").pipe(
  Options.withPseudoName("FILE"),
  Options.withDescription(`the JSON config file (default ${ConfigFile.DEFAULT_CONFIG})`),
  Options.optional
)

/** `--json`: one JSON object per `each` (an app, an alert) instead of `otherwise`. */
export const json = (each: string, otherwise = "text") =>
  Options.boolean("json").pipe(Options.withDescription(`print one JSON object per ${each} instead of ${otherwise}`))

export const app = (description: string) => Args.text({ name: "app" }).pipe(Args.withDescription(description))

/** The app a command works on. */
export const oneApp = app("the app's name in the config")

export const skipFetch = Options.boolean("skip-fetch").pipe(
  Options.withDescription(
    "use the local recipe clone as it is (also WARM_RECONCILE_SKIP_FETCH=1 or CCCI_SKIP_FETCH=1)"
  )
)

/** `--skip-fetch`, or the environment's word for it. */
export const skipFetchOrEnv = (flag: boolean): boolean =>
  flag || process.env["WARM_RECONCILE_SKIP_FETCH"] === "1" || process.env["CCCI_SKIP_FETCH"] === "1"

export const logFormat = Options.choice("log-format", LogFormat.LOG_FORMATS).pipe(
  Options.withDescription("logfmt (default), json or pretty; logs go to stderr"),
  Options.withDefault("logfmt" as const)
)

/** How long to wait for another run that holds the app's lock. */
export const lockWait = Options.text("lock-wait").pipe(
  Options.withPseudoName("DURATION"),
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
