// Over 300 lines: a byte-preserving parser and its editor belong together (round trips are the point).
/**
 * The app env file `$ABRA_DIR/servers/<server>/<domain>.env` in Docker env_file syntax. Pure: no I/O.
 *
 * The parse keeps every byte (line endings, comments, spacing, quotes, inline comments and the
 * `# length=128` modifiers abra reads), so `render(parse(text))` is `text` and `set` changes one
 * value and nothing else. Values are read the way abra's dotenv reader does: surrounding quotes
 * removed, `\n`, `\"`, `\\` and `\$` decoded inside double quotes, an unquoted value ending at a
 * whitespace-preceded `#`. `$VAR` references are returned as written, not expanded.
 */
import { Either, Option, Schema } from "effect"

/** The text is not an env file; `line` is 1-based. */
export class EnvFileError extends Schema.TaggedError<EnvFileError>()("EnvFileError", {
  line: Schema.Number,
  message: Schema.String
}) {}

export type Quote = "none" | "double" | "single"

/** `KEY=value`, kept as `head` (up to the value), `raw` (the value as written) and `suffix`. */
export interface Entry {
  readonly _tag: "Entry"
  readonly key: string
  /** Leading blanks, the key, blanks, `=` and the blanks before the value. */
  readonly head: string
  readonly raw: string
  readonly quote: Quote
  /** The value as abra reads it. */
  readonly value: string
  /** Blanks and an inline comment or modifier after the value, e.g. ` # length=128`. */
  readonly suffix: string
  /** `"\n"`, `"\r\n"`, or `""` for a last line without one. */
  readonly eol: string
}

/** A blank line or a `#` comment (commented-out keys included), kept as written. */
export interface Other {
  readonly _tag: "Other"
  readonly text: string
  readonly eol: string
}

export type Line = Entry | Other

export interface EnvFile {
  readonly lines: ReadonlyArray<Line>
  /** The line ending of appended lines: the file's first one, LF for a file without any. */
  readonly eol: "\n" | "\r\n"
}

const KEY = /^([ \t]*)([A-Za-z_][A-Za-z0-9_]*)([ \t]*)=/
const OTHER = /^[ \t]*(#.*)?$/s
const isBlank = (c: string | undefined) => c === " " || c === "\t"

const describeKey = (text: string) => {
  const before = text.split("=")[0]!.trim()
  // JSON.stringify leaves U+2028 and U+2029 as they are, and some viewers break lines there.
  return JSON.stringify(before.length > 40 ? `${before.slice(0, 40)}…` : before)
    .replace(/[\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`)
}

/** Blanks then an optional comment: what may follow a closing quote. */
const isSuffix = (text: string) => /^[ \t]*(#.*)?$/s.test(text)

const decodeDouble = (inner: string) =>
  inner.replace(/\\([\s\S])/g, (_, c: string) => c === "n" ? "\n" : c === "r" ? "\r" : c)

/** Index of the closing `"` of a double-quoted value starting at `start` (just after the opening one). */
const closingDouble = (text: string, start: number): number => {
  for (let i = start; i < text.length; i++) {
    if (text[i] === "\\") i++
    else if (text[i] === "\"") return i
  }
  return -1
}

/** Where the inline comment of an unquoted value starts (with the blanks before it), or the trailing blanks. */
const unquotedEnd = (text: string): number => {
  for (let i = 1; i < text.length; i++) {
    if (text[i] === "#" && isBlank(text[i - 1])) {
      let start = i
      while (start > 0 && isBlank(text[start - 1])) start--
      return start
    }
  }
  let end = text.length
  while (end > 0 && isBlank(text[end - 1])) end--
  return end
}

const parseEntry = (text: string, eol: string, line: number): Either.Either<Line, EnvFileError> => {
  const m = KEY.exec(text)
  if (m === null) {
    if (/^[ \t]*export[ \t]+[A-Za-z_]/.test(text)) {
      return Either.left(
        new EnvFileError({
          line,
          message: `line ${line} starts with "export": Docker's env_file has no export, write KEY=value`
        })
      )
    }
    return Either.left(
      new EnvFileError({
        line,
        message: text.includes("=")
          ? `line ${line}: ${
            describeKey(text)
          } is not a valid key: use letters, digits and "_", not starting with a digit, then "="`
          : `line ${line} is neither KEY=value, a # comment nor blank`
      })
    )
  }
  const key = m[2]!
  const afterEquals = text.slice(m[0].length)
  let pad = 0
  while (isBlank(afterEquals[pad])) pad++
  const rest = afterEquals.slice(pad)
  const entry = (padding: string, raw: string, quote: Quote, value: string, suffix: string): Line => ({
    _tag: "Entry",
    key,
    head: m[0] + padding,
    raw,
    quote,
    value,
    suffix,
    eol
  })
  const quoted = (quote: Quote, close: number): Either.Either<Line, EnvFileError> => {
    if (close < 0) {
      return Either.left(
        new EnvFileError({
          line,
          message: `line ${line}: the value of ${key} opens a ${rest[0]} quote that the line does not close ` +
            `(values spanning lines are not supported)`
        })
      )
    }
    const suffix = rest.slice(close + 1)
    if (!isSuffix(suffix)) {
      return Either.left(
        new EnvFileError({
          line,
          message: `line ${line}: text after the closing quote of ${key}'s value: start a comment with " #"`
        })
      )
    }
    const inner = rest.slice(1, close)
    return Either.right(
      entry(
        afterEquals.slice(0, pad),
        rest.slice(0, close + 1),
        quote,
        quote === "double" ? decodeDouble(inner) : inner,
        suffix
      )
    )
  }
  if (rest.startsWith("\"")) return quoted("double", closingDouble(rest, 1))
  if (rest.startsWith("'")) return quoted("single", rest.indexOf("'", 1))
  if (rest === "" || (pad > 0 && rest.startsWith("#"))) {
    // `KEY=` or `KEY= # comment`: an empty value; the blanks belong to the comment.
    return Either.right(entry("", "", "none", "", afterEquals))
  }
  const end = unquotedEnd(rest)
  return Either.right(
    entry(afterEquals.slice(0, pad), rest.slice(0, end), "none", rest.slice(0, end), rest.slice(end))
  )
}

/** Parses an env file, keeping every byte; the first line that is not env_file syntax is an error. */
export const parse = (text: string): Either.Either<EnvFile, EnvFileError> => {
  const lines: Array<Line> = []
  let eol: EnvFile["eol"] | undefined
  let start = 0
  for (let number = 1; start < text.length; number++) {
    const newline = text.indexOf("\n", start)
    const end = newline < 0 ? text.length : newline
    const crlf = newline > start && text[newline - 1] === "\r"
    const content = text.slice(start, crlf ? end - 1 : end)
    const lineEnd = newline < 0 ? "" : crlf ? "\r\n" : "\n"
    start = newline < 0 ? text.length : newline + 1
    if (eol === undefined && lineEnd !== "") eol = lineEnd as EnvFile["eol"]

    if (content.includes("\0")) {
      return Either.left(
        new EnvFileError({ line: number, message: `line ${number} contains a NUL byte: an env file is text` })
      )
    }
    if (content.includes("\r")) {
      return Either.left(
        new EnvFileError({
          line: number,
          message:
            `line ${number} has a carriage return that does not end the line: save the file with LF or CRLF line endings`
        })
      )
    }
    if (OTHER.test(content)) {
      lines.push({ _tag: "Other", text: content, eol: lineEnd })
      continue
    }
    const line = parseEntry(content, lineEnd, number)
    if (Either.isLeft(line)) return Either.left(line.left)
    lines.push(line.right)
  }
  return Either.right({ lines, eol: eol ?? "\n" })
}

export const render = (file: EnvFile): string => {
  let out = ""
  for (const line of file.lines) {
    out += line._tag === "Entry" ? line.head + line.raw + line.suffix + line.eol : line.text + line.eol
  }
  return out
}

/** Docker and abra take the last of several lines with the same key. */
const lastIndex = (file: EnvFile, key: string): number => {
  for (let i = file.lines.length - 1; i >= 0; i--) {
    const line = file.lines[i]!
    if (line._tag === "Entry" && line.key === key) return i
  }
  return -1
}

const entryOf = (file: EnvFile, key: string): Option.Option<Entry> => {
  const i = lastIndex(file, key)
  return i < 0 ? Option.none() : Option.some(file.lines[i] as Entry)
}

/** The value of `key` (unquoted, without its inline comment); the last one when the key repeats. */
export const get = (file: EnvFile, key: string): Option.Option<string> =>
  Option.map(entryOf(file, key), (entry) => entry.value)

/** Every key with a value, in file order (a repeated key once). */
export const keys = (file: EnvFile): Array<string> => [
  ...new Set(file.lines.flatMap((line) => line._tag === "Entry" ? [line.key] : []))
]

const encodeDouble = (value: string) =>
  `"${value.replace(/[\\"$\n\r]/g, (c) => c === "\n" ? "\\n" : c === "\r" ? "\\r" : `\\${c}`)}"`

/** Anything that an unquoted value cannot hold as is: blanks, `#`, quotes, escapes, `$` expansion. */
const needsQuotes = (value: string) => /[\s#"'\\$`]/.test(value)

const encode = (value: string, quote: Quote): { readonly raw: string; readonly quote: Quote } => {
  if (quote === "double") return { raw: encodeDouble(value), quote }
  if (quote === "single" && !/['\n\r]/.test(value)) return { raw: `'${value}'`, quote }
  if (quote === "none" && !needsQuotes(value)) return { raw: value, quote }
  return { raw: encodeDouble(value), quote: "double" }
}

/**
 * Sets `key` to `value` on its (last) line, keeping its quotes, inline comment and line ending, or
 * appends `KEY=value` when the key is absent. Values cannot hold a NUL byte.
 */
export const set = (file: EnvFile, key: string, value: string): EnvFile => {
  const i = lastIndex(file, key)
  if (i >= 0) {
    const entry = file.lines[i] as Entry
    // Quotes are only ever added, so a suffix glued to a closing quote (`"v"#c`) stays behind one.
    const { quote, raw } = encode(value, entry.quote)
    const lines = file.lines.slice()
    lines[i] = { ...entry, raw, quote, value }
    return { ...file, lines }
  }
  const { quote, raw } = encode(value, "none")
  const lines = file.lines.slice()
  const last = lines[lines.length - 1]
  // Keep the file's ending: one without a final newline still has none after the new line.
  const eol = last !== undefined && last.eol === "" ? "" : file.eol
  if (last !== undefined && last.eol === "") lines[lines.length - 1] = { ...last, eol: file.eol }
  lines.push({ _tag: "Entry", key, head: `${key}=`, raw, quote, value, suffix: "", eol })
  return { ...file, lines }
}

/** abra reads `RECIPE` when present, else `TYPE`. */
const recipeKey = (file: EnvFile): Option.Option<"RECIPE" | "TYPE"> =>
  lastIndex(file, "RECIPE") >= 0
    ? Option.some("RECIPE")
    : lastIndex(file, "TYPE") >= 0
    ? Option.some("TYPE")
    : Option.none()

const splitRecipe = (value: string) => {
  const colon = value.indexOf(":")
  return colon < 0
    ? { recipe: value.trim(), version: "" }
    : { recipe: value.slice(0, colon).trim(), version: value.slice(colon + 1).trim() }
}

/** The recipe named by `RECIPE=` (or else `TYPE=`), without a pinned version. */
export const recipe = (file: EnvFile): Option.Option<string> =>
  recipeKey(file).pipe(
    Option.flatMap((key) => get(file, key)),
    Option.map((value) => splitRecipe(value).recipe),
    Option.filter((name) => name !== "")
  )

/** The version newer abra pins as `TYPE=<recipe>:<version>` (or `RECIPE=`); None for a bare recipe. */
export const pinnedVersion = (file: EnvFile): Option.Option<string> =>
  recipeKey(file).pipe(
    Option.flatMap((key) => get(file, key)),
    Option.map((value) => splitRecipe(value).version),
    Option.filter((version) => version !== "")
  )

/** Pins `<recipe>:<version>` on the line abra reads (`RECIPE`, else `TYPE`), adding `TYPE=` when neither exists. */
export const setPinned = (file: EnvFile, recipe: string, version: string): EnvFile =>
  set(file, Option.getOrElse(recipeKey(file), () => "TYPE"), `${recipe}:${version}`)

/**
 * The secrets the file declares, as Docker names them after the stack prefix: `SECRET_<NAME>_VERSION=<v>`
 * gives `<name>_<v>` with the name lower-cased (`SECRET_ADMIN_PASSWORD_VERSION=v1` → `admin_password_v1`).
 * Modifiers such as `generate=false` do not matter: the secret must exist all the same.
 */
export const declaredSecrets = (file: EnvFile): Array<string> =>
  keys(file).flatMap((key) => {
    const m = /^SECRET_(\w+)_VERSION$/.exec(key)
    const version = m === null ? "" : Option.getOrElse(get(file, key), () => "")
    return m === null || version === "" ? [] : [`${m[1]!.toLowerCase()}_${version}`]
  })
