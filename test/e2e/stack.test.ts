/**
 * Issue 15 on a real Docker engine and Swarm: the health gate judges the new release across the
 * whole stack. A stateless two-service recipe (test/e2e/stackRecipe.ts) whose old `app` task keeps
 * answering during its grace period; the shipped CLI with the fake abra in real-deploy mode.
 * Each case publishes one more version and runs `reconcile` once:
 *   - a healthy upgrade ends with the new version answering (its body checked);
 *   - a release whose `/health` is 404 is rolled back although the old task answered 200 after the
 *     deploy, and last-good never names it;
 *   - a release whose `worker` crash-loops while `app` answers 200 is rolled back, the alert naming
 *     the worker;
 *   - a release whose Docker healthcheck never passes, with no HTTP health configured, is rolled back;
 *   - a release with `failure_action: rollback` that fails: Swarm rolls it back first, then ours runs,
 *     and the outcome says so.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Path from "node:path"
import { stackName } from "../../src/domain/Config.js"
import { type AbraWorld, makeAbraWorld } from "../support/fakeAbra.js"
import { reporter, session } from "./session.js"
import { GRACE_SECONDS, publishStack, S, STACK_RECIPE } from "./stackRecipe.js"
import { docker, enabled, endSuite, freePort, httpStatus, seconds, sleep, stackOf, writeE2eConfig } from "./support.js"

const APP = "stack"
const DOMAIN = "stack.e2e.example.org"
const STACK = stackName(DOMAIN)
const stack = stackOf(STACK)

let world: AbraWorld
let port = 0
let config = ""

const app = session({ world: () => world, app: APP, config: () => config })
const { alerts, lastGood, readAlert, reconcile, result, stateFile, steps } = app
const { lines: report, say } = reporter()

/** The suite's config: one stateless app of the stack recipe; `http: false` leaves Swarm's verdict alone. */
const writeConfig = (healthTimeout: string, http = true) => {
  writeE2eConfig({ file: config, world, app: APP, recipe: STACK_RECIPE, domain: DOMAIN, port, healthTimeout })
  const json = JSON.parse(Fs.readFileSync(config, "utf8"))
  json.apps[APP] = { ...json.apps[APP], stateful: false, health: { ...json.apps[APP].health, http } }
  Fs.writeFileSync(config, JSON.stringify(json))
}

/** One GET of `/version`: the body, or the error. */
const versionAnswer = () =>
  new Promise<string>((resolve) => {
    const req = Http.get(`http://127.0.0.1:${port}/version`, { agent: false, timeout: 1_000 }, (res) => {
      let body = ""
      res.on("data", (d) => body += d)
      res.on("end", () => resolve(`${res.statusCode} ${body.trim()}`))
    })
    req.on("timeout", () => req.destroy(new Error("timeout")))
    req.on("error", (e) => resolve((e as NodeJS.ErrnoException).code ?? e.message))
  })

/** Polls `/version` in the background: who answered, and when. */
const watchVersions = () => {
  const seen: Array<{ at: number; answer: string }> = []
  let stopped = false
  const loop = (async () => {
    while (!stopped) {
      seen.push({ at: Date.now(), answer: await versionAnswer() })
      await sleep(100)
    }
  })()
  return {
    seen,
    stop: async () => {
      stopped = true
      await loop
    }
  }
}

const serviceVersion = (service: string) =>
  docker([
    "service",
    "inspect",
    `${STACK}_${service}`,
    "--format",
    `{{index .Spec.Labels "coop-cloud.${STACK}.version"}}`
  ])
    .trim()

const lastRollback = () => {
  const file = alerts().filter((f) => f.endsWith(`-${APP}-rollback.json`)).at(-1)
  expect(file).toBeDefined()
  return readAlert(file!)
}

/** Every last-good value the state directory held: the file now, and none of the failed releases. */
const neverLastGood = (tag: string) => {
  expect(lastGood()).not.toBe(tag)
  expect(Fs.readFileSync(stateFile(APP, "last_good"), "utf8")).not.toContain(tag)
}

describe.skipIf(!enabled)("the whole-stack health gate on a real Docker engine and Swarm", () => {
  beforeAll(async () => {
    expect(docker(["info", "--format", "{{.Swarm.LocalNodeState}}"]).trim()).toBe("active")
    if (stack.leftovers().length > 0) await stack.remove()
    world = makeAbraWorld()
    Fs.mkdirSync(Path.join(world.root, "state"), { recursive: true })
    port = await freePort()
    config = Path.join(world.root, "config.json")
    writeConfig("40 seconds")
  })

  afterAll(async () => {
    await endSuite({ stacks: [stack], world, summary: { title: "E2E stack summary", lines: report } })
  })

  it("deploys 1.0.0 of the two-service stack fresh", async () => {
    publishStack(world.recipesSource, port, [S.base])
    const run = await reconcile()
    say(`(stack a) ${result(run)} in ${seconds(run.endedAt - run.startedAt)}`)
    expect(result(run), run.stderr).toBe(`RECONCILE RESULT: deployed-fresh:${S.base}`)
    expect(await versionAnswer()).toBe("200 1.0.0")
    expect(serviceVersion("worker")).toBe(S.base)
  })

  it("a healthy upgrade ends with the new version answering, the old task's answers during its grace not counted", async () => {
    publishStack(world.recipesSource, port, [S.next])
    const versions = watchVersions()
    const run = await reconcile().finally(() => versions.stop())
    const deployedAt = app.deployOf(run.startedAt, S.next)?.endedAt ?? Infinity
    const oldAfter = versions.seen.filter((s) => s.at > deployedAt && s.answer === "200 1.0.0")
    say(
      `(stack b) ${result(run)} in ${seconds(run.endedAt - run.startedAt)}; 1.0.0 still answered ` +
        `${oldAfter.length} times after the deploy returned (grace ${GRACE_SECONDS} s)`
    )
    expect(result(run), run.stderr).toBe(`RECONCILE RESULT: upgraded:${S.base}->${S.next}`)
    expect(run.code).toBe(0)
    // Stateless: deployed over the running stack, never undeployed.
    expect(steps(run.startedAt)).toEqual([["deploy", S.next]])
    expect(await versionAnswer()).toBe("200 1.1.0")
    expect(serviceVersion("app")).toBe(S.next)
    expect(serviceVersion("worker")).toBe(S.next)
    expect(lastGood()).toBe(S.next)
  })

  it("a release answering 404 is rolled back although the old task answered 200 after its deploy", async () => {
    publishStack(world.recipesSource, port, [S.notFound])
    const versions = watchVersions()
    const run = await reconcile().finally(() => versions.stop())
    const deployedAt = app.deployOf(run.startedAt, S.notFound)?.endedAt ?? Infinity
    const oldOk = versions.seen.filter((s) => s.at > deployedAt && s.answer === "200 1.1.0")
    const newAnswered = versions.seen.some((s) => s.answer === "200 1.2.0")
    say(
      `(stack c) ${result(run)} in ${seconds(run.endedAt - run.startedAt)}; 1.1.0 answered ${oldOk.length} ` +
        `times after the 1.2.0 deploy returned; 1.2.0 answered: ${newAnswered}`
    )
    expect(result(run), run.stderr).toBe(`RECONCILE RESULT: rolled-back:${S.notFound}->${S.next}`)
    expect(run.code).toBe(0)
    // The case is only worth its name when the old task did answer 200 after the deploy.
    expect(oldOk.length).toBeGreaterThan(0)
    expect(newAnswered).toBe(true)
    neverLastGood(S.notFound)
    expect(lastGood()).toBe(S.next)
    expect(lastRollback()).toMatchObject({ attempted: S.notFound, last_good: S.next })
    expect(await versionAnswer()).toBe("200 1.1.0")
  })

  it("a crash-looping worker is rolled back while app answers 200; the alert names the worker", async () => {
    publishStack(world.recipesSource, port, [S.workerCrashes])
    const run = await reconcile()
    say(`(stack d) ${result(run)} in ${seconds(run.endedAt - run.startedAt)}`)
    expect(result(run), run.stderr).toBe(`RECONCILE RESULT: rolled-back:${S.workerCrashes}->${S.next}`)
    expect(run.code).toBe(0)
    const alert = lastRollback()
    expect(alert).toMatchObject({ attempted: S.workerCrashes, last_good: S.next })
    expect(alert.cause).toContain(`${STACK}_worker`)
    neverLastGood(S.workerCrashes)
    expect(serviceVersion("worker")).toBe(S.next)
    expect(await versionAnswer()).toBe("200 1.1.0")
  })

  it("a Docker healthcheck that never passes, with no HTTP health configured: rolled back", async () => {
    writeConfig("40 seconds", false)
    publishStack(world.recipesSource, port, [S.unhealthy])
    const run = await reconcile()
    say(`(stack e) ${result(run)} in ${seconds(run.endedAt - run.startedAt)}`)
    expect(result(run), run.stderr).toBe(`RECONCILE RESULT: rolled-back:${S.unhealthy}->${S.next}`)
    expect(run.code).toBe(0)
    // Swarm replaces a container that turns unhealthy; the failed task pauses the update (the
    // default failure_action), which fails the gate at once. Either verdict is the healthcheck's.
    expect(lastRollback().cause).toMatch(/Swarm paused the update of \S+_app|container unhealthy/)
    neverLastGood(S.unhealthy)
    expect(serviceVersion("app")).toBe(S.next)
    expect(await httpStatus(`http://127.0.0.1:${port}/health`)).toBe(200)
  })

  it("a recipe with failure_action: rollback: Swarm rolls back first, ours runs, the outcome says so", async () => {
    writeConfig("40 seconds")
    publishStack(world.recipesSource, port, [S.swarmRollsBack])
    const run = await reconcile()
    say(`(stack f) ${result(run)} in ${seconds(run.endedAt - run.startedAt)}`)
    expect(result(run), run.stderr).toBe(`RECONCILE RESULT: rolled-back:${S.swarmRollsBack}->${S.next}`)
    expect(run.code).toBe(0)
    // Ours ran after Swarm's: the last-good release deployed again.
    expect(steps(run.startedAt)).toEqual([["deploy", S.swarmRollsBack], ["deploy", S.next]])
    expect(lastRollback().cause).toMatch(/Swarm rolled? ?back|rollback/i)
    expect(run.stdout + run.stderr).toMatch(/Swarm roll/i)
    neverLastGood(S.swarmRollsBack)
    expect(serviceVersion("app")).toBe(S.next)
    expect(await versionAnswer()).toBe("200 1.1.0")
  })
})
