/**
 * Log lines of the CLI's own making: the simulation's relative-time lines, and the debug lines of
 * `--log-level debug` (every call the program makes to a service, with its time and its result).
 */
import { Duration, Effect, HashMap, Logger } from "effect"
import { Apps } from "../services/Apps.js"
import { Docker } from "../services/Docker.js"
import { Health } from "../services/Health.js"
import { Recipes } from "../services/Recipes.js"
import { Snapshots } from "../services/Snapshots.js"
import { State } from "../services/State.js"

/** Log lines on stderr: `+mm:ss.mmm LEVEL message key=value`, time relative to the run's start. */
export const relativeLogger = (startMillis: number) =>
  Logger.make(({ annotations, date, logLevel, message }) => {
    const offset = date.getTime() - startMillis
    const m = Math.floor(offset / 60_000)
    const s = ((offset % 60_000) / 1000).toFixed(3).padStart(6, "0")
    const text = Array.isArray(message) ? message.map(String).join(" ") : String(message)
    const fields = HashMap.toEntries(annotations).map(([k, v]) =>
      `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`
    )
    process.stderr.write(
      `+${String(m).padStart(2, "0")}:${s} ${logLevel.label.padEnd(5)} ${text}${
        fields.length ? ` ${fields.join(" ")}` : ""
      }\n`
    )
  })

/** An argument as a debug line names it: an app by its name, text as it is (the logs scrub secrets). */
const argument = (a: unknown): string =>
  typeof a === "string" || typeof a === "number" || typeof a === "boolean"
    ? String(a)
    : typeof a === "object" && a !== null && "name" in a && typeof a.name === "string"
    ? a.name
    : typeof a

/** `service` with a debug line after each of its calls that returns an effect. */
const traced = <S extends object>(name: string, service: S): S =>
  Object.fromEntries(
    Object.entries(service).map(([method, f]) => [
      method,
      typeof f !== "function" ? f : (...args: Array<unknown>) => {
        const result: unknown = f(...args)
        if (!Effect.isEffect(result)) return result
        const call = `${name}.${method}(${args.map(argument).join(", ")})`
        return result.pipe(
          Effect.timed,
          Effect.tapBoth({
            onFailure: (e) =>
              Effect.logDebug(
                `${call} failed: ${typeof e === "object" && e && "_tag" in e ? String(e._tag) : "error"}`
              ),
            onSuccess: ([took]) => Effect.logDebug(`${call} done in ${Math.round(Duration.toMillis(took))} ms`)
          }),
          Effect.map(([, value]) => value)
        )
      }
    ])
  ) as S

/** The effect with every call to the program's services logged at debug level (`--log-level debug`). */
export const debugCalls = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(
    Effect.updateService(Apps, (s) => traced("Apps", s)),
    Effect.updateService(Recipes, (s) => traced("Recipes", s)),
    Effect.updateService(Docker, (s) => traced("Docker", s)),
    Effect.updateService(State, (s) => traced("State", s)),
    Effect.updateService(Health, (s) => traced("Health", s)),
    Effect.updateService(Snapshots, (s) => traced("Snapshots", s))
  )
