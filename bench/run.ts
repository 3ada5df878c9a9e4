/**
 * `npm run bench`: every figure of issue 7, each measured side by side with its reference, then
 * bench/results.json and docs/benchmarks.md (generated from the results). Progress on stderr.
 * Knobs are listed in docs/benchmarks.md ("How to rerun").
 */
import { NodeRuntime } from "@effect/platform-node"
import { Cause, Effect } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { coldStart } from "./coldstart.js"
import { crashLoop } from "./crashloop.js"
import { fleet } from "./fleet.js"
import { health } from "./health.js"
import type { Figure } from "./lib.js"
import { machine, makeBundles, progress, ROOT } from "./lib.js"
import { noop } from "./noop.js"
import { render, type Results } from "./report.js"
import { snapshot } from "./snapshot.js"

const int = (name: string, fallback: number): number => {
  const raw = process.env[name]
  const n = raw === undefined || raw === "" ? fallback : Number(raw)
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}=${raw}: expected a positive number`)
  return n
}

const options = {
  health: { trials: int("BENCH_HEALTH_TRIALS", 50), windowMs: 10_000, startMs: 2_000, seed: 7 },
  noop: { runs: 5 },
  fleet: { apps: int("BENCH_FLEET_APPS", 200), runs: 3 },
  coldStart: { runs: 15 },
  snapshot: {
    largeGiB: int("BENCH_SNAPSHOT_GIB", 4),
    smallGiB: int("BENCH_SNAPSHOT_GIB", 4) / 4,
    largeFiles: int("BENCH_SNAPSHOT_FILES", 90_000),
    changed: 0.01,
    rounds: 2
  }
}

const only = (process.env["BENCH_ONLY"] ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "")
const wanted = (id: string) => only.length === 0 || only.includes(id)

/** A figure that could not be measured still gets its place in the results, with the reason. */
const guard = (id: string, title: string, effect: Effect.Effect<Figure, unknown>) => {
  const t0 = performance.now()
  return effect.pipe(
    Effect.catchAllCause((cause) => {
      // The message alone: a stack trace would put this machine's paths into the report.
      const reason = Cause.pretty(cause).split("\n").filter((l) => !/^\s+at /.test(l)).slice(0, 6).join(" ")
        .replaceAll(ROOT, "").slice(0, 1500)
      progress(id, `FAILED: ${reason}`)
      return Effect.succeed<Figure>({
        id,
        title,
        status: "failed",
        reason,
        seconds: (performance.now() - t0) / 1000,
        targets: [],
        rows: [],
        method: [],
        data: {}
      })
    })
  )
}

const main = Effect.gen(function*() {
  const t0 = performance.now()
  progress("bench", `start${only.length > 0 ? ` (only ${only.join(", ")})` : ""}`)
  const bundles = yield* Effect.acquireRelease(
    Effect.promise(makeBundles),
    (b) => Effect.sync(() => Fs.rmSync(b.dir, { recursive: true, force: true }))
  )
  const done = new Map<string, Figure>()
  const measure = (id: string, title: string, effect: Effect.Effect<Figure, unknown>) =>
    wanted(id)
      ? guard(id, title, effect).pipe(Effect.tap((f) => Effect.sync(() => done.set(id, f))), Effect.asVoid)
      : Effect.void

  yield* measure("coldstart", "Cold start", coldStart(options.coldStart))
  yield* measure("health", "Time to notice health", Effect.scoped(health(options.health)))
  yield* measure("noop", "A nightly run with nothing to do", Effect.scoped(noop(bundles, options.noop)))
  yield* measure("fleet", `A fleet of ${options.fleet.apps} apps`, fleet(bundles, options.fleet))
  const crashTitle = "Time to undo a crash-looping release (real engine)"
  yield* measure("crashloop", crashTitle, Effect.scoped(crashLoop(bundles)))
  const snapshotTitle = "Snapshots: upgrade downtime, restore, throughput, memory, space"
  yield* measure("snapshot", snapshotTitle, Effect.scoped(snapshot(bundles, options.snapshot)))

  const order = ["snapshot", "health", "crashloop", "noop", "fleet", "coldstart"]
  const figures = order.flatMap((id) => done.has(id) ? [done.get(id)!] : [])
  const results: Results = {
    schema: 1,
    date: new Date().toISOString(),
    totalSeconds: Math.round((performance.now() - t0) / 100) / 10,
    machine: yield* Effect.promise(machine),
    options,
    summary: figures.flatMap((f) => f.targets.map((t) => ({ figure: f.title, ...t }))),
    figures
  }
  const partial = only.length > 0
  const json = partial ? Path.join(ROOT, "bench/results/partial.json") : Path.join(ROOT, "bench/results.json")
  const md = partial ? Path.join(ROOT, "bench/results/partial.md") : Path.join(ROOT, "docs/benchmarks.md")
  Fs.mkdirSync(Path.dirname(json), { recursive: true })
  Fs.writeFileSync(json, `${JSON.stringify(results, null, 2)}\n`)
  Fs.writeFileSync(md, render(results))
  const missed = results.summary.filter((t) => t.pass !== true)
  progress(
    "bench",
    `done in ${results.totalSeconds} s: ${results.summary.length - missed.length}/${results.summary.length} targets ` +
      `met; wrote ${Path.relative(ROOT, json)} and ${Path.relative(ROOT, md)}`
  )
})

NodeRuntime.runMain(Effect.scoped(main), { disablePrettyLogger: true })
