/**
 * Everything the CLI prints (results, tables, help, log lines) passes here: control characters
 * other than newline and tab are shown escaped (`\u001b`), so an escape sequence that came in a
 * Docker label, a tag, release notes or an error cannot recolour, retitle or rewrite the
 * terminal of whoever reads the output, nor forge a line in the journal (a bare `\r`). Newlines stay:
 * tables and help are several lines; one-line texts (result lines) escape them on their own.
 */
import { Console, Effect } from "effect"

const escape = (text: string): string =>
  text.replace(
    // eslint-disable-next-line no-control-regex
    /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`
  )

/** `base` with `f` applied to every string it prints. */
const mapStrings = (base: Console.Console, f: (text: string) => string): Console.Console => {
  const clean = (args: ReadonlyArray<unknown>): ReadonlyArray<unknown> =>
    args.map((a) => typeof a === "string" ? f(a) : a)
  return {
    ...base,
    log: (...args) => base.log(...clean(args)),
    error: (...args) => base.error(...clean(args)),
    info: (...args) => base.info(...clean(args)),
    warn: (...args) => base.warn(...clean(args)),
    debug: (...args) => base.debug(...clean(args)),
    unsafe: {
      ...base.unsafe,
      log: (...args) => base.unsafe.log(...clean(args)),
      error: (...args) => base.unsafe.error(...clean(args)),
      info: (...args) => base.unsafe.info(...clean(args)),
      warn: (...args) => base.unsafe.warn(...clean(args)),
      debug: (...args) => base.unsafe.debug(...clean(args))
    }
  }
}

/** `base` with every printed string cleaned. */
export const make = (base: Console.Console): Console.Console => mapStrings(base, escape)

/**
 * `base` with the secret values `scrub` knows replaced in every printed string: the output of
 * `plan`, `status` and `snapshot` (release notes, errors, labels) as alerts and logs are.
 */
export const redacted = (base: Console.Console, scrub: { readonly text: (text: string) => string }): Console.Console =>
  mapStrings(base, (text) => scrub.text(text))

/** Run `effect` printing through the cleaned console. */
export const within = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Console.consoleWith((base) => Effect.withConsole(effect, make(base)))
