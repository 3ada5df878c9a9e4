/**
 * Figure 4: a nightly run with nothing to do, on the fake-abra world: the app runs the latest
 * version and answers healthy. Measured: wall time and child processes, ours against the original's
 * sequence of commands for the same run, spawned for real against the same world.
 */
import { Duration, Effect, Layer, Logger, LogLevel, Metric } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { AppConfig, AppName, appSpec, HealthConfig } from "../src/domain/Config.js"
import * as LiveDocker from "../src/live/Docker.js"
import * as Live from "../src/live/Live.js"
import { processesSpawned } from "../src/live/ProcessRunner.js"
import { run } from "../src/reconcile/Reconcile.js"
import { makeAbraWorld, makeRecipeRepo, runAbra } from "../test/support/fakeAbra.js"
import { fakeEngine, stackOf } from "../test/support/fakeEngine.js"
import { httpsServer } from "../test/support/httpsServer.js"
import type { Bundles, Figure } from "./lib.js"
import { cleanEnv, exec, median, mustExec, originalCurl, progress, round } from "./lib.js"

const FIGURE = "noop"
const RECIPE = "bench-noop"
const DOMAIN = "noop.bench.example.org"
const STACK = stackOf(DOMAIN)
const LATEST = "1.1.0+1.1"

export interface NoopOptions {
  readonly runs: number
}

/** The original's commands for a run with nothing to do, in its order (see the seed's `reconcile`). */
const originalSequence = (abraDir: string, port: number): ReadonlyArray<ReadonlyArray<string>> => [
  // ensure_server
  ["abra", "server", "ls", "-m", "-n"],
  // fetch_recipe
  ["abra", "recipe", "fetch", RECIPE, "-n"],
  // recipe_tags
  ["git", "-C", Path.join(abraDir, "recipes", RECIPE), "tag"],
  // ensure_secrets: lifecycle._docker_names("secret", stack)
  ["docker", "secret", "ls", "--filter", `name=${STACK}`, "--format", "{{.Name}}"],
  // is_deployed: lifecycle._docker_names("service", stack)
  ["docker", "service", "ls", "--filter", `name=${STACK}`, "--format", "{{.Name}}"],
  // wait_healthy(spec, timeout=60): one curl answers 200 (the original resolves to 127.0.0.1:443)
  originalCurl(DOMAIN, port)
]

/** Runs the commands one after the other as the original's `_run` does (subprocess.run, output captured). */
const DRIVER = `
import json, subprocess, sys, time
cmds = json.loads(sys.argv[1])
t = time.monotonic()
out = []
for c in cmds:
    r = subprocess.run(c, capture_output=True, text=True, timeout=120)
    out.append([r.returncode, r.stdout.strip()[:200], r.stderr.strip()[-300:]])
print(json.dumps({"seconds": time.monotonic() - t, "results": out}))
`

export const noop = (bundles: Bundles, options: NoopOptions) =>
  Effect.gen(function*() {
    const t0 = performance.now()
    const world = yield* Effect.acquireRelease(Effect.sync(makeAbraWorld), (w) => Effect.sync(() => w.cleanup()))
    makeRecipeRepo(world.recipesSource, RECIPE, [{ tag: "1.0.0+1.0" }, { tag: LATEST }])
    Fs.mkdirSync(Path.join(world.abraDir, "servers", "default"), { recursive: true })
    for (
      const args of [
        ["recipe", "fetch", RECIPE, "-n"],
        ["app", "new", RECIPE, LATEST, "-s", "default", "-D", DOMAIN, "-o", "-n"],
        ["app", "secret", "generate", DOMAIN, "--all", "-n"],
        ["app", "deploy", DOMAIN, LATEST, "-o", "-n", "-f"]
      ]
    ) {
      const r = runAbra(world, args)
      if (r.code !== 0) return yield* Effect.dieMessage(`abra ${args.join(" ")}: ${r.stderr}`)
    }
    const engine = yield* fakeEngine({ abraDir: world.abraDir })
    const server = yield* httpsServer(DOMAIN, { "/health": { status: 200, body: "ok" } })
    const stateDir = Path.join(world.root, "state")
    const health = { path: "/health", connect: `127.0.0.1:${server.port}` }
    const config = Path.join(world.root, "config.json")
    Fs.writeFileSync(
      config,
      JSON.stringify({ stateDir, abraDir: world.abraDir, apps: { noop: { recipe: RECIPE, domain: DOMAIN, health } } })
    )
    const env = cleanEnv({ ...world.env, DOCKER_HOST: `unix://${engine.socket}` })
    const expected = `RECONCILE RESULT: noop-healthy:${LATEST}`

    // Ours, in this process: the program on the live layers, counting spawns with the runner's metric.
    const inProcess = (successes: number) =>
      Effect.gen(function*() {
        const app = appSpec(
          AppName.make("noop"),
          new AppConfig({ recipe: RECIPE, domain: DOMAIN, health: HealthConfig.make({ ...health, successes }) })
        )
        // The live layers find abra on PATH, as on a server: the fake one, for this run only.
        const saved = Object.fromEntries(Object.keys(world.env).map((k) => [k, process.env[k]]))
        yield* Effect.acquireRelease(
          Effect.sync(() => Object.assign(process.env, world.env)),
          () =>
            Effect.sync(() => {
              for (const [k, v] of Object.entries(saved)) {
                if (v === undefined) delete process.env[k]
                else process.env[k] = v
              }
            })
        )
        const samples: Array<{ millis: number; spawned: number; outcome: string }> = []
        for (let i = 0; i < options.runs; i++) {
          const before = (yield* Metric.value(processesSpawned)).count
          const s = performance.now()
          const outcome = yield* run(app)
          const millis = performance.now() - s
          const spawned = (yield* Metric.value(processesSpawned)).count - before
          samples.push({ millis, spawned, outcome: outcome._tag })
        }
        return samples
      }).pipe(
        // The CLI writes these logs to stderr; here they would only interleave with the progress lines.
        Logger.withMinimumLogLevel(LogLevel.None),
        Effect.provide(
          Live.layer({ stateDir, abraDir: world.abraDir, docker: LiveDocker.layerSocket(engine.socket) }).pipe(
            Layer.orDie
          )
        ),
        Effect.scoped
      )
    const ours = yield* inProcess(2)
    const oneSuccess = yield* inProcess(1)
    if (ours.some((s) => s.outcome !== "noop-healthy")) {
      return yield* Effect.dieMessage(`the nothing-to-do run ended as ${ours.map((s) => s.outcome).join(", ")}`)
    }
    progress(FIGURE, `in-process: ${median(ours.map((s) => s.millis)).toFixed(0)} ms, ${ours[0]!.spawned} spawns`)

    return yield* Effect.promise(async () => {
      const python = (await mustExec("python3", ["-c", "import sys; print(sys.executable)"])).stdout.trim()
      const sequence = originalSequence(world.abraDir, server.port)
      const cli: Array<number> = []
      const original: Array<{ process: number; sequence: number }> = []
      // Interleaved, so that the machine's load hits both alike.
      for (let i = 0; i < options.runs; i++) {
        const c = await exec(process.execPath, [bundles.cli, "reconcile", "noop", "--config", config], { env })
        if (c.code !== 0 || !c.stdout.includes(expected)) {
          throw new Error(`reconcile noop: exit ${c.code}: ${c.stdout}${c.stderr.slice(-1000)}`)
        }
        cli.push(c.millis)
        const o = await mustExec(python, ["-c", DRIVER, JSON.stringify(sequence)], { env })
        const parsed = JSON.parse(o.stdout) as { seconds: number; results: Array<[number, string]> }
        const bad = parsed.results.findIndex(([code], j) => code !== 0 || (j === 5 && parsed.results[j]![1] !== "200"))
        if (bad >= 0) {
          throw new Error(`the original's ${sequence[bad]!.join(" ")} failed: ${JSON.stringify(parsed.results[bad])}`)
        }
        original.push({ process: o.millis, sequence: parsed.seconds * 1000 })
      }
      const m = {
        ours: median(ours.map((s) => s.millis)),
        oneSuccess: median(oneSuccess.map((s) => s.millis)),
        cli: median(cli),
        originalSequence: median(original.map((o) => o.sequence)),
        originalProcess: median(original.map((o) => o.process))
      }
      const spawns = ours[0]!.spawned
      progress(
        FIGURE,
        `CLI ${m.cli.toFixed(0)} ms; original ${m.originalProcess.toFixed(0)} ms, ${sequence.length} spawns`
      )
      const ms = (x: number) => `${x.toFixed(0)} ms`
      return {
        id: FIGURE,
        title: "A nightly run with nothing to do",
        status: "measured",
        seconds: (performance.now() - t0) / 1000,
        targets: [{
          name: "child processes spawned",
          target: `fewer than the original's ${sequence.length}`,
          value: spawns,
          unit: "processes",
          pass: spawns < sequence.length
        }],
        rows: [
          {
            label: "child processes",
            ours: `${spawns} (abra server ls, abra recipe fetch, git tag)`,
            reference: `original: ${sequence.length} (${sequence.map((c) => `${c[0]} ${c[1]}`).join(", ")})`,
            ratio: (spawns / sequence.length).toFixed(2)
          },
          {
            label: "wall time, whole process (median)",
            ours: `${ms(m.cli)} (node, bundled CLI)`,
            reference: `original: ${ms(m.originalProcess)} (python3 running its commands)`,
            ratio: (m.cli / m.originalProcess).toFixed(2)
          },
          {
            label: "wall time, the run alone (median)",
            ours: ms(m.ours),
            reference: `original's commands: ${ms(m.originalSequence)}`,
            ratio: (m.ours / m.originalSequence).toFixed(2)
          },
          {
            label: "the run alone with health.successes = 1 (as the original)",
            ours: ms(m.oneSuccess),
            reference: `original's commands: ${ms(m.originalSequence)}`,
            ratio: (m.oneSuccess / m.originalSequence).toFixed(2)
          }
        ],
        method: [
          "The fake-abra world (test/support/fakeAbra.ts: the fake abra on PATH, real git recipe repos): " +
          `${RECIPE} ${LATEST} deployed, pinned and its secrets generated; a fake Engine API that follows the fake ` +
          "abra's state; the health endpoint a real HTTPS server on 127.0.0.1.",
          `Ours in this process: \`run\` of src/reconcile/Reconcile.ts on the live layers, ${options.runs} times; the ` +
          "spawns are the live ProcessRunner's `warm_reconcile_processes_spawned` counter. Docker is read through " +
          "the Engine API and health over HTTPS, so neither spawns a process.",
          `Ours as a process: \`node <bundle> reconcile noop --config ...\`, ${options.runs} times, interleaved with ` +
          "the original's; its time includes node loading the bundle, which figure 6 times alone.",
          "The original's sequence, derived from the seed's `reconcile` for an app on its latest version: " +
          "ensure_server (abra server ls), fetch_recipe (abra recipe fetch), recipe_tags (git tag), ensure_secrets " +
          "(docker secret ls), is_deployed (docker service ls), wait_healthy (one curl): spawned for real by a " +
          "python3 driver with subprocess.run against the same fake abra, git repo, Engine API and HTTPS server.",
          `Our default health gate wants ${HealthConfig.make({}).successes} answers in a row, ` +
          `${
            Duration.format(HealthConfig.make({}).interval)
          } apart, where the original takes one: the last row shows ` +
          "the run with one."
        ],
        data: {
          spawns: { ours: ours.map((s) => s.spawned), original: sequence.length },
          oursMs: ours.map((s) => round(s.millis, 1)),
          oursOneSuccessMs: oneSuccess.map((s) => round(s.millis, 1)),
          cliMs: cli.map((x) => round(x, 1)),
          originalMs: original.map((o) => ({ process: round(o.process, 1), sequence: round(o.sequence, 1) })),
          medianMs: Object.fromEntries(Object.entries(m).map(([k, v]) => [k, round(v, 1)])),
          originalCommands: sequence.map((c) =>
            c.join(" ").replaceAll(world.root, "<world>").replaceAll(String(server.port), "<port>")
          )
        }
      } satisfies Figure
    })
  })
