/**
 * End to end on a real Docker engine and Swarm: `warm-reconcile reconcile` as operators run it
 * (the CLI entry point, a child process) on the live layers, with DOCKER_HOST unset (the engine's
 * own socket), the fake abra in real-deploy mode (`docker stack deploy`), a recipe whose versions
 * are busybox httpd entrypoints on Swarm's `host` network, and health over HTTP on 127.0.0.1.
 * The app listens on loopback only: the suite fails if its port is ever bound to another address.
 *
 * Run with `npx vitest run -c vitest.e2e.config.ts`; needs root (apt-get, dockerd, volumes).
 * test/e2e/engine.sh starts dockerd (and is told to stop it again only if this suite started it).
 * No registry is contacted: the last test scans dockerd's log for any attempt.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Path from "node:path"
import { inject } from "vitest"
import { type AbraWorld, makeAbraWorld } from "../support/fakeAbra.js"
import { type Listener, listenersOn, parseListeners } from "./listeners.js"
import { publish, RECIPE, SEED, V } from "./recipe.js"
import { reporter, session } from "./session.js"
import {
  docker,
  enabled,
  endSuite,
  type Entry,
  freePort,
  httpStatus,
  listing,
  seconds,
  sleep,
  stackOf,
  writeE2eConfig
} from "./support.js"

const APP = "e2e"
const DOMAIN = "app.e2e.example.org"
const STACK = "app_e2e_example_org"
const stack = stackOf(STACK)
const leftovers = stack.leftovers
const removeStack = stack.remove
const runningContainer = stack.runningContainer
const serviceVersion = stack.version
const volumeDir = stack.volumeDir

/** Any sign in dockerd's log that it tried to reach a registry (pull, digest resolution, proxy use). */
const REGISTRY_ATTEMPT = new RegExp(
  [
    String.raw`registry-1\.docker\.io`,
    String.raw`index\.docker\.io`,
    String.raw`auth\.docker\.io`,
    String.raw`registry\.hub\.docker\.com`,
    String.raw`cloudflare\.docker\.com`,
    String.raw`/images/create`,
    String.raw`\bpull(s|ing|ed)?\b`,
    String.raw`\bresolv(e|es|ed|ing)\b[^"]*\b(image|digest|reference|registry)`,
    String.raw`\bpin image\b`,
    String.raw`\bto digest\b`,
    String.raw`proxyconnect`,
    // The dead proxy dockerd was given: any use of it is an attempt to leave the machine.
    String.raw`127\.0\.0\.1:9\b`
  ].join("|"),
  "i"
)

// ---------------------------------------------------------------------------------------------
// Docker, processes and HTTP

interface Sample {
  readonly at: number
  readonly status: number | string
  /** What listened on the app's port just before the request. */
  readonly listeners: ReadonlyArray<Listener>
}

/** Polls the health URL in the background, as a user would see the app, and who listens on its port. */
const poller = (url: string, port: number) => {
  const samples: Array<Sample> = []
  let stopped = false
  const loop = (async () => {
    while (!stopped) {
      const at = Date.now()
      const listeners = listenersOn(port)
      samples.push({ at, listeners, status: await httpStatus(url, 500) })
      await sleep(100)
    }
  })()
  return {
    samples,
    stop: async () => {
      stopped = true
      await loop
    }
  }
}

/** From the first sample after `from` that is not 200 to the first 200 after it. */
const downtime = (samples: ReadonlyArray<Sample>, from: number) => {
  const after = samples.filter((s) => s.at >= from)
  const down = after.findIndex((s) => s.status !== 200)
  if (down < 0) return { down: undefined, up: undefined, millis: 0 }
  const up = after.slice(down).find((s) => s.status === 200)
  return { down: after[down]!.at, up: up?.at, millis: up === undefined ? undefined : up.at - after[down]!.at }
}

const firstOk = (samples: ReadonlyArray<Sample>, from: number) =>
  samples.find((s) => s.at >= from && s.status === 200)?.at

// ---------------------------------------------------------------------------------------------
// The CLI

let world: AbraWorld
let port = 0
let config = ""

const app = session({ world: () => world, app: APP, config: () => config })
const { alerts, changes, deployOf, lastGood, readAlert, reconcile, result, stateFile, steps } = app
const cliEnv = app.env

/** The config, with the health deadline of the scenario. */
const writeConfig = (healthTimeout: string) =>
  writeE2eConfig({ file: config, world, app: APP, domain: DOMAIN, port, healthTimeout })

const { lines: report, say } = reporter()

// ---------------------------------------------------------------------------------------------

let health: ReturnType<typeof poller> | undefined

describe.skipIf(!enabled)("reconcile on a real Docker engine and Swarm", () => {
  beforeAll(async () => {
    expect(docker(["info", "--format", "{{.Swarm.LocalNodeState}}"]).trim()).toBe("active")
    const found = leftovers()
    if (found.length > 0) {
      // A run that was killed cannot have cleaned up: say so, then start from nothing.
      console.warn(`E2E leftovers of an earlier run removed: ${found.join(", ")}`)
      await removeStack()
    }
    world = makeAbraWorld()
    Fs.mkdirSync(Path.join(world.root, "state"), { recursive: true })
    port = await freePort()
    config = Path.join(world.root, "config.json")
    writeConfig("20 seconds")
    health = poller(`http://127.0.0.1:${port}/health`, port)
  })

  afterAll(async () => {
    await health?.stop()
    await endSuite({ stacks: [stack], world, summary: { title: "E2E summary", lines: report } })
  })

  it("(a) deploys 1.0.0 fresh: the stack runs, answers 200, seeds its volume", async () => {
    publish(world.recipesSource, port, [V.base])
    const run = await reconcile()
    say(`(a) ${result(run)} in ${seconds(run.endedAt - run.startedAt)}`)
    expect(result(run), run.stderr).toBe(`RECONCILE RESULT: deployed-fresh:${V.base}`)
    expect(run.code).toBe(0)
    expect(serviceVersion()).toBe(V.base)
    expect(await httpStatus(`http://127.0.0.1:${port}/health`)).toBe(200)
    expect(listenersOn(port).map((l) => l.address)).toEqual(["127.0.0.1"])
    expect(lastGood()).toBe(V.base)
    expect(Fs.readFileSync(Path.join(volumeDir(), "db.txt"), "utf8")).toBe(SEED)
    // abra pinned the version into the env file, and the reconciler cleared Let's Encrypt.
    const env = Fs.readFileSync(world.envFile(DOMAIN), "utf8")
    expect(env).toContain(`TYPE=${RECIPE}:${V.base}`)
    expect(env).toMatch(/^LETS_ENCRYPT_ENV=$/m)
    // The app's users add data of their own: binary, a private file, a nested directory.
    const data = volumeDir()
    Fs.mkdirSync(Path.join(data, "uploads", "2024"), { recursive: true })
    Fs.writeFileSync(Path.join(data, "uploads", "2024", "photo.bin"), Crypto.randomBytes(256 * 1024))
    Fs.writeFileSync(Path.join(data, "secret.key"), Crypto.randomBytes(64), { mode: 0o600 })
    Fs.symlinkSync("uploads/2024/photo.bin", Path.join(data, "latest"))
  })

  it("(b) changes nothing when 1.0.0 is the latest and healthy", async () => {
    const container = runningContainer()
    expect(container).toBeDefined()
    const run = await reconcile()
    say(`(b) ${result(run)} in ${seconds(run.endedAt - run.startedAt)}`)
    expect(result(run), run.stderr).toBe(`RECONCILE RESULT: noop-healthy:${V.base}`)
    expect(run.code).toBe(0)
    expect(changes(run.startedAt)).toEqual([])
    // The same container still runs: not even a redeploy.
    expect(runningContainer()).toBe(container)
  })

  it("(c) upgrades to 1.1.0 when it is healthy; last-good advances; the migration ran once", async () => {
    publish(world.recipesSource, port, [V.migrates])
    const run = await reconcile()
    const gap = downtime(health!.samples, run.startedAt)
    say(
      `(c) ${result(run)} in ${seconds(run.endedAt - run.startedAt)}; downtime (first non-200 to first 200) ${
        seconds(gap.millis)
      }`
    )
    expect(result(run), run.stderr).toBe(`RECONCILE RESULT: upgraded:${V.base}->${V.migrates}`)
    expect(run.code).toBe(0)
    expect(serviceVersion()).toBe(V.migrates)
    expect(lastGood()).toBe(V.migrates)
    expect(Fs.readFileSync(Path.join(volumeDir(), "migrated-1.1"), "utf8")).toBe("migrated by 1.1.0\n")
    // Stateful: undeployed for a snapshot of 1.0.0, then deployed; the app came back.
    expect(steps(run.startedAt)).toEqual([["undeploy"], ["deploy", V.migrates]])
    expect(JSON.parse(Fs.readFileSync(stateFile(APP, "snapshot", "meta.json"), "utf8")).version).toBe(V.base)
    expect(gap.millis).toBeDefined()
    expect(await httpStatus(`http://127.0.0.1:${port}/health`)).toBe(200)
    expect(listenersOn(port).map((l) => l.address)).toEqual(["127.0.0.1"])
  })

  let beforeBroken: Record<string, Entry> = {}

  it("(d) rolls a broken 1.2.0 back: its data migration undone byte for byte, 1.1.0 serving again", async () => {
    writeConfig("15 seconds")
    publish(world.recipesSource, port, [V.broken])
    const data = volumeDir()
    beforeBroken = listing(data)
    expect(beforeBroken["db.txt"]?.type).toBe("file")
    // Watch the volume: the broken release must really have rewritten it before the restore.
    let migrated = false
    const watch = setInterval(() => {
      try {
        if (Fs.readFileSync(Path.join(data, "db.txt"), "utf8").includes("schema=2")) migrated = true
      } catch {
        // mid-restore
      }
    }, 50)
    const run = await reconcile().finally(() => clearInterval(watch))
    const brokenDeploy = deployOf(run.startedAt, V.broken)
    const restored = firstOk(health!.samples, brokenDeploy?.endedAt ?? Infinity)
    say(
      `(d) ${result(run)} in ${seconds(run.endedAt - run.startedAt)}; broken deploy to restored app serving ${
        seconds(restored === undefined ? undefined : restored - brokenDeploy!.endedAt)
      } (health timeout 15 s)`
    )
    expect(result(run), run.stderr).toBe(`RECONCILE RESULT: rolled-back:${V.broken}->${V.migrates}`)
    expect(run.code).toBe(0)
    expect(steps(run.startedAt)).toEqual([["undeploy"], ["deploy", V.broken], ["undeploy"], ["deploy", V.migrates]])
    expect(migrated).toBe(true)
    expect(listing(volumeDir())).toEqual(beforeBroken)
    expect(serviceVersion()).toBe(V.migrates)
    expect(await httpStatus(`http://127.0.0.1:${port}/health`)).toBe(200)
    expect(listenersOn(port).map((l) => l.address)).toEqual(["127.0.0.1"])
    expect(restored).toBeDefined()
    expect(lastGood()).toBe(V.migrates)
    const rollbacks = alerts().filter((f) => f.endsWith(`-${APP}-rollback.json`))
    expect(rollbacks).toHaveLength(1)
    expect(readAlert(rollbacks[0]!)).toMatchObject({ reason: "rollback", attempted: V.broken, last_good: V.migrates })
  })

  it("(g) SIGTERM during the health wait of the broken release: the rollback completes, exit 143", async () => {
    writeConfig("3 minutes")
    // Retry the release that was held as failed.
    Fs.rmSync(stateFile(APP, "hold.json"))
    let waiting = false
    let signalledAt = 0
    const run = await reconcile((stderr, child) => {
      if (!waiting && stderr.includes(`health gate for ${V.broken}`)) {
        waiting = true
        setTimeout(() => {
          signalledAt = Date.now()
          child.kill("SIGTERM")
        }, 2_000)
      }
    })
    const restored = firstOk(health!.samples, signalledAt)
    say(
      `(g) ${result(run)} exit ${run.code}; SIGTERM to exit ${seconds(run.endedAt - signalledAt)}, ` +
        `SIGTERM to restored app serving ${seconds(restored === undefined ? undefined : restored - signalledAt)}`
    )
    expect(signalledAt).toBeGreaterThan(0)
    expect(run.code, run.stderr).toBe(143)
    expect(result(run)).toBe(`RECONCILE RESULT: rolled-back:${V.broken}->${V.migrates} (interrupted)`)
    // The broken release was running when the signal came; undone after it.
    expect(deployOf(run.startedAt, V.broken)!.endedAt).toBeLessThan(signalledAt)
    expect(steps(signalledAt)).toEqual([["undeploy"], ["deploy", V.migrates]])
    expect(listing(volumeDir())).toEqual(beforeBroken)
    expect(serviceVersion()).toBe(V.migrates)
    expect(await httpStatus(`http://127.0.0.1:${port}/health`)).toBe(200)
    expect(listenersOn(port).map((l) => l.address)).toEqual(["127.0.0.1"])
  })

  it("(f) rolls a crash-looping 1.3.0 back long before the health deadline", async () => {
    writeConfig("3 minutes")
    publish(world.recipesSource, port, [V.crashes])
    const run = await reconcile()
    const crashDeploy = deployOf(run.startedAt, V.crashes)
    const rollbackStart = changes(crashDeploy?.endedAt ?? Infinity).find((c) => c.argv[1] === "undeploy")
    const detected = rollbackStart === undefined ? undefined : rollbackStart.at - crashDeploy!.endedAt
    const restored = firstOk(health!.samples, crashDeploy?.endedAt ?? Infinity)
    say(
      `(f) ${result(run)} in ${seconds(run.endedAt - run.startedAt)}; deploy to rollback start ${
        seconds(detected)
      }, to restored app serving ${
        seconds(restored === undefined ? undefined : restored - crashDeploy!.endedAt)
      } (health timeout 3 min)`
    )
    expect(result(run), run.stderr).toBe(`RECONCILE RESULT: rolled-back:${V.crashes}->${V.migrates}`)
    expect(run.code).toBe(0)
    expect(detected).toBeDefined()
    expect(detected!).toBeLessThan(60_000)
    const alert = readAlert(alerts().filter((f) => f.endsWith(`-${APP}-rollback.json`)).at(-1)!)
    expect(alert).toMatchObject({ attempted: V.crashes, last_good: V.migrates })
    expect(alert.cause).toContain("crash-looping")
    expect(listing(volumeDir())).toEqual(beforeBroken)
    expect(serviceVersion()).toBe(V.migrates)
    expect(await httpStatus(`http://127.0.0.1:${port}/health`)).toBe(200)
    expect(listenersOn(port).map((l) => l.address)).toEqual(["127.0.0.1"])
  })

  /** A hold: the outcome, an alert, and nothing touched on the engine. */
  const heldWithNothingTouched = async (tag: string, outcome: string, reason: string) => {
    const container = runningContainer()
    const before = listing(volumeDir())
    const alertsBefore = alerts().length
    const run = await reconcile()
    say(`${tag} ${result(run)} in ${seconds(run.endedAt - run.startedAt)}`)
    expect(result(run), run.stderr).toBe(`RECONCILE RESULT: ${outcome}`)
    expect(run.code).toBe(0)
    expect(changes(run.startedAt)).toEqual([])
    expect(runningContainer()).toBe(container)
    expect(serviceVersion()).toBe(V.migrates)
    expect(listing(volumeDir())).toEqual(before)
    const added = alerts().slice(alertsBefore)
    expect(added).toHaveLength(1)
    expect(added[0]).toMatch(new RegExp(`-${APP}-${reason}\\.json$`))
    return readAlert(added[0]!)
  }

  it("(h) holds at 1.1.0 when a skipped release asks for a manual migration", async () => {
    publish(world.recipesSource, port, [V.manual])
    const alert = await heldWithNothingTouched(
      "(h)",
      `held-manual-migration:${V.migrates}->${V.crashes}`,
      "held-manual-migration"
    )
    expect(alert.versions).toEqual([V.manual])
    expect(alert.release_notes).toContain("ACTION REQUIRED")
  })

  it("(e) holds a major bump to 2.0.0 with nothing touched", async () => {
    publish(world.recipesSource, port, [V.major])
    const alert = await heldWithNothingTouched("(e)", `held-major:${V.migrates}->${V.major}`, "held-major")
    expect(alert).toMatchObject({ current: V.migrates, latest: V.major })
  })

  // Issue 13: beside the operator. Written with the change, not yet run on the real engine.

  /** `abra <args>` as an operator runs it on this engine (real-deploy mode). */
  const abraByHand = (args: ReadonlyArray<string>) => {
    const r = ChildProcess.spawnSync("abra", args, { env: cliEnv(), encoding: "utf8", timeout: 180_000 })
    expect(r.status, r.stderr).toBe(0)
  }
  /** The suite's config with `more` merged into the app's entry, as another file. */
  const configWith = (name: string, more: Record<string, unknown>) => {
    const json = JSON.parse(Fs.readFileSync(config, "utf8"))
    json.apps[APP] = { ...json.apps[APP], ...more }
    const file = Path.join(world.root, name)
    Fs.writeFileSync(file, JSON.stringify(json))
    return file
  }
  const runWith = (file: string) => reconcile(undefined, file)

  it("(i) a domain typo: exit 2 naming the right domain; no abra call that changes anything", async () => {
    const typo = configWith("config-typo.json", { domain: DOMAIN.replace("example", "exmaple"), create: false })
    const calls = world.readCalls().length
    const run = await runWith(typo)
    say(`(i) exit ${run.code}: ${run.stderr.trim().split("\n").at(-1)}`)
    expect(run.code).toBe(2)
    expect(run.stderr).toContain(`did you mean ${DOMAIN}?`)
    const changing = world.readCalls().slice(calls).map((c) => c.argv.slice(0, 2).join(" "))
      .filter((c) => c !== "server ls" && c !== "app ls")
    expect(changing).toEqual([])
  })

  it("(j) a chaos deploy by hand is left running untouched, with one alert", async () => {
    const clone = Path.join(world.abraDir, "recipes", RECIPE)
    abraByHand(["app", "deploy", DOMAIN, "-C", "-o", "-n", "-f"])
    const container = runningContainer()
    const labels = docker(["service", "inspect", `${STACK}_app`, "--format", "{{json .Spec.Labels}}"])
    expect(JSON.parse(labels)[`coop-cloud.${STACK}.chaos`]).toBe("true")
    const env = Fs.readFileSync(world.envFile(DOMAIN), "utf8")
    const head = ChildProcess.execFileSync("git", ["-C", clone, "rev-parse", "HEAD"], { encoding: "utf8" })
    const data = listing(volumeDir())
    const alertsBefore = alerts().length
    const run = await reconcile()
    say(`(j) ${result(run)} in ${seconds(run.endedAt - run.startedAt)}`)
    expect(result(run), run.stderr).toMatch(/^RECONCILE RESULT: held-chaos:[0-9a-f]{7,}/)
    expect(run.code).toBe(0)
    expect(changes(run.startedAt)).toEqual([])
    expect(runningContainer()).toBe(container)
    expect(docker(["service", "inspect", `${STACK}_app`, "--format", "{{json .Spec.Labels}}"])).toBe(labels)
    expect(Fs.readFileSync(world.envFile(DOMAIN), "utf8")).toBe(env)
    expect(ChildProcess.execFileSync("git", ["-C", clone, "rev-parse", "HEAD"], { encoding: "utf8" })).toBe(head)
    expect(listing(volumeDir())).toEqual(data)
    const added = alerts().slice(alertsBefore)
    expect(added).toHaveLength(1)
    expect(added[0]).toMatch(new RegExp(`-${APP}-held-chaos\\.json$`))
    // Hand it back: a release deployed with abra.
    abraByHand(["app", "deploy", DOMAIN, V.migrates, "-o", "-n", "-f"])
  })

  it("(k) an app undeployed by hand stays undeployed (no keepDeployed)", async () => {
    abraByHand(["app", "undeploy", DOMAIN, "-n"])
    const file = configWith("config-undeployed.json", { keepDeployed: false })
    const run = await runWith(file)
    say(`(k) ${result(run)} in ${seconds(run.endedAt - run.startedAt)}`)
    expect(result(run), run.stderr).toBe(`RECONCILE RESULT: held-undeployed:${V.migrates}`)
    expect(run.code).toBe(0)
    expect(changes(run.startedAt)).toEqual([])
    expect(leftovers().filter((l) => l.startsWith("service"))).toEqual([])
    // The suite's own config keeps it deployed: back to 1.1.0 for what follows.
    const back = await reconcile()
    expect(result(back), back.stderr).toBe(`RECONCILE RESULT: deployed-fresh:${V.migrates}`)
  })

  it("the app's port was bound on 127.0.0.1 only, all through the suite", () => {
    const samples = health!.samples
    const answered = samples.filter((s) => s.status === 200)
    const bound = samples.filter((s) => s.listeners.length > 0)
    const exposed = samples.filter((s) => s.listeners.some((l) => !l.loopback))
    say(
      `port ${port}: ${samples.length} samples, ${answered.length} answered 200, ${bound.length} saw a listener, ` +
        `${exposed.length} on a non-loopback address`
    )
    // Not a vacuous check: the table, read just before each request, had the app's socket in
    // (nearly) every sample that got a 200; only one read as httpd was binding can miss it.
    expect(answered.length).toBeGreaterThan(0)
    expect(bound.length).toBeGreaterThan(answered.length / 2)
    expect(exposed.map((s) => s.listeners.map((l) => l.address).join(" "))).toEqual([])
  })

  it("dockerd never tried to reach a registry", () => {
    // From before the run's engine start (test/e2e/engineSetup.ts): the files running beside this
    // one and the start itself are scanned too.
    const { file, offset } = inject("engineLog")
    const log = Fs.readFileSync(file).subarray(offset).toString("utf8")
    // The containers this file started are in it (one shim each).
    expect(log.split("\n").filter((line) => line.includes("starting signal loop")).length).toBeGreaterThan(5)
    const attempts = log.split("\n").filter((line) => REGISTRY_ATTEMPT.test(line))
    say(`registry attempts in dockerd's log: ${attempts.length}`)
    expect(attempts).toEqual([])
  })
})

describe("the registry scan of dockerd's log", () => {
  it("catches pulls, digest resolution and proxy use, and passes dockerd's ordinary lines", () => {
    const attempts = [
      String
        .raw`level=warning msg="unable to pin image local/busybox:latest to digest: Get \"https://registry-1.docker.io/v2/\": proxyconnect tcp: dial tcp 127.0.0.1:9: connect: connection refused"`,
      `level=info msg="Attempting next endpoint for pull after error: Head https://index.docker.io/v2/x: EOF"`,
      `level=error msg="Handler for POST /v1.41/images/create returned error: Get https://auth.docker.io/token: EOF"`,
      `level=error msg="error resolving image reference: no such host"`,
      `level=info msg="pulling image busybox:latest"`
    ]
    const ordinary = [
      `level=info msg="[core] ccResolverWrapper: sending update to cc: {[{unix:///var/run/docker/containerd/containerd.sock  <nil> 0 <nil>}] <nil> <nil>}" module=grpc`,
      `level=info msg="Creating default ingress network" module=node`,
      `level=error msg="enabling default vlan on bridge br0 failed open /sys/class/net/br0/bridge/default_pvid: permission denied"`,
      `level=info msg="Initializing Libnetwork Agent Listen-Addr=127.0.0.1 Local-addr=127.0.0.1 Adv-addr=127.0.0.1"`,
      `level=info msg="API listen on /var/run/docker.sock"`
    ]
    expect(attempts.filter((line) => !REGISTRY_ATTEMPT.test(line))).toEqual([])
    expect(ordinary.filter((line) => REGISTRY_ATTEMPT.test(line))).toEqual([])
  })
})

describe("the listening-address check", () => {
  // Port 0x1F90 = 8080; addresses as the kernel writes them: each 32-bit word in host byte order.
  const header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode"
  const row = (local: string, state: string) =>
    `   0: ${local} 00000000:0000 ${state} 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0`

  it("reads IPv4 and IPv6 listeners of one port and tells loopback from the rest", () => {
    const v4 = [
      header,
      row("0100007F:1F90", "0A"), // 127.0.0.1:8080, listening
      row("00000000:1F90", "0A"), // 0.0.0.0:8080, listening
      row("0100007F:1F91", "0A"), // another port
      row("0100007F:1F90", "01") // an established connection on 8080, not a listener
    ].join("\n")
    const v6 = [
      header,
      row("00000000000000000000000001000000:1F90", "0A"), // [::1]
      row("00000000000000000000000000000000:1F90", "0A"), // [::]
      row("0000000000000000FFFF00000100007F:1F90", "0A"), // [::ffff:127.0.0.1]
      row("0000000000000000FFFF00000A00000A:1F90", "0A") // [::ffff:10.0.0.10]
    ].join("\n")
    expect(parseListeners(v4, 8080, true)).toEqual([
      { address: "127.0.0.1", loopback: true },
      { address: "0.0.0.0", loopback: false }
    ])
    expect(parseListeners(v6, 8080, true)).toEqual([
      { address: "[::1]", loopback: true },
      { address: "[::]", loopback: false },
      { address: "[::ffff:127.0.0.1]", loopback: true },
      { address: "[::ffff:10.0.0.10]", loopback: false }
    ])
    expect(parseListeners([header, row("7F000001:1F90", "0A")].join("\n"), 8080, false)).toEqual([
      { address: "127.0.0.1", loopback: true }
    ])
  })

  it("sees a real server on 127.0.0.1 while it listens, and nothing after it closes", async () => {
    const server = Net.createServer()
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    const address = server.address()
    const port = typeof address === "object" && address ? address.port : 0
    try {
      expect(listenersOn(port)).toEqual([{ address: "127.0.0.1", loopback: true }])
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
    expect(listenersOn(port)).toEqual([])
  })
})
