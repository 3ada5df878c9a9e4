/**
 * Figure 5: a fleet of 200 apps, reconciled 8 at a time against one at a time, each in a process of
 * its own (bench/fleet-child.ts): CPU time per app, peak memory, and wall time.
 */
import { Effect } from "effect"
import type { Bundles, Figure } from "./lib.js"
import { median, mustExec, progress, round } from "./lib.js"

const FIGURE = "fleet"

export interface FleetOptions {
  readonly apps: number
  /** Runs of each concurrency, interleaved. */
  readonly runs: number
}

interface FleetRun {
  readonly apps: number
  readonly concurrency: number
  readonly wallMillis: number
  readonly virtualMillis: number
  readonly cpuMillis: number
  readonly rssBeforeKiB: number
  readonly maxRssKiB: number
  readonly outcomes: Record<string, number>
  readonly processMillis: number
}

export const fleet = (bundles: Bundles, options: FleetOptions) =>
  Effect.promise(async (): Promise<Figure> => {
    const t0 = performance.now()
    const once = async (concurrency: number): Promise<FleetRun> => {
      const r = await mustExec(process.execPath, [
        bundles.fleetChild,
        JSON.stringify({ apps: options.apps, concurrency })
      ])
      const out = JSON.parse(r.stdout.trim().split("\n").at(-1)!) as Omit<FleetRun, "processMillis">
      progress(
        FIGURE,
        `--concurrency ${concurrency}: ${(out.wallMillis / 1000).toFixed(2)} s real, ` +
          `${(out.virtualMillis / 60_000).toFixed(1)} min virtual, ${(out.cpuMillis / options.apps).toFixed(1)} ms ` +
          `CPU per app, peak RSS ${(out.maxRssKiB / 1024).toFixed(0)} MiB`
      )
      return { ...out, processMillis: r.millis }
    }
    const runs: Array<FleetRun> = []
    for (let i = 0; i < options.runs; i++) {
      for (const c of i % 2 === 0 ? [1, 8] : [8, 1]) runs.push(await once(c))
    }
    const at = (c: number) => runs.filter((r) => r.concurrency === c)
    const m = (c: number, f: (r: FleetRun) => number) => median(at(c).map(f))
    const cpuPerApp = (c: number) => m(c, (r) => r.cpuMillis / r.apps)
    const rss = (c: number) => Math.max(...at(c).map((r) => r.maxRssKiB / 1024))
    const outcomes = at(1)[0]!.outcomes
    const same = runs.every((r) => JSON.stringify(r.outcomes) === JSON.stringify(outcomes))
    if (!same) {
      throw new Error(`the fleet's outcomes differ between runs: ${JSON.stringify(runs.map((r) => r.outcomes))}`)
    }
    const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`
    const min = (ms: number) => `${(ms / 60_000).toFixed(1)} min`
    return {
      id: FIGURE,
      title: `A fleet of ${options.apps} apps`,
      status: "measured",
      seconds: (performance.now() - t0) / 1000,
      targets: [],
      rows: [
        {
          label: "CPU time per app (median)",
          ours: `${cpuPerApp(8).toFixed(1)} ms at --concurrency 8`,
          reference: `${cpuPerApp(1).toFixed(1)} ms at --concurrency 1`,
          ratio: (cpuPerApp(8) / cpuPerApp(1)).toFixed(2)
        },
        {
          label: "peak RSS of the process",
          ours: `${rss(8).toFixed(0)} MiB at 8`,
          reference: `${rss(1).toFixed(0)} MiB at 1`,
          ratio: (rss(8) / rss(1)).toFixed(2)
        },
        {
          label: "wall time, simulated (the waits the run would spend)",
          ours: `${min(m(8, (r) => r.virtualMillis))} at 8`,
          reference: `${min(m(1, (r) => r.virtualMillis))} at 1`,
          ratio: (m(8, (r) => r.virtualMillis) / m(1, (r) => r.virtualMillis)).toFixed(3)
        },
        {
          label: "wall time, real (the program's own work)",
          ours: `${s(m(8, (r) => r.wallMillis))} at 8`,
          reference: `${s(m(1, (r) => r.wallMillis))} at 1`,
          ratio: (m(8, (r) => r.wallMillis) / m(1, (r) => r.wallMillis)).toFixed(2)
        }
      ],
      method: [
        `The simulated world (src/simulation), not the fake-abra one: a real fleet run spawns abra and git ` +
        `for each app (figure 4 times one such run) and waits out each health gate for real: minutes for ` +
        `${options.apps} apps, beyond this benchmark's budget. So this figure is the program's own cost.`,
        `${options.apps} apps: of every 20, 14 have nothing to do, 3 take a minor upgrade (stateful: undeploy, ` +
        "snapshot, deploy, health gate), 1 holds a major bump, 1 holds a release that asks for a manual migration, " +
        `1 crash-loops and is rolled back. Outcomes: ${
          Object.entries(outcomes).map(([k, v]) => `${v} ${k}`).join(", ")
        }.`,
        "Each run is a process of its own (bench/fleet-child.ts bundled, on plain node): `run` of " +
        "src/reconcile/Reconcile.ts (what `reconcile --all` calls per app) over the apps with Effect.forEach " +
        "and the given concurrency, as the CLI does, logs in logfmt to stderr; on the virtual clock, so health " +
        "intervals, start-up and Swarm restart delays take no real time.",
        "CPU is the process's user + system time during the run; peak RSS its maxRSS; the simulated wall time " +
        `is the virtual clock's advance. ${options.runs} runs of each concurrency, interleaved.`
      ],
      data: {
        runs: runs.map((r) => ({
          ...r,
          wallMillis: round(r.wallMillis, 1),
          cpuMillis: round(r.cpuMillis, 1),
          processMillis: round(r.processMillis, 0)
        })),
        outcomes
      }
    }
  })
