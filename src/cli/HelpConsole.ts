/**
 * What @effect/cli itself prints (help, usage errors, the wizard): its colours only on a terminal
 * and without NO_COLOR (https://no-color.org), and its usage lines with the whole command line
 * (`$ warm-reconcile alerts ack ...`, not `$ ack ...`). Every other control character is shown
 * escaped, as everywhere else (SafeConsole); the commands' own output goes through SafeConsole.
 */
import { Console, Effect } from "effect"
import { escapeControls } from "../domain/Text.js"
import { usageName } from "./CommandTree.js"

// eslint-disable-next-line no-control-regex
const SGR = /(\u001b\[[0-9;]*m)/

/** Colour: stdout is a terminal and NO_COLOR is not set (an empty NO_COLOR does not count). */
export const colourWanted = (env: NodeJS.ProcessEnv = process.env, tty = process.stdout.isTTY === true): boolean =>
  tty && (env["NO_COLOR"] ?? "") === ""

/** One printed text: colours kept or dropped, the rest escaped, usage lines named in full. */
export const render = (
  text: string,
  options: { readonly colour: boolean; readonly program: string; readonly path: ReadonlyArray<string> }
): string =>
  text.split("\n").map((line) => {
    const parts = line.split(SGR).flatMap((part, i) =>
      i % 2 === 1 ? (options.colour ? [part] : []) : [escapeControls(part)]
    )
    const plain = parts.join("")
    const [dollar, name] = plain.split(" ")
    return options.path.length > 0 && dollar === "$" && name === options.path.at(-1)
      ? plain.replace(`$ ${name}`, `$ ${usageName(options.program, options.path)}`)
      : plain
  }).join("\n")

const renderAll = (args: ReadonlyArray<unknown>, options: Parameters<typeof render>[1]) =>
  args.map((a) => typeof a === "string" ? render(a, options) : a)

/** `base` printing through {@link render}. */
export const make = (base: Console.Console, options: Parameters<typeof render>[1]): Console.Console => ({
  ...base,
  log: (...args) => base.log(...renderAll(args, options)),
  error: (...args) => base.error(...renderAll(args, options)),
  unsafe: {
    ...base.unsafe,
    log: (...args) => base.unsafe.log(...renderAll(args, options)),
    error: (...args) => base.unsafe.error(...renderAll(args, options))
  }
})

/** Run `effect` printing through {@link make}. */
export const within = (options: Parameters<typeof render>[1]) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Console.consoleWith((base) => Effect.withConsole(effect, make(base, options)))
