/**
 * Keeping secret values out of text: the values of the secret keys of the apps' env files
 * wherever they appear (also JSON-escaped), and any `KEY=value` whose key names a secret. Pure;
 * the live layers (`live/Redaction.ts`) apply it to alerts, the run history and log lines.
 */
import { Inspectable } from "effect"

export const REDACTED = "[redacted]"

/** Words that make an env key hold a secret: `ADMIN_PASSWORD`, `SMTP_PASS`, `API_KEY`, `SECRET_KEY_BASE`. */
const SECRET_WORDS = new Set([
  "PASSWORD",
  "PASSWD",
  "PASS",
  "PWD",
  "SECRET",
  "TOKEN",
  "KEY",
  "APIKEY",
  "CREDENTIAL",
  "CREDENTIALS",
  "SALT"
])

/**
 * Does this key name a secret value? `SECRET_<NAME>_VERSION` names only the version of a Docker
 * secret (`v1`), which is not secret and is what the program reports about missing secrets.
 */
export const isSecretKey = (key: string): boolean => {
  const upper = key.toUpperCase()
  return !upper.endsWith("_VERSION") && upper.split(/[_\-.]/).some((word) => SECRET_WORDS.has(word))
}

/**
 * `KEY=value`, `key: value`, `"key": "value"`. The value is only looked ahead at, so that in
 * `said: DB_PASSWORD=x` the match on `said` does not swallow the assignment after it.
 */
const ASSIGNMENT = /\b([A-Za-z][A-Za-z0-9_.-]*)["']?[ \t]*[=:][ \t]*(?=("[^"\n]*"|'[^'\n]*'|[^\s"',;&]+))/g

/** Replace the value of every assignment whose key names a secret. */
const redactAssignments = (text: string): string => {
  let out = ""
  let done = 0
  for (const m of text.matchAll(ASSIGNMENT)) {
    // Inside a value already replaced, or not a secret.
    if (m.index < done || !isSecretKey(m[1]!)) continue
    const valueStart = m.index + m[0].length
    out += text.slice(done, valueStart) + REDACTED
    done = valueStart + m[2]!.length
  }
  return out + text.slice(done)
}

/** Values shorter than this are not scrubbed by value: "v1" or "true" would garble every line. */
export const MIN_SECRET_LENGTH = 4

/**
 * Scrubs secret values out of text: the values of the secret keys in the apps' env files wherever
 * they appear (also JSON-escaped), and any `KEY=value` whose key names a secret.
 */
export class Redactor {
  readonly #needles: ReadonlyArray<string>

  constructor(values: Iterable<string>) {
    const needles = new Set<string>()
    for (const value of values) {
      if (value.length < MIN_SECRET_LENGTH) continue
      needles.add(value)
      // The same value as a JSON or logfmt string shows it (quotes, backslashes, newlines escaped).
      needles.add(JSON.stringify(value).slice(1, -1))
    }
    // Longest first, so that a value containing another is replaced whole.
    this.#needles = [...needles].sort((a, b) => b.length - a.length)
  }

  text(input: string): string {
    let out = input
    for (const needle of this.#needles) {
      if (out.includes(needle)) out = out.split(needle).join(REDACTED)
    }
    return redactAssignments(out)
  }

  /** Strings anywhere in plain data scrubbed; anything else (an Error, a class) becomes scrubbed text. */
  deep(input: unknown): unknown {
    if (typeof input === "string") return this.text(input)
    if (input === null || typeof input !== "object") return input
    if (Array.isArray(input)) return input.map((x) => this.deep(x))
    const proto = Object.getPrototypeOf(input)
    if (proto === Object.prototype || proto === null) {
      return Object.fromEntries(
        Object.entries(input).map(([k, v]) => [k, isSecretKey(k) && typeof v === "string" ? REDACTED : this.deep(v)])
      )
    }
    return this.text(Inspectable.toStringUnknown(input, 0))
  }

  static readonly none = new Redactor([])
}
