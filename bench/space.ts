/**
 * Figure 1's space check, end to end: the bundled CLI's `reconcile` of a stateful app whose next
 * snapshot does not fit where snapshots are kept (the state dir on a 64 MiB ext4). Held means the
 * outcome is `held-no-space` and the fake abra saw no undeploy or deploy.
 */
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { stackName } from "../src/domain/Config.js"
import { deployWithAbra, makeAbraWorld, writeConfig } from "../test/support/fakeAbra.js"
import { fakeEngine, stackVolume } from "../test/support/fakeEngine.js"
import { httpsServer } from "../test/support/httpsServer.js"
import { makeDisk } from "./disk.js"
import type { Bundles } from "./lib.js"
import { cleanEnv, exec, progress } from "./lib.js"
import type { SpaceResult } from "./snapshot.js"
import { generate } from "./volume.js"

const DOMAIN = "space.bench.example.org"
const FROM = "1.0.0+1.0"
const TO = "1.1.0+1.1"

export const spaceCheck = (bundles: Bundles) =>
  Effect.gen(function*() {
    const world = yield* Effect.acquireRelease(Effect.sync(makeAbraWorld), (w) => Effect.sync(() => w.cleanup()))
    deployWithAbra(world, {
      recipe: "bench-space",
      domain: DOMAIN,
      versions: [{ tag: FROM }, { tag: TO }],
      deployed: FROM,
      generateSecrets: true
    })
    const dataRoot = Path.join(world.root, "docker")
    const mountpoint = Path.join(dataRoot, "volumes", `${stackName(DOMAIN)}_data`, "_data")
    Fs.mkdirSync(mountpoint, { recursive: true })
    const volume = generate(mountpoint, 256 * 2 ** 20, 2_000)
    const engine = yield* fakeEngine({
      abraDir: world.abraDir,
      state: { dataRoot, volumes: [stackVolume(stackName(DOMAIN), "data", mountpoint)] }
    })
    const small = yield* Effect.acquireRelease(
      Effect.promise(() => makeDisk("ext4", 64 * 2 ** 20)),
      (d) => Effect.promise(() => d.release().catch((e) => progress("snapshot", `cleanup failed: ${e}`)))
    )
    const server = yield* httpsServer(DOMAIN, { "/health": { status: 200, body: "ok" } })
    const config = writeConfig(world, {
      space: { recipe: "bench-space", domain: DOMAIN, health: { path: "/health", connect: `127.0.0.1:${server.port}` } }
    }, { stateDir: Path.join(small.mnt, "state") })
    const env = cleanEnv({ ...world.env, DOCKER_HOST: `unix://${engine.socket}` })
    const r = yield* Effect.promise(() =>
      exec(process.execPath, [bundles.cli, "reconcile", "space", "--config", config], { env })
    )
    const outcome = /RECONCILE RESULT: (\S+)/.exec(r.stdout)?.[1] ?? `exit ${r.code}: ${r.stderr.slice(-500)}`
    const figures = /snapshot of (.+?) that does not fit in the (.+?) free/.exec(`${r.stdout}\n${r.stderr}`)
    const changes = world.readCalls().filter((c) => c.argv.includes("undeploy") || c.argv.includes("deploy")).length
    const deployed = world.readState().deployed[DOMAIN]?.version
    return {
      outcome,
      held: outcome === `held-no-space:${FROM}->${TO}` && deployed === FROM,
      // The deploy that set the world up is the only one allowed.
      undeploys: changes - 1,
      needed: figures?.[1] ?? `${volume.bytes} bytes of data`,
      free: figures?.[2] ?? "?"
    } satisfies SpaceResult
  })
