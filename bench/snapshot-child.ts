/**
 * One pre-copy, take or restore with the live Snapshots layer, in a process of its own so that its
 * peak memory is the snapshot's alone (bench/snapshot.ts runs it under GNU time, whose figure also
 * covers the rsync it starts). The volumes come from the (fake) Engine API as in production.
 * Prints one JSON line: the operation's time, this process's peak RSS and the snapshot's method.
 *
 *   node snapshot-child.mjs '{"op":"take","socket":"/tmp/x/docker.sock","stateDir":"/mnt/state","domain":"..."}'
 */
import { NodeContext } from "@effect/platform-node"
import { Effect, Layer, Logger, LogLevel } from "effect"
import { AppConfig, AppName, appSpec } from "../src/domain/Config.js"
import * as LiveDocker from "../src/live/Docker.js"
import * as LiveSnapshots from "../src/live/Snapshots.js"
import { Docker } from "../src/services/Docker.js"
import { Snapshots } from "../src/services/Snapshots.js"

/** `idle`: the volumes listed and nothing else, for the loaded program's own peak RSS. */
export type ChildOp = "idle" | "precopy" | "take" | "restore"

export interface ChildRequest {
  readonly op: ChildOp
  readonly socket: string
  readonly stateDir: string
  readonly domain: string
}

export interface ChildResult {
  readonly op: ChildOp
  readonly millis: number
  readonly method: string | null
  readonly maxRssKiB: number
  /** The store's own log lines (files hashed, files taken from the volume). */
  readonly logs: ReadonlyArray<string>
}

const request = JSON.parse(process.argv[2] ?? "{}") as ChildRequest
const app = appSpec(AppName.make("bench-snapshot"), new AppConfig({ recipe: "bench", domain: request.domain }))
const logs: Array<string> = []

const program = Effect.gen(function*() {
  const docker = yield* Docker
  const snapshots = yield* Snapshots
  const volumes = yield* docker.stackVolumes(app.stack)
  const t0 = performance.now()
  const method = request.op === "idle"
    ? null
    : request.op === "precopy"
    ? (yield* snapshots.precopy(app, volumes), null)
    : request.op === "take"
    ? (yield* snapshots.take(app, "1.0.0+1.0", volumes)).method ?? null
    : (yield* snapshots.restore(app, volumes)).method ?? null
  const millis = performance.now() - t0
  return { op: request.op, millis, method, maxRssKiB: process.resourceUsage().maxRSS, logs } satisfies ChildResult
})

const collect = Logger.make(({ message }) => {
  logs.push(Array.isArray(message) ? message.join(" ") : String(message))
})

program.pipe(
  Effect.provide(
    LiveSnapshots.layer({ stateDir: request.stateDir }).pipe(
      Layer.provideMerge(LiveDocker.layerSocket(request.socket)),
      Layer.provide(NodeContext.layer)
    )
  ),
  Effect.provide(Logger.replace(Logger.defaultLogger, collect)),
  Logger.withMinimumLogLevel(LogLevel.Info),
  Effect.runPromise
).then(
  (result) => process.stdout.write(`${JSON.stringify(result)}\n`),
  (error) => {
    process.stderr.write(`snapshot-child: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exitCode = 1
  }
)
