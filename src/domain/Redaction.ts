/**
 * Keeping secret values out of text: the values of the secret keys of the apps' env files
 * wherever they appear (as they are, JSON-escaped, URL-encoded, base64, upper- or lower-cased), the
 * password of any URL that carries one, and any `KEY=value` whose key names a secret. Linear in the
 * length of the text (no regular expression that can backtrack). Pure;
 * the live layers (`live/Redaction.ts`) apply it to alerts, the run history and log lines.
 */
import { Inspectable } from "effect"

export const REDACTED = "[redacted]"

/**
 * Words that make an env key hold a secret wherever they appear in it, in any case:
 * `ADMINPASSWORD`, `GITHUBTOKEN`, `PASSPHRASE`, `SENTRY_DSN`, `CLIENT_SECRET`.
 */
export const SECRET_SUBSTRINGS = [
  "PASSWORD",
  "PASSWD",
  "PASSPHRASE",
  "TOKEN",
  "SECRET",
  "CREDENTIAL",
  "PRIVATE",
  "APIKEY",
  "DSN"
] as const

/**
 * Short words that make a key secret as a word of it (split at `_`, `-`, `.`) or at the end of
 * one: `SMTP_PASS`, `DBPASS`, `LDAP_BIND_PW`, `ADMINPW`, `API_KEY`, `ACCESSKEY`, `BASIC_AUTH`,
 * `TLS_CERT`. Not anywhere: `KEYCLOAK_ADMIN`, `PASSAGE` and `AUTHOR` name no secret.
 */
export const SECRET_WORD_ENDINGS = ["PASS", "PWD", "PW", "KEY", "AUTH", "CERT", "SALT"] as const

/**
 * Does this key name a secret value? A key ending in `_VERSION` (`SECRET_<NAME>_VERSION`) names
 * only the version of a Docker secret (`v1`), which is not secret and is what the program reports
 * about missing secrets.
 */
export const isSecretKey = (key: string): boolean => {
  const upper = key.toUpperCase()
  if (upper.endsWith("_VERSION")) return false
  if (SECRET_SUBSTRINGS.some((word) => upper.includes(word))) return true
  return upper.split(/[_\-.]/).some((part) => SECRET_WORD_ENDINGS.some((word) => part.endsWith(word)))
}

const MAX_KEY_LENGTH = 256

const isKeyChar = (c: number) =>
  (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 46 || c === 45
const isLetter = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122)
const isWordChar = (c: number) => isLetter(c) || (c >= 48 && c <= 57) || c === 95
const isBlank = (c: number) => c === 32 || c === 9
/** Ends an unquoted value: whitespace, a quote, `,`, `;`, `&`. */
const endsValue = (c: number) => c <= 32 || c === 34 || c === 39 || c === 44 || c === 59 || c === 38

/**
 * The length of the value at `at`: `"..."` or `'...'` on one line, else a run up to a blank, a
 * quote, `,`, `;` or `&`; 0 when there is none.
 */
const valueLength = (text: string, at: number): number => {
  const first = text.charCodeAt(at)
  if (first === 34 || first === 39) {
    for (let i = at + 1; i < text.length; i++) {
      const c = text.charCodeAt(i)
      if (c === first) return i - at + 1
      if (c === 10) break
    }
  }
  let i = at
  while (i < text.length && !endsValue(text.charCodeAt(i))) i++
  return i - at
}

/**
 * Replace the value of every `KEY=value`, `key: value`, `"key": "value"` whose key names a secret.
 * One pass over the text (a regular expression for this was quadratic on long runs of key
 * characters: 400 KB took 97 s). A key is a run of letters, digits, `_`, `.`, `-` that starts with a
 * letter at a word boundary; `said: DB_PASSWORD=x` redacts `x`, not what follows `said:`.
 */
const redactAssignments = (text: string): string => {
  let out = ""
  let done = 0
  let i = 0
  while (i < text.length) {
    if (!isKeyChar(text.charCodeAt(i))) {
      i++
      continue
    }
    // A maximal run of key characters; its key starts at the first letter after a non-word character.
    const runStart = i
    while (i < text.length && isKeyChar(text.charCodeAt(i))) i++
    let keyStart = -1
    for (let k = runStart; k < i; k++) {
      if (isLetter(text.charCodeAt(k)) && (k === 0 || !isWordChar(text.charCodeAt(k - 1)))) {
        keyStart = k
        break
      }
    }
    // No env key is that long: whatever it is, it is not looked at as one.
    if (keyStart < 0 || i - keyStart > MAX_KEY_LENGTH) continue
    let j = i
    if (text.charCodeAt(j) === 34 || text.charCodeAt(j) === 39) j++
    while (j < text.length && isBlank(text.charCodeAt(j))) j++
    if (text.charCodeAt(j) !== 61 && text.charCodeAt(j) !== 58) continue
    if (!isSecretKey(text.slice(keyStart, i))) continue
    j++
    while (j < text.length && isBlank(text.charCodeAt(j))) j++
    const length = valueLength(text, j)
    if (length === 0) continue
    out += text.slice(done, j) + REDACTED
    done = j + length
    i = done
  }
  return out + text.slice(done)
}

/**
 * Replace the password of every URL that carries one (`scheme://user:password@host`). One pass:
 * each `://` is looked at once, up to the end of its authority.
 */
const redactUrlPasswords = (text: string): string => {
  let out = ""
  let done = 0
  let from = 0
  for (;;) {
    const scheme = text.indexOf("://", from)
    if (scheme < 0) break
    const start = scheme + 3
    let end = start
    let at = -1
    for (; end < text.length; end++) {
      const c = text.charCodeAt(end)
      if (c <= 32 || c === 47 || c === 63 || c === 35 || c === 34 || c === 39 || c === 62 || c === 60) break
      if (c === 64) at = end
    }
    const colon = at < 0 ? -1 : text.indexOf(":", start)
    if (colon >= 0 && colon < at && at > colon + 1) {
      out += text.slice(done, colon + 1) + REDACTED
      done = at
    }
    from = Math.max(end, start)
  }
  return out + text.slice(done)
}

/** Values shorter than this are not scrubbed by value: "v1" or "true" would garble every line. */
export const MIN_SECRET_LENGTH = 4

/** Values that are never scrubbed by value: too common to be anyone's secret, and everywhere in text. */
const PLAIN_VALUES = new Set(["true", "false", "yes", "no", "none", "null", "on", "off", "enabled", "disabled"])

/** The forms a value shows in: as is, JSON-escaped, URL-encoded, base64 (and base64url), upper- and lower-cased. */
const formsOf = (value: string): Array<string> => {
  const base64 = Buffer.from(value, "utf8").toString("base64")
  return [
    value,
    JSON.stringify(value).slice(1, -1),
    encodeURIComponent(value),
    base64,
    base64.replace(/=+$/, ""),
    Buffer.from(value, "utf8").toString("base64url"),
    value.toUpperCase(),
    value.toLowerCase()
  ]
}

/**
 * Scrubs secret values out of text: the values of the secret keys in the apps' env files wherever
 * they appear (also JSON-escaped), and any `KEY=value` whose key names a secret.
 */
export class Redactor {
  readonly #needles: ReadonlyArray<string>

  constructor(values: Iterable<string>) {
    const needles = new Set<string>()
    for (const value of values) {
      if (value.length < MIN_SECRET_LENGTH || PLAIN_VALUES.has(value.toLowerCase())) continue
      for (const form of formsOf(value)) if (form.length >= MIN_SECRET_LENGTH) needles.add(form)
    }
    // Longest first, so that a value containing another is replaced whole.
    this.#needles = [...needles].sort((a, b) => b.length - a.length)
  }

  text(input: string): string {
    let out = input
    for (const needle of this.#needles) {
      if (out.includes(needle)) out = out.split(needle).join(REDACTED)
    }
    return redactAssignments(redactUrlPasswords(out))
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
