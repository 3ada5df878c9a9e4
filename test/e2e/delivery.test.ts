/**
 * Issue 16 on a real Docker engine and Swarm: the alerts of a real rollback reach the operator's
 * channels, each a local server on 127.0.0.1 that implements its endpoint as documented (Matrix,
 * ntfy, Gotify, Slack, Mattermost, Discord, a signed generic webhook) and a real SMTP server with
 * STARTTLS and auth. Through the shipped CLI with the fake abra in real-deploy mode:
 *   - a broken release produces exactly one message on each channel, with the rollback's cause and
 *     the release notes; a channel down during the run gets its message from `notify` afterwards;
 *   - kill -9 of `notify` right after the first channel accepted, before its delivery is recorded
 *     (the channels are sent side by side: others may be in the same window): after an undisturbed
 *     `notify`, every channel got the message at most twice, Matrix once (its transaction id is
 *     derived from the alert), and nothing is pending.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { stackName } from "../../src/domain/Config.js"
import { BUNDLE, ROOT } from "../support/bundle.js"
import { type AbraWorld, makeAbraWorld } from "../support/fakeAbra.js"
import { HTTP_CASES, type NotifyServer, notifyServer, smtpServer } from "../support/notifyServers.js"
import { publish, V } from "./recipe.js"
import { reporter, session } from "./session.js"
import { enabled, endSuite, freePort, seconds, stackOf, writeE2eConfig } from "./support.js"

const APP = "deliv"
const DOMAIN = "deliv.e2e.example.org"
const stack = stackOf(stackName(DOMAIN))
const SMTP_USER = "warm"
const SMTP_PASSWORD = "smtp-pa55word"

let world: AbraWorld
let config = ""
let writeConfig: (healthTimeout: string) => void = () => {}
let port = 0
const scope = Effect.runSync(Scope.make())

/** Every channel: its name in the config and what it has accepted so far. */
interface Channel {
  readonly name: string
  readonly accepted: () => number
  /** The text of what it accepted, in order. */
  readonly texts: () => ReadonlyArray<string>
  readonly server: { onAccepted: (() => void) | undefined }
  readonly down?: (status: number | undefined) => void
  /** Requests the endpoint got, accepted or not. */
  readonly requests?: () => number
}
const channels: Array<Channel> = []
const secrets: Record<string, string> = {}

const app = session({ world: () => world, app: APP, config: () => config, env: secrets })
const { lines: report, say } = reporter()

/** `warm-reconcile notify`, as the timer runs it; `onSpawn` sees the child. */
const notify = (onSpawn?: (child: ChildProcess.ChildProcess) => void) =>
  new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) => {
    const child = ChildProcess.spawn(process.execPath, [BUNDLE, "notify", "--config", config], {
      cwd: ROOT,
      env: app.env()
    })
    onSpawn?.(child)
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d) => stdout += d)
    child.stderr.on("data", (d) => stderr += d)
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }))
  })

const counts = () => Object.fromEntries(channels.map((c) => [c.name, c.accepted()]))

describe.skipIf(!enabled)("alert delivery from a real rollback", () => {
  beforeAll(async () => {
    if (stack.leftovers().length > 0) await stack.remove()
    world = makeAbraWorld()
    Fs.mkdirSync(Path.join(world.root, "state"), { recursive: true })
    port = await freePort()
    config = Path.join(world.root, "config.json")
    const notifyEntries: Array<Record<string, unknown>> = []
    for (const c of HTTP_CASES) {
      const server: NotifyServer = await Effect.runPromise(
        Scope.extend(notifyServer(c.kind, { secret: c.secret }), scope)
      )
      const env = `E2E_${c.kind.toUpperCase()}_SECRET`
      secrets[env] = c.secret
      notifyEntries.push({ name: c.kind, url: c.url(server.port), secretEnv: env })
      channels.push({
        name: c.kind,
        accepted: () => server.accepted.length,
        texts: () => server.accepted.map((r) => c.text(r.json)),
        server,
        down: (status) => server.down = status,
        requests: () => server.requests.length
      })
    }
    const smtp = await Effect.runPromise(Scope.extend(smtpServer(SMTP_USER, SMTP_PASSWORD), scope))
    secrets["E2E_SMTP_SECRET"] = SMTP_PASSWORD
    notifyEntries.push({
      name: "mail",
      url: `smtp://${SMTP_USER}@127.0.0.1:${smtp.port}/?from=warm@example.org&to=ops@example.org&tlsverify=no`,
      secretEnv: "E2E_SMTP_SECRET"
    })
    channels.push({
      name: "mail",
      accepted: () => smtp.mails.length,
      // The body as a reader sees it: quoted-printable's soft line breaks joined.
      texts: () => smtp.mails.map((m) => m.raw.replace(/=\r?\n/g, "")),
      server: smtp,
      down: (status) => smtp.down = status !== undefined
    })
    writeConfig = (healthTimeout) => {
      writeE2eConfig({ file: config, world, app: APP, domain: DOMAIN, port, healthTimeout })
      const json = JSON.parse(Fs.readFileSync(config, "utf8"))
      Fs.writeFileSync(config, JSON.stringify({ ...json, notify: notifyEntries }))
    }
    // Room for a fresh deploy on an engine the other e2e files keep busy (once unhealthy at 15 s).
    writeConfig("90 seconds")
  })

  afterAll(async () => {
    try {
      await Effect.runPromise(Scope.close(scope, Exit.void))
    } finally {
      await endSuite({ stacks: [stack], world, summary: { title: "E2E delivery summary", lines: report } })
    }
  })

  it("a broken release: one message per channel with the cause and the notes; a channel down gets it from notify", async () => {
    publish(world.recipesSource, port, [V.migrates])
    const fresh = await app.reconcile()
    expect(app.result(fresh), fresh.stderr).toBe(`RECONCILE RESULT: deployed-fresh:${V.migrates}`)
    // A fresh deploy is no alert: nothing sent.
    expect(Object.values(counts())).toEqual(channels.map(() => 0))

    // The broken release waits out the whole deadline: short from here on.
    writeConfig("15 seconds")
    const ntfy = channels.find((c) => c.name === "ntfy")!
    ntfy.down!(503)
    publish(world.recipesSource, port, [V.broken])
    const run = await app.reconcile(undefined, config)
    ntfy.down!(undefined)
    say(
      `(delivery a) ${app.result(run)} in ${seconds(run.endedAt - run.startedAt)}; accepted ${JSON.stringify(counts())}`
    )
    expect(app.result(run), run.stderr).toBe(`RECONCILE RESULT: rolled-back:${V.broken}->${V.migrates}`)
    // The channel that failed changed nothing of the outcome or the exit code.
    expect(run.code).toBe(0)
    for (const c of channels) {
      expect(c.accepted(), c.name).toBe(c.name === "ntfy" ? 0 : 1)
      if (c.name === "ntfy") continue
      const text = c.texts()[0]!
      expect(text, c.name).toContain(`rolled back`)
      expect(text, c.name).toContain("Schema 2 (migrates /data/db.txt forward).")
      expect(text, c.name).toMatch(/health/i)
    }
    const later = await notify()
    say(
      `(delivery a) notify afterwards: ${later.stdout.trim().split("\n").at(-1)}; accepted ${JSON.stringify(counts())}`
    )
    expect(later.code, later.stderr).toBe(0)
    expect(counts()).toEqual(Object.fromEntries(channels.map((c) => [c.name, 1])))
    expect(ntfy.texts()[0]).toContain("Schema 2 (migrates /data/db.txt forward).")
  })

  it("kill -9 between a channel's acceptance and its record: at most one repeat, none on Matrix", async () => {
    // Another alert for the outbox, delivered nowhere yet: retry the held release (it fails
    // again) while every channel is down.
    Fs.rmSync(app.stateFile(APP, "hold.json"))
    for (const c of channels) c.down?.(503)
    const run = await app.reconcile()
    for (const c of channels) c.down?.(undefined)
    expect(app.result(run), run.stderr).toBe(`RECONCILE RESULT: rolled-back:${V.broken}->${V.migrates}`)
    const before = counts()
    // Killed right after Matrix accepted: the other channels, sent side by side, may be in the
    // same window between acceptance and record.
    const matrix = channels.find((c) => c.name === "matrix")!
    const matrixPuts = () => matrix.requests!()
    const putsBefore = matrixPuts()
    const killed = await notify((child) => {
      matrix.server.onAccepted = () => child.kill("SIGKILL")
    })
    matrix.server.onAccepted = undefined
    expect(killed.signal).toBe("SIGKILL")
    const inKilled = Object.fromEntries(channels.map((c) => [c.name, c.accepted() - before[c.name]!]))
    const last = await notify()
    expect(last.code, last.stderr).toBe(0)
    const sent = Object.fromEntries(channels.map((c) => [c.name, c.accepted() - before[c.name]!]))
    say(
      `(delivery b) killed after Matrix accepted; accepted in the killed run ${JSON.stringify(inKilled)}, ` +
        `in all ${JSON.stringify(sent)}`
    )
    for (const c of channels) {
      expect(sent[c.name], c.name).toBeGreaterThanOrEqual(1)
      expect(sent[c.name], c.name).toBeLessThanOrEqual(c.name === "matrix" ? 1 : 2)
    }
    // Matrix was sent the message again (its acceptance was never recorded), under the same
    // transaction id: the server answered with the first event, no second message.
    expect(matrixPuts() - putsBefore).toBe(2)
    const listed = ChildProcess.spawnSync(process.execPath, [BUNDLE, "alerts", "--json", "--config", config], {
      cwd: ROOT,
      env: app.env(),
      encoding: "utf8"
    })
    expect(listed.stdout).not.toContain("pending")
  })
})
