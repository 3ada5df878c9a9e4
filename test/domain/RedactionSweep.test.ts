/**
 * A sweep of redaction (issue 14 item 5: the mutant `redaction-off` must be killed by a sweep):
 * every form an env file's secret value can take in output (as it is, upper- and lower-cased,
 * URL-encoded, base64, JSON-escaped) x every place it can sit (a log line, a JSON string, a URL's
 * password, a `KEY=value`), and every key the README names as secret or not x `KEY=value` and
 * `key: value`. Each case's expectation comes from its own form: a secret never survives, and a
 * value whose key names no secret stays as it was.
 */
import { describe, expect, it } from "@effect/vitest"
import { isSecretKey, REDACTED, Redactor } from "../../src/domain/Redaction.js"
import * as Figures from "../support/figures.js"

const VALUE = "S3cr3t/Va+lue=9"
const FORMS: Record<string, (v: string) => string> = {
  "as it is": (v) => v,
  "upper-cased": (v) => v.toUpperCase(),
  "lower-cased": (v) => v.toLowerCase(),
  "URL-encoded": (v) => encodeURIComponent(v),
  base64: (v) => Buffer.from(v).toString("base64"),
  "JSON-escaped": (v) => JSON.stringify(`"${v}"`).slice(1, -1)
}
const PLACES: Record<string, (text: string) => string> = {
  "a log line": (t) => `level=info app=kc msg="deploy said ${t} and stopped"`,
  "a JSON string": (t) => JSON.stringify({ error: `abra: ${t}` }),
  "a URL's password": (t) => `postgres://kc:${t}@db:5432/kc`,
  "a setting": (t) => `SOMETHING=${t}`
}

/** Keys as the README lists them: secret by a substring or by a part's ending, and look-alikes that are not. */
const SECRET_KEYS = [
  "DB_PASSWORD",
  "ADMINPASSWORD",
  "SMTP_PASSWD",
  "GPG_PASSPHRASE",
  "GITHUBTOKEN",
  "CLIENT_SECRET",
  "AWS_CREDENTIALS",
  "PRIVATE_KEY_FILE",
  "MAPS_APIKEY",
  "SENTRY_DSN",
  "DB_PASS",
  "ROOT_PWD",
  "LDAP_BIND_PW",
  "ACCESSKEY",
  "SMTP_AUTH",
  "TLS_CERT",
  "HASH_SALT",
  "db_password"
]
const PLAIN_KEYS = ["KEYCLOAK_ADMIN", "PASSAGE", "AUTHOR", "SECRET_DB_PASSWORD_VERSION", "DOMAIN", "LETS_ENCRYPT_ENV"]

describe("redaction sweep", () => {
  it("a known secret value in every form and place is replaced; every secret key's value is, no other", () => {
    const failures: Array<string> = []
    let cases = 0
    const book = new Redactor([VALUE])
    for (const [form, of] of Object.entries(FORMS)) {
      for (const [place, at] of Object.entries(PLACES)) {
        cases++
        const out = book.text(at(of(VALUE)))
        if (out.includes(of(VALUE)) || !out.includes(REDACTED)) failures.push(`${form} in ${place}: ${out}`)
      }
    }
    // Keys, with a value no env file taught: the key alone decides.
    const none = new Redactor([])
    const value = "zq8-unlisted-Value"
    for (const key of [...SECRET_KEYS, ...PLAIN_KEYS]) {
      const secret = isSecretKey(key)
      if (secret !== SECRET_KEYS.includes(key)) failures.push(`${key}: isSecretKey says ${secret}`)
      for (const line of [`${key}=${value}`, `${key}: ${value}`]) {
        cases++
        const out = none.text(`app=kc ${line} next=1`)
        if (secret ? out.includes(value) : out !== `app=kc ${line} next=1`) failures.push(`${line}: ${out}`)
      }
    }
    // A URL's password, whatever it is.
    for (const url of ["https://ops:hunter2-x@relay.example.org/hook", "smtp://u:p%40ss-word@mail:587"]) {
      cases++
      const password = url.split("://")[1]!.split("@")[0]!.split(":")[1]!
      if (none.text(url).includes(password)) failures.push(`${url}: ${none.text(url)}`)
    }
    console.log(`redaction sweep: ${cases} cases, ${cases - failures.length} held`)
    Figures.record("redaction-sweep", { cases, held: cases - failures.length })
    expect(failures).toEqual([])
    expect(cases).toBe(
      Object.keys(FORMS).length * Object.keys(PLACES).length + 2 * (SECRET_KEYS.length + PLAIN_KEYS.length) + 2
    )
  })
})
