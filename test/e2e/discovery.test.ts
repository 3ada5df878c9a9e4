/**
 * Issue 13 on a real Docker engine and Swarm: two apps of the e2e recipe that an operator created
 * and deployed by hand with abra, a config that lists no app and says `"discover": true`.
 *   - `reconcile --all` upgrades the app whose env file says `ENABLE_AUTO_UPDATE=true`, and does not
 *     touch the other (same container, same version);
 *   - SIGTERM during the upgrade's deploy rolls back (exit 143), holds nothing, and the next run
 *     upgrades to the same release.
 * Discovered apps take `defaults`; the health URL there is the opted-in app's port (the other one
 * listens on a port of its own and is never probed, as it is never managed).
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { stackName } from "../../src/domain/Config.js"
import { type AbraWorld, makeAbraWorld } from "../support/fakeAbra.js"
import { publish, RECIPE, V } from "./recipe.js"
import { reporter, session } from "./session.js"
import { docker, enabled, endSuite, freePort, httpStatus, seconds, sleep, stackOf } from "./support.js"

const OPTED = "optin.e2e.example.org"
const MANUAL = "manual.e2e.example.org"
const opted = stackOf(stackName(OPTED))
const manual = stackOf(stackName(MANUAL))

let world: AbraWorld
let config = ""
let optedPort = 0
let manualPort = 0

/** More environment for the CLI and, through it, the fake abra (its knobs). */
const knobs: Record<string, string> = {}
const app = session({ world: () => world, app: OPTED, target: "--all", config: () => config, env: knobs })
const { reconcile: reconcileAll, resultOf } = app
const { lines: report, say } = reporter()

/** `abra <args>` as the operator ran it, on this engine. */
const abraByHand = (args: ReadonlyArray<string>) => {
  const r = ChildProcess.spawnSync("abra", args, { env: app.env(), encoding: "utf8", timeout: 180_000 })
  expect(r.status, r.stderr).toBe(0)
}

const callsFor = (domain: string, since: number) => app.changes(since).filter((c) => c.argv.includes(domain))

describe.skipIf(!enabled)("discovery and opt-in on a real Docker engine and Swarm", () => {
  beforeAll(async () => {
    for (const s of [opted, manual]) if (s.leftovers().length > 0) await s.remove()
    world = makeAbraWorld()
    Fs.mkdirSync(Path.join(world.root, "state"), { recursive: true })
    Fs.mkdirSync(Path.join(world.abraDir, "servers", "default"), { recursive: true })
    optedPort = await freePort()
    manualPort = await freePort()
    publish(world.recipesSource, optedPort, [V.base])
    abraByHand(["recipe", "fetch", RECIPE, "-n"])
    for (const domain of [OPTED, MANUAL]) {
      abraByHand(["app", "new", RECIPE, V.base, "-s", "default", "-D", domain, "-o", "-n"])
    }
    // The operator's own edits: another port for the second app, and the opt-in for the first.
    const manualEnv = world.envFile(MANUAL)
    Fs.writeFileSync(
      manualEnv,
      Fs.readFileSync(manualEnv, "utf8").replace(/^HTTP_PORT=.*$/m, `HTTP_PORT=${manualPort}`)
    )
    Fs.appendFileSync(world.envFile(OPTED), "ENABLE_AUTO_UPDATE=true\n")
    for (const domain of [OPTED, MANUAL]) abraByHand(["app", "deploy", domain, V.base, "-o", "-n", "-f"])
    config = Path.join(world.root, "config.json")
    Fs.writeFileSync(
      config,
      JSON.stringify({
        stateDir: Path.join(world.root, "state"),
        abraDir: world.abraDir,
        discover: true,
        defaults: {
          stateful: true,
          deployTimeout: "3 minutes",
          health: {
            url: `http://127.0.0.1:${optedPort}/health`,
            timeout: "30 seconds",
            attemptTimeout: 2,
            interval: 0.25,
            successes: 2,
            settle: "30 seconds"
          }
        },
        apps: {}
      })
    )
    // `docker stack deploy` returns before the tasks run.
    for (const port of [optedPort, manualPort]) {
      const deadline = Date.now() + 120_000
      while (await httpStatus(`http://127.0.0.1:${port}/health`) !== 200 && Date.now() < deadline) await sleep(250)
      expect(await httpStatus(`http://127.0.0.1:${port}/health`)).toBe(200)
    }
  })

  afterAll(async () => {
    await endSuite({ stacks: [opted, manual], world, summary: { title: "E2E discovery summary", lines: report } })
  })

  it("SIGTERM during the opted-in app's deploy: rolled back, exit 143, the release not held", async () => {
    publish(world.recipesSource, optedPort, [V.migrates])
    const manualContainer = manual.runningContainer()
    // abra holds this deploy back 3 s (the fake's knob), so that the signal surely finds it at work.
    knobs["FAKE_ABRA_DEPLOY_DELAY_MS"] = "3000"
    let scheduled = false
    let signalledAt = 0
    const run = await reconcileAll((stderr, child) => {
      if (!scheduled && stderr.includes(`deploy ${V.migrates}`)) {
        scheduled = true
        setTimeout(() => {
          signalledAt = Date.now()
          child.kill("SIGTERM")
        }, 300)
      }
    }).finally(() => delete knobs["FAKE_ABRA_DEPLOY_DELAY_MS"])
    say(`(discovery a) exit ${run.code}: ${resultOf(run, OPTED)} in ${seconds(run.endedAt - run.startedAt)}`)
    expect(signalledAt).toBeGreaterThan(0)
    // The signal came while abra was deploying the release: the fake records a call when it ends,
    // and a deploy stopped by the interruption ends after the signal or is not recorded at all.
    const deploy = app.deployOf(run.startedAt, V.migrates)
    say(
      `(discovery a) the deploy of ${V.migrates} ${
        deploy === undefined ? "was stopped unrecorded" : `ended ${deploy.endedAt - signalledAt} ms after SIGTERM`
      }`
    )
    expect(deploy === undefined || deploy.endedAt > signalledAt).toBe(true)
    expect(run.code, run.stderr).toBe(143)
    expect(resultOf(run, OPTED)).toBe(`RECONCILE RESULT ${OPTED}: rolled-back:${V.migrates}->${V.base} (interrupted)`)
    expect(opted.version()).toBe(V.base)
    expect(await httpStatus(`http://127.0.0.1:${optedPort}/health`)).toBe(200)
    // A local interruption is not the release's fault: nothing held.
    expect(Fs.existsSync(app.stateFile(OPTED, "hold.json"))).toBe(false)
    // The other app: not managed, not touched.
    expect(callsFor(MANUAL, run.startedAt)).toEqual([])
    expect(manual.runningContainer()).toBe(manualContainer)
  })

  it("the next run upgrades the opted-in app to the same release, and leaves the other alone", async () => {
    const manualContainer = manual.runningContainer()
    const run = await reconcileAll()
    say(`(discovery b) exit ${run.code}: ${resultOf(run, OPTED)} in ${seconds(run.endedAt - run.startedAt)}`)
    expect(run.code, run.stderr).toBe(0)
    expect(resultOf(run, OPTED)).toBe(`RECONCILE RESULT ${OPTED}: upgraded:${V.base}->${V.migrates}`)
    expect(resultOf(run, MANUAL)).toBeUndefined()
    expect(opted.version()).toBe(V.migrates)
    expect(Fs.readFileSync(Path.join(opted.volumeDir(), "migrated-1.1"), "utf8")).toBe("migrated by 1.1.0\n")
    expect(manual.version()).toBe(V.base)
    expect(manual.runningContainer()).toBe(manualContainer)
    expect(callsFor(MANUAL, run.startedAt)).toEqual([])
    expect(docker(["service", "ls", "--format", "{{.Name}}"])).toContain(`${stackName(MANUAL)}_app`)
  })
})
