/**
 * A fleet run in a process of its own: the real reconcile program (`run`, what `reconcile --all`
 * calls per app) over N apps of the simulated world, N at a time as `--concurrency` does, on the
 * virtual clock (health intervals, start-up and restart delays take no real time). Logs go to
 * stderr in logfmt as the CLI's do. Prints one JSON line: CPU, memory, real and virtual wall time,
 * and the outcomes.
 *
 *   node fleet-child.mjs '{"apps":200,"concurrency":8}'
 */
import { Clock, Effect, Logger } from "effect"
import { AppConfig, type AppName, type AppSpec, appSpec } from "../src/domain/Config.js"
import { run } from "../src/reconcile/Reconcile.js"
import { layerFor } from "../src/simulation/Simulation.js"
import { runOnVirtualClock } from "../src/simulation/VirtualClock.js"
import * as World from "../src/simulation/World.js"

interface Request {
  readonly apps: number
  readonly concurrency: number
}

const request = JSON.parse(process.argv[2] ?? "{}") as Request

const V1 = "1.0.0+1.0"
const V11 = "1.1.0+1.1"
const V2 = "2.0.0+2.0"

const recipes: Record<string, World.RecipeSpec> = {
  steady: { tags: [V1, V11], notes: { [V11]: "Faster start-up." } },
  major: { tags: [V1, V2], notes: { [V2]: "A new data format." } },
  manual: { tags: [V1, V11], notes: { [V11]: "ACTION REQUIRED: run the schema migration by hand." } },
  crashy: { tags: [V1, V11], notes: { [V11]: "New start-up code." }, releases: { [V11]: { health: "crash-loop" } } }
}

/** What each app of 20 does: 14 nothing to do, 3 upgrades, 1 major hold, 1 manual-migration hold, 1 crash-loop. */
const kind = (i: number): { readonly recipe: string; readonly running: string } => {
  const slot = i % 20
  if (slot < 14) return { recipe: "steady", running: V11 }
  if (slot < 17) return { recipe: "steady", running: V1 }
  if (slot === 17) return { recipe: "major", running: V1 }
  if (slot === 18) return { recipe: "manual", running: V1 }
  return { recipe: "crashy", running: V1 }
}

const apps: Array<World.AppSetup> = Array.from({ length: request.apps }, (_, i) => {
  const { recipe, running } = kind(i)
  const spec: AppSpec = appSpec(
    `app-${i}` as AppName,
    new AppConfig({ recipe, domain: `app-${i}.fleet.example.org`, stateful: true })
  )
  return {
    spec,
    env: true,
    pinned: running,
    deployed: running,
    volumes: { data: { "db/schema": "schema 1\n", "db/users.json": `[{"id":${i}}]\n` } },
    secrets: ["admin_password_v1"],
    secretsGenerated: true,
    lastGood: running
  }
})

const main = Effect.gen(function*() {
  const world = yield* World.make({ recipes, apps, servers: ["default"] })
  const rssBefore = process.memoryUsage().rss
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  const program = Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    const outcomes = yield* Effect.forEach(apps, (a) => run(a.spec), { concurrency: request.concurrency })
    return { outcomes, virtualMillis: (yield* Clock.currentTimeMillis) - start }
  }).pipe(
    Effect.provide(layerFor(world)),
    Effect.provide(Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger)))
  )
  const exit = yield* runOnVirtualClock(program, { startMillis: Date.UTC(2024, 5, 1, 3) })
  const wallMillis = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  if (exit._tag === "Failure") return yield* Effect.dieMessage(`the fleet run failed: ${String(exit.cause)}`)
  const tally: Record<string, number> = {}
  for (const o of exit.value.outcomes) tally[o._tag] = (tally[o._tag] ?? 0) + 1
  return {
    apps: request.apps,
    concurrency: request.concurrency,
    wallMillis,
    virtualMillis: exit.value.virtualMillis,
    cpuMillis: (cpu.user + cpu.system) / 1000,
    cpuUserMillis: cpu.user / 1000,
    cpuSystemMillis: cpu.system / 1000,
    rssBeforeKiB: Math.round(rssBefore / 1024),
    maxRssKiB: process.resourceUsage().maxRSS,
    outcomes: tally
  }
})

Effect.runPromise(main).then(
  (result) => process.stdout.write(`${JSON.stringify(result)}\n`),
  (error) => {
    process.stderr.write(`fleet-child: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exitCode = 1
  }
)
