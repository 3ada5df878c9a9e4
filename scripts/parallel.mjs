// Runs lanes of npm scripts side by side: `node scripts/parallel.mjs typecheck lint,build` runs
// `typecheck` while `lint` then `build` run in the other lane. `npm test` runs the three in lanes
// of their own: with the dependencies' declarations no longer checked each is short, and on 2
// cores three lanes ended first (26 s against 29 s for two). Its build is `build:unchecked`: the
// declarations are emitted with `tsc --noCheck`, since the typecheck lane checks the same sources
// (28 s -> 25 s). Running the checks beside vitest instead, even under `nice -n 10`, slowed the
// whole run from 230 s to 260 s: vitest alone keeps both cores busy. Each lane's output is printed
// whole when it ends; the exit code is 1 if any script failed.
import { spawn } from "node:child_process"

const npm = process.platform === "win32" ? "npm.cmd" : "npm"

const run = (script) =>
  new Promise((resolve) => {
    const child = spawn(npm, ["run", script], { stdio: ["ignore", "pipe", "pipe"] })
    let output = ""
    child.stdout.on("data", (d) => output += d)
    child.stderr.on("data", (d) => output += d)
    child.on("error", (e) => resolve({ script, code: 1, output: `${output}${e.message}\n` }))
    child.on("close", (code) => resolve({ script, code: code ?? 1, output }))
  })

const lane = async (scripts) => {
  for (const script of scripts) {
    const started = Date.now()
    const r = await run(script)
    const seconds = ((Date.now() - started) / 1000).toFixed(1)
    process.stdout.write(`> ${script}: ${r.code === 0 ? "ok" : `FAILED (exit ${r.code})`} in ${seconds} s\n${r.output}`)
    if (r.code !== 0) return false
  }
  return true
}

const lanes = process.argv.slice(2).map((arg) => arg.split(",").filter((s) => s !== ""))
if (lanes.length === 0) {
  console.error("usage: node scripts/parallel.mjs <script>[,<script>...] ...: lanes of npm scripts to run side by side")
  process.exit(2)
}
const passed = await Promise.all(lanes.map(lane))
process.exit(passed.every(Boolean) ? 0 : 1)
