/**
 * `--completions bash|zsh|fish`: completion scripts made from the commands' own declarations
 * (CommandTree): each command's subcommands and options, the choices of an option or argument,
 * and file names where an option takes a file (`--config FILE`, `--metrics-file`). @effect/cli's
 * own scripts are not used: its bash script never gets past a program name with a dash in it.
 */
import { Option } from "effect"
import { BUILT_IN, type CommandSpec, type Named } from "./CommandTree.js"

export type Shell = "bash" | "zsh" | "fish"

/** The shell asked for with `--completions SHELL` (or `--completions=SHELL`), if it was. */
export const requested = (words: ReadonlyArray<string>): Option.Option<string> => {
  const i = words.findIndex((w) => w === "--completions" || w.startsWith("--completions="))
  if (i < 0) return Option.none()
  const word = words[i]!
  return Option.some(word.includes("=") ? word.slice(word.indexOf("=") + 1) : words[i + 1] ?? "")
}

/** The value an option takes: a file name, one of some words, or free text (none completed). */
type Value = { readonly _tag: "File" } | { readonly _tag: "Choice"; readonly words: ReadonlyArray<string> } | {
  readonly _tag: "Text"
}

const valueOf = (o: Named): Option.Option<Value> =>
  Option.map(o.value, (v): Value =>
    v === "FILE" || o.names.some((n) => n.endsWith("-file"))
      ? { _tag: "File" }
      : v.includes(" | ")
      ? { _tag: "Choice", words: v.split(" | ") }
      : { _tag: "Text" })

const optionsOf = (c: CommandSpec): ReadonlyArray<Named> => [...c.options, ...BUILT_IN]
const choicesOf = (c: CommandSpec): ReadonlyArray<string> =>
  c.args.flatMap((a) =>
    Option.match(valueOf(a), { onNone: () => [], onSome: (v) => v._tag === "Choice" ? v.words : [] })
  )
const key = (c: CommandSpec) => c.path.join(" ")

const bash = (program: string, tree: ReadonlyArray<CommandSpec>): string => {
  const fn = `_${program.replace(/[^A-Za-z0-9_]/g, "_")}`
  const valued = [
    ...new Set(tree.flatMap((c) => optionsOf(c).filter((o) => Option.isSome(o.value)).flatMap((o) => o.names)))
  ]
  const steps = tree.flatMap((c) => c.subcommands.map((s) => `"${key(c)}|${s}") path="${[...c.path, s].join(" ")}" ;;`))
  const values = tree.flatMap((c) =>
    optionsOf(c).flatMap((o) =>
      Option.match(valueOf(o), {
        onNone: () => [],
        onSome: (v) => {
          const reply = v._tag === "File"
            ? `COMPREPLY=( $(compgen -f -- "$cur") ); compopt -o filenames 2>/dev/null`
            : v._tag === "Choice"
            ? `COMPREPLY=( $(compgen -W "${v.words.join(" ")}" -- "$cur") )`
            : "COMPREPLY=()"
          return o.names.map((n) => `"${key(c)}|${n}") ${reply}; return 0 ;;`)
        }
      })
    )
  )
  const words = tree.map((c) =>
    `"${key(c)}") opts="${optionsOf(c).flatMap((o) => o.names).join(" ")}"; subs="${
      [...c.subcommands, ...choicesOf(c)].join(" ")
    }" ;;`
  )
  return [
    `# bash completion for ${program}: source it, or put it in /etc/bash_completion.d/${program}`,
    `${fn}() {`,
    `  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" path="" i w opts subs`,
    `  for ((i = 1; i < COMP_CWORD; i++)); do`,
    `    w="\${COMP_WORDS[i]}"`,
    `    case " ${valued.join(" ")} " in *" $w "*) i=$((i + 1)); continue ;; esac`,
    `    case "$path|$w" in`,
    ...steps.map((s) => `      ${s}`),
    `    esac`,
    `  done`,
    `  case "$path|$prev" in`,
    ...values.map((v) => `    ${v}`),
    `  esac`,
    `  case "$path" in`,
    ...words.map((w) => `    ${w}`),
    `  esac`,
    `  if [[ "$cur" == -* ]]; then COMPREPLY=( $(compgen -W "$opts" -- "$cur") )`,
    `  else COMPREPLY=( $(compgen -W "$subs" -- "$cur") ); fi`,
    `}`,
    `complete -F ${fn} ${program}`
  ].join("\n")
}

/** zsh runs the bash function through its bash-completion layer. */
const zsh = (program: string, tree: ReadonlyArray<CommandSpec>): string =>
  [
    `#compdef ${program}`,
    `# zsh completion for ${program}: put it on $fpath as _${program}, or source it`,
    "autoload -U +X bashcompinit && bashcompinit",
    bash(program, tree)
  ].join("\n")

const fish = (program: string, tree: ReadonlyArray<CommandSpec>): string => {
  const quote = (s: string) => `'${s.replace(/'/g, "\\'")}'`
  const lines = [`# fish completion for ${program}: put it in ~/.config/fish/completions/${program}.fish`]
  lines.push(`complete -c ${program} -f`)
  for (const c of tree) {
    // Where this command's words apply: its own name seen, and none of its subcommands yet.
    const seen = c.path.length === 0 ? "__fish_use_subcommand" : `__fish_seen_subcommand_from ${c.path.at(-1)}`
    const notDeeper = c.subcommands.length ? `; and not __fish_seen_subcommand_from ${c.subcommands.join(" ")}` : ""
    const when = quote(`${seen}${notDeeper}`)
    const words = [...c.subcommands, ...choicesOf(c)]
    if (words.length) lines.push(`complete -c ${program} -n ${when} -a ${quote(words.join(" "))}`)
    for (const o of optionsOf(c)) {
      const flags = o.names.map((n) => n.startsWith("--") ? `-l ${n.slice(2)}` : `-s ${n.slice(1)}`).join(" ")
      const takes = Option.match(valueOf(o), {
        onNone: () => "",
        onSome: (v) => v._tag === "File" ? " -r -F" : v._tag === "Choice" ? ` -x -a ${quote(v.words.join(" "))}` : " -x"
      })
      lines.push(`complete -c ${program} -n ${when} ${flags}${takes}`)
    }
  }
  return lines.join("\n")
}

/** The completion script for `shell`; none for a shell it does not know. */
export const script = (shell: string, program: string, tree: ReadonlyArray<CommandSpec>): Option.Option<string> =>
  shell === "bash" || shell === "sh"
    ? Option.some(bash(program, tree))
    : shell === "zsh"
    ? Option.some(zsh(program, tree))
    : shell === "fish"
    ? Option.some(fish(program, tree))
    : Option.none()
