/**
 * The commands as data: each command's path (`alerts ack`), its options (and whether each takes a
 * value, and which) and its arguments, read from the @effect/cli declarations themselves, so the
 * checks of the command line and the shell completions cannot drift from them. Pure.
 */
import type { Command, Usage } from "@effect/cli"
import { Args, Options } from "@effect/cli"
import { Option } from "effect"
import { closest } from "../domain/Suggest.js"

export interface Named {
  readonly names: ReadonlyArray<string>
  /** What it takes: `FILE`, `text`, `integer`, `a | b | c` (choices); none for a flag. */
  readonly value: Option.Option<string>
}

export interface CommandSpec {
  /** The words that name it after the program's name: `["alerts", "ack"]`. */
  readonly path: ReadonlyArray<string>
  readonly options: ReadonlyArray<Named>
  readonly args: ReadonlyArray<Named>
  readonly subcommands: ReadonlyArray<string>
}

/** What @effect/cli adds to every command. */
export const BUILT_IN: ReadonlyArray<Named> = [
  { names: ["--help", "-h"], value: Option.none() },
  { names: ["--version"], value: Option.none() },
  { names: ["--wizard"], value: Option.none() },
  { names: ["--completions"], value: Option.some("bash | fish | zsh | sh") },
  { names: ["--log-level"], value: Option.some("all | trace | debug | info | warning | error | fatal | none") }
]

const named = (usage: Usage.Usage): Array<Named> => {
  switch (usage._tag) {
    case "Named":
      return [{ names: usage.names, value: usage.acceptedValues }]
    case "Optional":
    case "Repeated":
      return named(usage.usage)
    case "Concat":
    case "Alternation":
      return [...named(usage.left), ...named(usage.right)]
    default:
      return []
  }
}

/**
 * The descriptor's shape (@effect/cli 0.77): a command, a mapped one, or a parent with children.
 * Only the walk reads it; what each command takes comes from the public `getUsage`.
 */
type Descriptor =
  | {
    readonly _tag: "Standard"
    readonly name: string
    readonly options: Options.Options<unknown>
    readonly args: Args.Args<unknown>
  }
  | { readonly _tag: "GetUserInput"; readonly name: string }
  | { readonly _tag: "Map"; readonly command: Descriptor }
  | { readonly _tag: "Subcommands"; readonly parent: Descriptor; readonly children: ReadonlyArray<Descriptor> }

const walk = (d: Descriptor, prefix: ReadonlyArray<string>): Array<CommandSpec> => {
  switch (d._tag) {
    case "Standard":
      return [{
        path: [...prefix, d.name],
        options: named(Options.getUsage(d.options)),
        args: named(Args.getUsage(d.args)).map((a) => ({ ...a, names: a.names.map((n) => n.replace(/^<|>$/g, "")) })),
        subcommands: []
      }]
    case "GetUserInput":
      return [{ path: [...prefix, d.name], options: [], args: [], subcommands: [] }]
    case "Map":
      return walk(d.command, prefix)
    case "Subcommands": {
      const [parent, ...rest] = walk(d.parent, prefix)
      const children = d.children.flatMap((c) => walk(c, parent!.path))
      const direct = children.filter((c) => c.path.length === parent!.path.length + 1).map((c) => c.path.at(-1)!)
      return [{ ...parent!, subcommands: [...parent!.subcommands, ...direct] }, ...rest, ...children]
    }
  }
}

/** Every command of `root`, the root first (its path is empty). */
export const commands = <Name extends string, R, E, A>(
  root: Command.Command<Name, R, E, A>
): ReadonlyArray<CommandSpec> =>
  walk((root as unknown as { readonly descriptor: Descriptor }).descriptor, []).map((c) => ({
    ...c,
    path: c.path.slice(1)
  }))

/** `warm-reconcile alerts ack` */
export const usageName = (program: string, path: ReadonlyArray<string>): string => [program, ...path].join(" ")

/** Which command the words name, and where its own words start. */
export const resolve = (tree: ReadonlyArray<CommandSpec>, words: ReadonlyArray<string>): CommandSpec => {
  const find = (path: ReadonlyArray<string>) => tree.find((c) => c.path.join(" ") === path.join(" "))
  let current = find([])!
  for (const word of words) {
    if (word === "--") break
    if (word.startsWith("-")) continue
    const next = current.subcommands.includes(word) ? find([...current.path, word]) : undefined
    if (next === undefined) break
    current = next
  }
  return current
}

/**
 * An option the command does not have (`--bogus`), as the usage error to print: @effect/cli would
 * take it for the app's name, or name the wrong word. Each option is checked against the command
 * named before it; an option's value is never checked here.
 */
export const unknownOption = (
  program: string,
  tree: ReadonlyArray<CommandSpec>,
  words: ReadonlyArray<string>
): Option.Option<string> => {
  const find = (path: ReadonlyArray<string>) => tree.find((c) => c.path.join(" ") === path.join(" "))
  let command = find([])!
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!
    if (word === "--") break
    if (!word.startsWith("-") || word === "-" || /^-\d/.test(word)) {
      if (command.subcommands.includes(word)) command = find([...command.path, word]) ?? command
      continue
    }
    const name = word.split("=")[0]!
    const option = [...command.options, ...BUILT_IN].find((o) => o.names.includes(name))
    if (option === undefined) {
      const names = command.options.flatMap((o) => o.names)
      const hint = Option.match(closest(name, [...names, ...BUILT_IN.flatMap((o) => o.names)]), {
        onNone: () => "",
        onSome: (n) => `: did you mean ${n}?`
      })
      const its = names.length ? `its options: ${names.join(", ")}; ` : ""
      const usage = usageName(program, command.path)
      return Option.some(`unknown option ${name} for \`${usage}\`${hint} (${its}see \`${usage} --help\`)`)
    }
    if (Option.isSome(option.value) && !word.includes("=")) i++
  }
  return Option.none()
}
