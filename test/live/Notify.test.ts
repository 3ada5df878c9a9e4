/**
 * Every live channel against a real local server on 127.0.0.1 that implements its endpoint as the
 * public documentation describes (test/support/notifyServers.ts): an alert written to the outbox
 * reaches the channel once, with the title and body of the message, the secret of the channel
 * taken from a file or an environment variable, and no secret value of the apps' env files;
 * recorded, it is not sent again; a channel that is down gets it from the next delivery.
 */
import { FileSystem } from "@effect/platform"
import { NodeContext, NodeHttpClient } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Schedule } from "effect"
import * as Path from "node:path"
import { Alert, ALERT_SCHEMA_VERSION } from "../../src/domain/Alert.js"
import { matrixTxnId } from "../../src/domain/ChannelRequest.js"
import * as Message from "../../src/domain/Message.js"
import { NotifyChannel } from "../../src/domain/Notify.js"
import * as LiveAlerts from "../../src/live/Alerts.js"
import * as LiveNotifier from "../../src/live/Notifier.js"
import { Redaction, SecretBook } from "../../src/live/Redaction.js"
import { deliverOutbox } from "../../src/reconcile/Deliver.js"
import { Notifier } from "../../src/services/Notifier.js"
import { tempDir } from "../support/files.js"
import { HTTP_CASES, notifyServer, smtpServer } from "../support/notifyServers.js"

/** A secret value of an app's env file: it must never reach a channel. */
const APP_SECRET = "s3cr3t-db-pa55word"
const TITLE = "[warm-reconcile] srv1: keycloak rolled back 1.2.0+1.2 -> 1.1.0+1.1"

const rollback = new Alert({
  schemaVersion: ALERT_SCHEMA_VERSION,
  app: "keycloak",
  reason: "rollback",
  ts: "20261125T201535Z",
  fields: {
    last_good: "1.1.0+1.1",
    attempted: "1.2.0+1.2",
    recovered: true,
    cause: `health gate failed: the app logged DB_URL=postgres://kc:${APP_SECRET}@db and died`,
    release_notes: "Keycloak 1.2: new login theme.\n",
    snapshot_version: "1.1.0+1.1"
  }
})

/** A state dir with the rollback alert in its outbox, and the notifier over `channels`. */
const setup = (
  channels: ReadonlyArray<ConstructorParameters<typeof NotifyChannel>[0]>,
  env: Record<string, string> = {}
) =>
  Effect.gen(function*() {
    const stateDir = yield* tempDir("warm-reconcile-notify-")
    const id = Path.basename(yield* LiveAlerts.write(stateDir, rollback), ".json")
    const book = new SecretBook()
    book.learn([APP_SECRET])
    const layer = LiveNotifier.layer({ stateDir, channels: channels.map((c) => new NotifyChannel(c)), env }).pipe(
      Layer.provide(Layer.mergeAll(NodeHttpClient.layerUndici, Layer.succeed(Redaction, book), NodeContext.layer))
    )
    const deliver = deliverOutbox({ host: "srv1", stateDir, retry: Schedule.recurs(0), attemptTimeout: "10 seconds" })
      .pipe(Effect.provide(layer))
    return { stateDir, id, layer, deliver }
  })

/** A secret in a file of its own, as `secretFile` names it. */
const secretFile = (secret: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const dir = yield* tempDir("warm-reconcile-secret-")
    const path = Path.join(dir, "secret")
    yield* fs.writeFileString(path, `${secret}\n`)
    return path
  })

describe("live notification channels, each against a local server", () => {
  for (const c of HTTP_CASES) {
    it.scopedLive(`${c.kind}: delivered once with its title and body, the secret from a file, no app secret`, () =>
      Effect.gen(function*() {
        const server = yield* notifyServer(c.kind, { secret: c.secret })
        const { deliver, id, stateDir } = yield* setup([{
          url: c.url(server.port),
          secretFile: yield* secretFile(c.secret)
        }])
        const first = yield* deliver
        expect(first.failed).toEqual([])
        expect(first.delivered).toEqual([{ id, channel: c.kind }])
        expect(server.accepted).toHaveLength(1)
        const received = server.accepted[0]!
        const text = c.text(received.json)
        expect(text).toContain(TITLE)
        expect(text).toContain("health gate failed")
        expect(text).toContain("Keycloak 1.2: new login theme.")
        expect(received.body).not.toContain(APP_SECRET)
        expect(received.body).toContain("[redacted]")
        // Recorded: the next delivery sends nothing.
        const fs = yield* FileSystem.FileSystem
        expect(yield* fs.exists(Path.join(LiveNotifier.deliveriesDir(stateDir), `${id}.${c.kind}.json`))).toBe(true)
        const second = yield* deliver
        expect(second.delivered).toEqual([])
        expect(server.accepted).toHaveLength(1)
      }).pipe(Effect.provide(NodeContext.layer)))

    it.scopedLive(`${c.kind}: a wrong secret is refused; the error names the channel, not the secret`, () =>
      Effect.gen(function*() {
        const server = yield* notifyServer(c.kind, { secret: c.secret })
        const wrong = `${c.kind === "slack" || c.kind === "discord" ? "1/" : ""}wrong-secret-value`
        const { deliver } = yield* setup([{ url: c.url(server.port), secretEnv: "WR_SECRET" }], { WR_SECRET: wrong })
        const report = yield* deliver
        expect(server.accepted).toEqual([])
        expect(report.failed).toHaveLength(1)
        expect(report.failed[0]!.error).toMatch(new RegExp(`^${c.kind}: (POST|PUT) 127\\.0\\.0\\.1:`))
        expect(report.failed[0]!.error).toMatch(/answered (401|403|404)/)
        expect(report.failed[0]!.error).not.toContain("wrong-secret-value")
      }).pipe(Effect.provide(NodeContext.layer)))
  }

  it.scopedLive("ntfy down: nothing recorded, and the next delivery (a later run, or `notify`) sends it", () =>
    Effect.gen(function*() {
      const server = yield* notifyServer("ntfy", { secret: "tok" })
      const { deliver, id } = yield* setup([{
        url: `ntfy://127.0.0.1:${server.port}/alerts?disabletls=yes`,
        secretEnv: "T"
      }], { T: "tok" })
      server.down = 503
      const failed = yield* deliver
      expect(failed.failed.map((f) => f.id)).toEqual([id])
      expect(failed.failed[0]!.error).toContain("answered 503")
      server.down = undefined
      const later = yield* deliver
      expect(later.delivered).toEqual([{ id, channel: "ntfy" }])
      expect(server.accepted).toHaveLength(1)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scopedLive("matrix: a send repeated before its record (a crash in between) posts one event, not two", () =>
    Effect.gen(function*() {
      const server = yield* notifyServer("matrix", { secret: "tok" })
      const { id, layer } = yield* setup([{
        url: `matrix://:tok@127.0.0.1:${server.port}/?room=!room:example.org&disabletls=yes`
      }])
      const message = Message.fromAlert(id, rollback, { host: "srv1", stateDir: "/var/lib/warm-reconcile" })
      yield* Effect.flatMap(Notifier, (n) => Effect.zipRight(n.send("matrix", message), n.send("matrix", message)))
        .pipe(
          Effect.provide(layer)
        )
      expect(server.requests.filter((r) => r.status === 200)).toHaveLength(2)
      expect(server.accepted).toHaveLength(1)
      expect(server.accepted[0]!.path).toContain(encodeURIComponent(matrixTxnId(id)))
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scopedLive("smtp: STARTTLS and auth; the mail has the subject, the body and the recipients", () =>
    Effect.gen(function*() {
      const smtp = yield* smtpServer("warm", "mail-password")
      const url = `smtp://warm@127.0.0.1:${smtp.port}/?from=warm@example.org&to=ops@example.org,admin@example.org` +
        "&tlsverify=no"
      const { deliver, id } = yield* setup([{ url, secretFile: yield* secretFile("mail-password") }])
      const report = yield* deliver
      expect(report.failed).toEqual([])
      expect(report.delivered).toEqual([{ id, channel: "smtp" }])
      expect(smtp.mails).toHaveLength(1)
      const mail = smtp.mails[0]!
      expect(mail.secured).toBe(true)
      expect(mail.user).toBe("warm")
      expect(mail.from).toBe("warm@example.org")
      expect(mail.to).toEqual(["ops@example.org", "admin@example.org"])
      expect(mail.raw).toContain(`Subject: ${TITLE}`)
      expect(mail.raw).toContain("What happened: The upgrade to 1.2.0+1.2 failed")
      expect(mail.raw).toContain("Next step:")
      expect(mail.raw).not.toContain(APP_SECRET)
      expect((yield* deliver).delivered).toEqual([])
      expect(smtp.mails).toHaveLength(1)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scopedLive("smtp: a wrong password and an unverifiable certificate are refused, and said so", () =>
    Effect.gen(function*() {
      const smtp = yield* smtpServer("warm", "mail-password")
      const base = `smtp://warm@127.0.0.1:${smtp.port}/?from=warm@example.org&to=ops@example.org`
      const wrong = yield* setup([{ url: `${base}&tlsverify=no`, secretEnv: "P" }], { P: "not-the-password" })
      const refused = yield* wrong.deliver
      expect(refused.failed[0]!.error).toMatch(/^smtp: smtp 127\.0\.0\.1:\d+: .*(535|auth)/i)
      expect(refused.failed[0]!.error).not.toContain("not-the-password")
      // Verified by default: the test server's self-signed certificate is not trusted.
      const verified = yield* setup([{ url: base, secretEnv: "P" }], { P: "mail-password" })
      const untrusted = yield* verified.deliver
      expect(untrusted.failed[0]!.error).toMatch(/certificate/i)
      expect(smtp.mails).toEqual([])
    }).pipe(Effect.provide(NodeContext.layer)))
})
