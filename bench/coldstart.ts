/** Figure 6: cold start of the bundled CLI's `--help` against `node -e 0`. */
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import type { Figure } from "./lib.js"
import { exec, median, mustExec, progress, quantile, ROOT, round } from "./lib.js"

const FIGURE = "coldstart"
const BUNDLE = Path.join(ROOT, "dist", "warm-reconcile.mjs")

export interface ColdStartOptions {
  readonly runs: number
}

export const coldStart = (options: ColdStartOptions) =>
  Effect.promise(async (): Promise<Figure> => {
    const t0 = performance.now()
    let built = false
    if (!Fs.existsSync(BUNDLE)) {
      progress(FIGURE, "dist/warm-reconcile.mjs is missing: npm run build")
      await mustExec("npm", ["run", "build"])
      built = true
    }
    const help: Array<number> = []
    const bare: Array<number> = []
    // Two of each first, uncounted: the first runs also load node and the bundle into the page cache.
    for (let i = -2; i < options.runs; i++) {
      const h = await exec(process.execPath, [BUNDLE, "--help"])
      if (h.code !== 0 || !h.stdout.includes("reconcile")) {
        throw new Error(`node dist/warm-reconcile.mjs --help: exit ${h.code}: ${h.stderr.slice(-500)}`)
      }
      const b = await mustExec(process.execPath, ["-e", "0"])
      if (i >= 0) {
        help.push(h.millis)
        bare.push(b.millis)
      }
    }
    const m = { help: median(help), bare: median(bare) }
    progress(FIGURE, `--help ${m.help.toFixed(0)} ms, node -e 0 ${m.bare.toFixed(0)} ms`)
    const ms = (x: number) => `${x.toFixed(0)} ms`
    const stats = Fs.statSync(BUNDLE)
    return {
      id: FIGURE,
      title: "Cold start",
      status: "measured",
      seconds: (performance.now() - t0) / 1000,
      targets: [],
      rows: [
        {
          label: `median of ${options.runs}`,
          ours: `node dist/warm-reconcile.mjs --help: ${ms(m.help)}`,
          reference: `node -e 0: ${ms(m.bare)}`,
          ratio: (m.help / m.bare).toFixed(2)
        },
        {
          label: "p90",
          ours: ms(quantile(help, 0.9)),
          reference: ms(quantile(bare, 0.9)),
          ratio: (quantile(help, 0.9) / quantile(bare, 0.9)).toFixed(2)
        },
        {
          label: "the bundle's own start-up (median difference)",
          ours: ms(m.help - m.bare),
          reference: "",
          ratio: ""
        }
      ],
      method: [
        `dist/warm-reconcile.mjs (${(stats.size / 2 ** 20).toFixed(1)} MiB, one esbuild bundle${
          built ? ", built by this run" : ""
        }) and \`node -e 0\`, alternately, ${options.runs} times each after two uncounted runs of each; wall time ` +
        "from spawn to exit."
      ],
      data: {
        helpMs: help.map((x) => round(x, 1)),
        nodeMs: bare.map((x) => round(x, 1)),
        medianMs: { help: round(m.help, 1), node: round(m.bare, 1) },
        bundleBytes: stats.size,
        builtByThisRun: built
      }
    }
  })
