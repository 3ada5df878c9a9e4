/**
 * Figure 3: time to undo a crash-looping release on a real Docker engine and Swarm. The end-to-end
 * suite's machinery: test/e2e/engine.sh (dockerd offline, swarm on 127.0.0.1, a local busybox
 * image), its recipe (test/e2e/recipe.ts, whose 1.3.0 exits at start) and the fake abra in
 * real-deploy mode, with the suite's helpers (test/e2e/support.ts). Our own app, domain and stack,
 * removed at the end; dockerd is stopped only if this run started it.
 */
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { stackName } from "../src/domain/Config.js"
import { publish, RECIPE, V } from "../test/e2e/recipe.js"
import { publishStack, S, STACK_RECIPE } from "../test/e2e/stackRecipe.js"
import { baseEnv, ENGINE, freePort, httpStatus, stackOf as e2eStack, stopEngine } from "../test/e2e/support.js"
import { type AbraWorld, makeAbraWorld } from "../test/support/fakeAbra.js"
import type { Bundles, Figure } from "./lib.js"
import { exec, progress, round, sleep } from "./lib.js"

const FIGURE = "crashloop"
const APP = "bench-crash"
const DOMAIN = "crash.bench.example.org"
const STACK = e2eStack(stackName(DOMAIN))
/** The second case: a stateless two-service stack whose `worker` crash-loops (test/e2e/stackRecipe.ts). */
const WORKER_APP = "bench-worker"
const WORKER_DOMAIN = "worker.bench.example.org"
const WORKER_STACK = e2eStack(stackName(WORKER_DOMAIN))
/** The original waits out its whole health timeout before it rolls back. */
const ORIGINAL_MS = 900_000
/** Issue 15: from the end of the deploy to the rollback's start, for a crash loop in any service. */
const TARGET_MS = 20_000

/** Polls the app's health URL every 100 ms: when it served 200. */
const poller = (url: string) => {
  const ok: Array<number> = []
  let stopped = false
  const loop = (async () => {
    while (!stopped) {
      const at = Date.now()
      if (await httpStatus(url, 1000) === 200) ok.push(at)
      await sleep(100)
    }
  })()
  return {
    firstOkAfter: (t: number) => ok.find((at) => at >= t),
    stop: async () => {
      stopped = true
      await loop
    }
  }
}

const skipped = (reason: string, t0: number): Figure => ({
  id: FIGURE,
  title: "Time to undo a crash-looping release (real engine)",
  status: "skipped",
  reason,
  seconds: (performance.now() - t0) / 1000,
  targets: [{
    name: "deploy to rollback start",
    target: `< ${TARGET_MS / 1000} s`,
    value: null,
    unit: "s",
    pass: null,
    note: `not measured: ${reason}`
  }],
  rows: [],
  method: [],
  data: {}
})

interface Engine {
  readonly started: boolean
  readonly pid: number
}

const startEngine = async (): Promise<Engine | string> => {
  if (process.getuid?.() !== 0) return "not root: dockerd, apt-get and Docker volumes need root"
  const r = await exec(ENGINE, ["start"], { env: baseEnv(), timeoutMs: 300_000 })
  const m = /^ENGINE (started|already-running) (\d+)$/m.exec(r.stdout)
  if (r.code !== 0 || m === null) {
    return `test/e2e/engine.sh start failed (exit ${r.code}): ${r.stderr.trim().split("\n").slice(-3).join(" / ")}`
  }
  return { started: m[1] === "started", pid: Number(m[2]) }
}

export const crashLoop = (bundles: Bundles) =>
  Effect.gen(function*() {
    const t0 = performance.now()
    const engine = yield* Effect.acquireRelease(
      Effect.promise(startEngine),
      (e) =>
        typeof e === "string" || !e.started
          ? Effect.void
          : Effect.sync(() => {
            stopEngine()
            progress(FIGURE, "engine.sh stop: done")
          })
    )
    if (typeof engine === "string") {
      progress(FIGURE, `skipped: ${engine}`)
      return skipped(engine, t0)
    }
    progress(FIGURE, `dockerd ${engine.started ? "started" : "already running"} (pid ${engine.pid})`)
    for (const stack of [STACK, WORKER_STACK]) {
      if (stack.leftovers().length > 0) {
        progress(FIGURE, "leftovers of an earlier run: removing them first")
        yield* Effect.promise(stack.remove)
      }
    }
    const world: AbraWorld = yield* Effect.acquireRelease(
      Effect.sync(makeAbraWorld),
      (w) =>
        Effect.promise(async () => {
          for (const stack of [STACK, WORKER_STACK]) {
            await stack.remove().catch((e) => progress(FIGURE, `could not remove the stack ${stack.stack}: ${e}`))
          }
          w.cleanup()
        })
    )

    return yield* Effect.promise(async (): Promise<Figure> => {
      const port = await freePort()
      const stateDir = Path.join(world.root, "state")
      const config = Path.join(world.root, "config.json")
      const url = `http://127.0.0.1:${port}/health`
      Fs.writeFileSync(
        config,
        JSON.stringify({
          stateDir,
          abraDir: world.abraDir,
          // Default health settings (a probe every 500 ms, 3 failed tasks mean a crash loop, 15 minutes).
          apps: {
            [APP]: { recipe: RECIPE, domain: DOMAIN, stateful: true, create: true, keepDeployed: true, health: { url } }
          }
        })
      )
      Fs.mkdirSync(Path.join(world.abraDir, "servers"), { recursive: true })
      const env = { ...baseEnv(), ...world.env, FAKE_ABRA_DOCKER: "1" }
      const reconcile = async (app = APP, file = config) => {
        const r = await exec(process.execPath, [bundles.cli, "reconcile", app, "--config", file], {
          env,
          timeoutMs: 300_000
        })
        const result = r.stdout.split("\n").filter((l) => l.startsWith("RECONCILE RESULT:")).at(-1) ?? ""
        return { ...r, result }
      }

      publish(world.recipesSource, port, [V.base])
      const fresh = await reconcile()
      progress(FIGURE, `${fresh.result || `exit ${fresh.code}`} in ${(fresh.millis / 1000).toFixed(1)} s`)
      if (fresh.result !== `RECONCILE RESULT: deployed-fresh:${V.base}`) {
        throw new Error(`the fresh deploy of ${V.base} failed: ${fresh.stdout}\n${fresh.stderr.slice(-2000)}`)
      }

      publish(world.recipesSource, port, [V.crashes])
      const health = poller(url)
      const upgrade = await reconcile().finally(() => health.stop())
      progress(FIGURE, `${upgrade.result || `exit ${upgrade.code}`} in ${(upgrade.millis / 1000).toFixed(1)} s`)
      if (upgrade.result !== `RECONCILE RESULT: rolled-back:${V.crashes}->${V.base}`) {
        throw new Error(
          `the crash-looping upgrade did not end in a rollback: ${upgrade.stdout}\n${upgrade.stderr.slice(-2000)}`
        )
      }
      const calls = world.readCalls()
      const deploy = calls.find((c) => c.argv[1] === "deploy" && c.argv.includes(V.crashes))
      const rollback = calls.find((c) => c.argv[1] === "undeploy" && deploy !== undefined && c.at >= deploy.endedAt)
      if (deploy === undefined || rollback === undefined) {
        throw new Error(`no deploy of ${V.crashes} followed by an undeploy in the fake abra's calls`)
      }
      const alerts = Fs.readdirSync(Path.join(stateDir, "alerts")).filter((f) => f.endsWith("-rollback.json"))
      const alert = JSON.parse(Fs.readFileSync(Path.join(stateDir, "alerts", alerts.at(-1)!), "utf8")) as {
        cause?: string
      }
      const detect = rollback.at - deploy.endedAt

      // A crash loop in another service than the one that answers: the stateless stack recipe,
      // 1.0.0 fresh, then 1.3.0 whose worker exits at start while `app` answers 200.
      const workerPort = await freePort()
      const workerConfig = Path.join(world.root, "config-worker.json")
      Fs.writeFileSync(
        workerConfig,
        JSON.stringify({
          stateDir,
          abraDir: world.abraDir,
          apps: {
            [WORKER_APP]: {
              recipe: STACK_RECIPE,
              domain: WORKER_DOMAIN,
              stateful: false,
              create: true,
              keepDeployed: true,
              health: { url: `http://127.0.0.1:${workerPort}/health` }
            }
          }
        })
      )
      publishStack(world.recipesSource, workerPort, [S.base])
      const workerFresh = await reconcile(WORKER_APP, workerConfig)
      if (workerFresh.result !== `RECONCILE RESULT: deployed-fresh:${S.base}`) {
        throw new Error(
          `the fresh deploy of the stack failed: ${workerFresh.stdout}\n${workerFresh.stderr.slice(-2000)}`
        )
      }
      publishStack(world.recipesSource, workerPort, [S.workerCrashes])
      const workerUpgrade = await reconcile(WORKER_APP, workerConfig)
      progress(FIGURE, `worker: ${workerUpgrade.result || `exit ${workerUpgrade.code}`}`)
      if (workerUpgrade.result !== `RECONCILE RESULT: rolled-back:${S.workerCrashes}->${S.base}`) {
        throw new Error(`the worker's crash loop did not end in a rollback: ${workerUpgrade.stdout}`)
      }
      const workerCalls = world.readCalls().filter((c) => c.argv.includes(WORKER_DOMAIN))
      const workerDeploy = workerCalls.find((c) => c.argv[1] === "deploy" && c.argv.includes(S.workerCrashes))
      // Stateless: the rollback is the redeploy of last-good, no undeploy before it.
      const workerRollback = workerCalls.find((c) =>
        workerDeploy !== undefined && c.at >= workerDeploy.endedAt &&
        (c.argv[1] === "deploy" || c.argv[1] === "undeploy")
      )
      if (workerDeploy === undefined || workerRollback === undefined) {
        throw new Error(`no deploy of ${S.workerCrashes} followed by the rollback's deploy in the fake abra's calls`)
      }
      const detectWorker = workerRollback.at - workerDeploy.endedAt

      const fromStart = rollback.at - deploy.at
      const serving = health.firstOkAfter(deploy.endedAt)
      const restored = serving === undefined ? undefined : serving - deploy.endedAt
      const s = (ms: number | undefined) => ms === undefined ? "n/a" : `${(ms / 1000).toFixed(1)} s`
      progress(FIGURE, `deploy to rollback start ${s(detect)} (original: ${ORIGINAL_MS / 1000} s)`)
      return {
        id: FIGURE,
        title: "Time to undo a crash-looping release (real engine)",
        status: "measured",
        seconds: (performance.now() - t0) / 1000,
        targets: [{
          name: "deploy to rollback start",
          target: `< ${TARGET_MS / 1000} s`,
          value: round(detect / 1000, 1),
          unit: "s",
          pass: detect < TARGET_MS,
          ...(detect < TARGET_MS ? {} : {
            note: `${s(detect - TARGET_MS)} over: Swarm restarts a failed task after its restart delay; three ` +
              "failed tasks are needed to call it a crash loop"
          })
        }, {
          name: "deploy to rollback start, the crash loop in another service (`worker`) while `app` answers",
          target: `< ${TARGET_MS / 1000} s`,
          value: round(detectWorker / 1000, 1),
          unit: "s",
          pass: detectWorker < TARGET_MS
        }],
        rows: [
          {
            label: "end of the deploy to the start of the rollback",
            ours: s(detect),
            reference: `original: ${ORIGINAL_MS / 1000} s (its whole health timeout)`,
            ratio: (detect / ORIGINAL_MS).toFixed(3)
          },
          {
            label: "start of the deploy to the start of the rollback",
            ours: s(fromStart),
            reference: `original: ${s(ORIGINAL_MS + (deploy.endedAt - deploy.at))}`,
            ratio: (fromStart / (ORIGINAL_MS + deploy.endedAt - deploy.at)).toFixed(3)
          },
          {
            label: "a stateless stack whose worker crash-loops: end of the deploy to the rollback's redeploy",
            ours: s(detectWorker),
            reference: "original: never (it looks at the health URL only, which answers 200: it keeps the release)",
            ratio: ""
          },
          {
            label: "end of the deploy to the last-good version serving again",
            ours: s(restored),
            reference: "",
            ratio: ""
          },
          {
            label: "the whole reconcile run (snapshot, deploy, detection, restore, redeploy, health)",
            ours: s(upgrade.millis),
            reference: "",
            ratio: ""
          }
        ],
        method: [
          "A real dockerd and single-node Swarm (test/e2e/engine.sh: offline, no registry, a local busybox " +
          `image), the end-to-end recipe (test/e2e/recipe.ts): ${V.base} healthy, ${V.crashes} exits 1 at start.`,
          `\`node <bundle> reconcile ${APP}\` with the fake abra in real-deploy mode (docker stack deploy ` +
          `--resolve-image never): a fresh deploy of ${V.base}, then the upgrade to ${V.crashes}; default health ` +
          "settings (15 minutes, a probe every 500 ms, a crash loop at 3 failed tasks of the new version).",
          "Times from the fake abra's call log: the `app deploy` of the crashing version (its end) to the " +
          "rollback's `app undeploy` (its start). The app's health URL is polled every 100 ms for when the " +
          "last-good version serves again.",
          "The original (the seed's wait_healthy) has no crash-loop check: it polls until its 900 s health " +
          "timeout, then rolls back.",
          "This figure runs while figure 1 archives and restores its large volume (to keep the benchmark under " +
          "ten minutes): Docker's start-ups may be a little slower for it."
        ],
        data: {
          engine: { startedByThisRun: engine.started },
          deployToRollbackMs: detect,
          workerDeployToRollbackMs: detectWorker,
          deployStartToRollbackMs: fromStart,
          deployMs: deploy.endedAt - deploy.at,
          deployToServingMs: restored ?? null,
          freshDeployMs: round(fresh.millis, 0),
          upgradeRunMs: round(upgrade.millis, 0),
          alertCause: alert.cause ?? null,
          steps: calls.filter((c) => c.argv[1] === "deploy" || c.argv[1] === "undeploy").map((c) => ({
            argv: c.argv.slice(0, 4).join(" "),
            atMs: c.at - deploy.at,
            tookMs: c.endedAt - c.at
          }))
        }
      }
    })
  })
