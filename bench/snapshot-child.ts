// Not run by bench/run.ts: it measures the tar store that the rsync tree store replaced (issue 17),
// whose own benchmarks are still to be written; kept as the method those figures started from.
/**
 * One snapshot take or restore with the live Snapshots layer, in a process of its own so that its
 * peak memory is the snapshot's alone. The volumes come from the (fake) Engine API as in
 * production. Prints one JSON line: the time of the operation and the process's peak RSS.
 *
 *   node snapshot-child.mjs '{"op":"take","socket":"/tmp/x/docker.sock","stateDir":"/mnt/state"}'
 */
import { NodeContext } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import * as Fs from "node:fs"
import { AppConfig, AppName, appSpec } from "../src/domain/Config.js"
import * as LiveDocker from "../src/live/Docker.js"
import * as LiveSnapshots from "../src/live/Snapshots.js"
import { Docker } from "../src/services/Docker.js"
import { Snapshots } from "../src/services/Snapshots.js"

interface Request {
  readonly op: "take" | "restore"
  readonly socket: string
  readonly stateDir: string
  readonly domain: string
}

const request = JSON.parse(process.argv[2] ?? "{}") as Request
const app = appSpec(AppName.make("bench-snapshot"), new AppConfig({ recipe: "bench", domain: request.domain }))

const program = Effect.gen(function*() {
  const docker = yield* Docker
  const snapshots = yield* Snapshots
  const volumes = yield* docker.stackVolumes(app.stack)
  // Where the memory goes: V8's heap, or buffers outside it (file and pipe chunks).
  const before = process.memoryUsage()
  const peak = { rss: 0, heapUsed: 0, external: 0, arrayBuffers: 0 }
  const sample = () => {
    const m = process.memoryUsage()
    for (const key of Object.keys(peak) as Array<keyof typeof peak>) peak[key] = Math.max(peak[key], m[key])
  }
  const sampler = setInterval(sample, 50)
  const t0 = performance.now()
  const meta = request.op === "take"
    ? yield* snapshots.take(app, "1.0.0+1.0", volumes)
    : yield* snapshots.restore(app, volumes)
  const millis = performance.now() - t0
  clearInterval(sampler)
  sample()
  const mib = (n: number) => Math.round(n / 2 ** 20 * 10) / 10
  const hwm = /^VmHWM:\s+(\d+) kB$/m.exec(Fs.readFileSync("/proc/self/status", "utf8"))?.[1]
  return {
    op: request.op,
    millis,
    volumes: meta.volumes,
    maxRssKiB: process.resourceUsage().maxRSS,
    vmHwmKiB: hwm === undefined ? null : Number(hwm),
    memoryMiB: {
      before: { rss: mib(before.rss), heapUsed: mib(before.heapUsed), external: mib(before.external) },
      peak: {
        rss: mib(peak.rss),
        heapUsed: mib(peak.heapUsed),
        external: mib(peak.external),
        arrayBuffers: mib(peak.arrayBuffers)
      }
    }
  }
})

program.pipe(
  Effect.provide(
    LiveSnapshots.layer({ stateDir: request.stateDir }).pipe(
      Layer.provideMerge(LiveDocker.layerSocket(request.socket)),
      Layer.provide(NodeContext.layer)
    )
  ),
  Effect.runPromise
).then(
  (result) => process.stdout.write(`${JSON.stringify(result)}\n`),
  (error) => {
    process.stderr.write(`snapshot-child: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exitCode = 1
  }
)
