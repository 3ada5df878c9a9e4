/**
 * Redaction as README.md promises it: which keys name a secret, a secret value in every form it
 * shows in, passwords inside URLs, and one pass over any text (inputs on which the old regular
 * expression was quadratic finish within the test's time limit).
 */
import { describe, expect, it } from "@effect/vitest"
import { isSecretKey, REDACTED, Redactor } from "../../src/domain/Redaction.js"

describe("Redaction: secret keys", () => {
  it("names a secret by substring (any case) or by a short word ending a part of the key", () => {
    const secret = [
      "ADMINPASSWORD",
      "GITHUBTOKEN",
      "LDAP_BIND_PW",
      "ADMINPW",
      "PASSPHRASE",
      "SENTRY_DSN",
      "DSN",
      "db_password",
      "DbPassWord",
      "SMTP_PASS",
      "DBPASS",
      "API_KEY",
      "ACCESSKEY",
      "SECRET_KEY_BASE",
      "OIDC_CLIENT_SECRET",
      "BASIC_AUTH",
      "TLS_CERT",
      "PRIVATE_KEY_PEM",
      "AWS_CREDENTIALS",
      "MYSQL_PWD"
    ]
    for (const key of secret) expect(isSecretKey(key), key).toBe(true)
    const plain = ["SECRET_ADMIN_PASSWORD_VERSION", "KEYCLOAK_ADMIN", "PASSAGE", "AUTHOR", "DOMAIN", "TYPE"]
    for (const key of plain) expect(isSecretKey(key), key).toBe(false)
  })
})

describe("Redaction: values", () => {
  const value = "hunter2/sekret+x"
  const redactor = new Redactor([value, "true", "v1"])

  it("scrubs a value as it is, JSON-escaped, URL-encoded, base64, base64url, upper- and lower-cased", () => {
    const forms = [
      value,
      encodeURIComponent(value),
      Buffer.from(value).toString("base64"),
      Buffer.from(value).toString("base64").replace(/=+$/, ""),
      Buffer.from(value).toString("base64url"),
      value.toUpperCase(),
      value.toLowerCase()
    ]
    for (const form of forms) {
      const out = redactor.text(`said ${form} then`)
      expect(out, form).toBe(`said ${REDACTED} then`)
    }
    expect(redactor.text(JSON.stringify({ said: "a \"quoted\" hunter2/sekret+x" }))).not.toContain("hunter2")
  })

  it("leaves values too common or too short to be anyone's secret", () => {
    expect(redactor.text("enabled: true, version v1")).toBe("enabled: true, version v1")
  })

  it("scrubs the password of a URL, keeps the rest of it", () => {
    const none = new Redactor([])
    expect(none.text("DATABASE_URL postgres://app:s3cr3t@db:5432/app and https://example.org/a:b@c")).toBe(
      `DATABASE_URL postgres://app:${REDACTED}@db:5432/app and https://example.org/a:b@c`
    )
    expect(none.text("smtp://user@mail:587 ok")).toBe("smtp://user@mail:587 ok")
    expect(none.text("a://:p@h")).toBe(`a://:${REDACTED}@h`)
  })

  it("scrubs assignments whose key names a secret, in env, YAML, JSON and logfmt forms", () => {
    const none = new Redactor([])
    expect(none.text("ADMINPASSWORD=abc LDAP_BIND_PW='x y' SENTRY_DSN: \"https://k@s/1\" DOMAIN=a.org")).toBe(
      `ADMINPASSWORD=${REDACTED} LDAP_BIND_PW=${REDACTED} SENTRY_DSN: ${REDACTED} DOMAIN=a.org`
    )
    expect(none.text("said: DB_PASSWORD=x, -API_KEY=y")).toBe(`said: DB_PASSWORD=${REDACTED}, -API_KEY=${REDACTED}`)
    expect(none.text("{\"password\": \"p\", \"user\": \"u\"}")).toBe(`{"password": ${REDACTED}, "user": "u"}`)
    expect(none.text("PASSWORD:\nnext")).toBe("PASSWORD:\nnext")
  })
})

describe("Redaction: one pass over any text", () => {
  // Each took the regular expression seconds to minutes at this size (400 KB: 97 s); here each is
  // one linear pass, well inside the test's time limit.
  const size = 400_000
  const inputs = {
    "key characters without an assignment": "a.".repeat(size / 2),
    "a chain of assignments": "a=".repeat(size / 2),
    "a chain of secret assignments": "PASSWORD=".repeat(size / 9),
    "many schemes without a host end": "x://".repeat(size / 4),
    "one long authority": "x://" + "u:".repeat(size / 2),
    "a long quoted value never closed": "TOKEN=\"" + "a".repeat(size)
  }
  for (const [name, text] of Object.entries(inputs)) {
    it(name, () => {
      const out = new Redactor(["hunter2-sekret"]).text(text)
      expect(out.length).toBeGreaterThan(0)
      expect(out).not.toContain("hunter2")
    }, 10_000)
  }

  it("10 MB of log text with secrets in it comes out scrubbed", () => {
    const line = "level=info app=kc DB_PASSWORD=hunter2-sekret url=postgres://u:hunter2-sekret@db/x note=ok\n"
    const text = line.repeat(Math.ceil(10_000_000 / line.length))
    const out = new Redactor(["hunter2-sekret"]).text(text)
    expect(out).not.toContain("hunter2")
    expect(out.split(REDACTED).length - 1).toBe(2 * Math.ceil(10_000_000 / line.length))
  }, 20_000)
})
