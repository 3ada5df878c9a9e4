/**
 * kill -9 at every step boundary of an upgrade and of a rollback, on the real engine of the
 * end-to-end suite. For each path an undisturbed run first lists its boundaries in order: every
 * change of `<stateDir>/<app>/in-flight.json` (the phase written before each destructive step, and
 * its removal) and the start and end of every abra call (the fake abra waits at both while
 * FAKE_ABRA_PAUSE_DIR is set, so the kill lands exactly there). Then, for each boundary: the app
 * fresh on last-good with known data, `warm-reconcile reconcile` killed with SIGKILL at that
 * boundary (it and every process it started, as systemd kills a unit's control group), the CLI run
 * again undisturbed, and the app must end healthy on last-good with its data byte-identical, or on
 * the target with its migrated data; no in-flight record left; a `recovered` alert when the killed
 * run had left a record to recover from.
 *
 * Run with `npx vitest run -c vitest.e2e.config.ts test/e2e/kill.test.ts`; needs root.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { type AbraWorld, makeAbraWorld } from "../support/fakeAbra.js"
import { publish, V, type VersionTag } from "./recipe.js"
import {
  baseEnv,
  enabled,
  endSuite,
  type Entry,
  freePort,
  httpStatus,
  listing,
  seconds,
  sleep,
  spawnReconcile,
  stackOf,
  writeE2eConfig
} from "./support.js"

// Names of this file's own: the engine may be shared with other stacks (e2e-*, bench-*).
const APP = "kill9"
const DOMAIN = "app.kill9.example.org"
const stack = stackOf("app_kill9_example_org")

let world: AbraWorld
let port = 0
let config = ""

const healthUrl = () => `http://127.0.0.1:${port}/health`
const appState = (...parts: Array<string>) => Path.join(world.root, "state", APP, ...parts)
const inFlightFile = () => appState("in-flight.json")
const cliEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  ...baseEnv(),
  ...world.env,
  FAKE_ABRA_DOCKER: "1",
  ...extra
})

const writeConfig = (healthTimeout: string) =>
  writeE2eConfig({ file: config, world, app: APP, domain: DOMAIN, port, healthTimeout })

/** The phase of the in-flight record; `null` when there is none; `undefined` while unreadable. */
const phaseNow = (): string | null | undefined => {
  try {
    const phase = JSON.parse(Fs.readFileSync(inFlightFile(), "utf8")).phase
    return typeof phase === "string" ? phase : undefined
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ENOENT" ? null : undefined
  }
}

const entriesOf = (dir: string): Array<string> => {
  try {
    return Fs.readdirSync(dir)
  } catch {
    return []
  }
}

/**
 * The snapshot store's own steps, as the state dir and the volume's parent show them (the run is
 * not paused there: the kill lands within a few milliseconds after): the pre-copy begun, its
 * record of the volume written (the copy follows), the take's new snapshot begun (the final
 * pass), a restore's staging dir beside the volume (linked, then patched from the snapshot).
 */
const storeMarks = (volumeParent: string | undefined): Array<string> => {
  const marks: Array<string> = []
  const entries = entriesOf(appState())
  if (entries.includes("snapshot.pre")) {
    marks.push("store pre-copy begun")
    if (entriesOf(appState("snapshot.pre", "records")).length > 0) marks.push("store pre-copy recorded")
  }
  if (entries.some((e) => e.startsWith("snapshot.new-"))) marks.push("store take begun")
  if (volumeParent !== undefined && entriesOf(volumeParent).some((e) => e.includes(".warm-restore-"))) {
    marks.push("store restore staging")
  }
  return marks
}

const alerts = () => {
  const dir = Path.join(world.root, "state", "alerts")
  return Fs.existsSync(dir) ? Fs.readdirSync(dir).filter((f) => f.endsWith(".json")).sort() : []
}

// ---------------------------------------------------------------------------------------------
// Processes

/** Every process below `pid`, from /proc (children before they can be reparented). */
const descendants = (pid: number): Array<number> => {
  const parent = new Map<number, number>()
  for (const entry of Fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = Fs.readFileSync(`/proc/${entry}/stat`, "utf8")
      // Fields after the command name, which may itself hold spaces and parentheses.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      parent.set(Number(entry), Number(fields[1]))
    } catch {
      // exited meanwhile
    }
  }
  const out: Array<number> = []
  const walk = (p: number) => {
    for (const [child, ppid] of parent) {
      if (ppid === p) {
        out.push(child)
        walk(child)
      }
    }
  }
  walk(pid)
  return out
}

const gone = (pid: number) => {
  try {
    const stat = Fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")
  } catch {
    return true
  }
}

/** SIGKILL the CLI and everything it started (abra, docker, tar), each by its PID; wait until gone. */
const killTree = async (pid: number) => {
  const below = descendants(pid)
  for (const p of [pid, ...below]) {
    try {
      process.kill(p, "SIGKILL")
    } catch {
      // already gone
    }
  }
  const deadline = Date.now() + 30_000
  while (below.some((p) => !gone(p)) && Date.now() < deadline) await sleep(20)
  return below.length
}

interface Run {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  /** The boundaries seen, in order (only when watched). */
  readonly boundaries: ReadonlyArray<string>
  /** The boundary the run was killed at, and the in-flight phase found right after the kill. */
  readonly killed?: { readonly at: string; readonly phaseAfter: string | null | undefined }
  readonly millis: number
}

const resultLine = (run: Run) =>
  run.stdout.trim().split("\n").filter((l) => l.startsWith("RECONCILE RESULT:")).at(-1) ?? ""

/**
 * `warm-reconcile reconcile kill9`. With `watch`, every boundary is seen (abra waits at each of
 * its own until released); with `killAt` (the n-th occurrence of a boundary), the run is
 * SIGKILLed there.
 */
const reconcile = (options: { readonly watch: boolean; readonly killAt?: readonly [string, number] }) =>
  new Promise<Run>((resolve) => {
    const startedAt = Date.now()
    const pauseDir = options.watch ? Fs.mkdtempSync(Path.join(world.root, "pause-")) : undefined
    const child = spawnReconcile(
      APP,
      config,
      cliEnv(pauseDir === undefined ? {} : { FAKE_ABRA_PAUSE_DIR: pauseDir })
    )
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d) => stdout += d)
    child.stderr.on("data", (d) => stderr += d)
    const boundaries: Array<string> = []
    let phase = phaseNow()
    let stopped = false
    let killing: Promise<unknown> = Promise.resolve()
    let killed: Run["killed"]
    /** Record a boundary; true when the run is to be killed here. */
    const reached = (label: string) => {
      boundaries.push(label)
      const [at, nth] = options.killAt ?? ["", 0]
      if (label !== at || boundaries.filter((b) => b === label).length !== nth) return false
      stopped = true
      killing = killTree(child.pid!).then(() => {
        killed = { at: label, phaseAfter: phaseNow() }
      })
      return true
    }
    const marksSeen = new Set<string>()
    // The volume stays where it is across deploys: looked up once (docker is too slow for a check).
    const volumeParent = (() => {
      try {
        return pauseDir === undefined ? undefined : Path.dirname(stack.volumeDir())
      } catch {
        return undefined
      }
    })()
    // Synchronous from end to end: a check never interleaves with another.
    const check = () => {
      if (stopped || pauseDir === undefined) return
      const now = phaseNow()
      if (now !== undefined && now !== phase) {
        phase = now
        if (reached(`in-flight ${now ?? "removed"}`)) return
      }
      for (const mark of storeMarks(volumeParent)) {
        if (marksSeen.has(mark)) continue
        marksSeen.add(mark)
        if (reached(mark)) return
      }
      // A waiting abra call has written its marker after the phase it follows: phase first.
      for (const name of Fs.readdirSync(pauseDir).sort()) {
        let marker: { command: string; at: string }
        try {
          marker = JSON.parse(Fs.readFileSync(Path.join(pauseDir, name), "utf8"))
        } catch {
          continue // still being written: next check
        }
        if (reached(`abra ${marker.command} ${marker.at}`)) return
        Fs.rmSync(Path.join(pauseDir, name))
      }
    }
    const watchers = pauseDir === undefined ? [] : [
      Fs.watch(pauseDir, check),
      Fs.watch(appState(), check)
    ]
    const timer = pauseDir === undefined ? undefined : setInterval(check, 5)
    child.on("close", async (code, signal) => {
      stopped = true
      clearInterval(timer)
      for (const w of watchers) w.close()
      await killing
      if (pauseDir !== undefined) Fs.rmSync(pauseDir, { recursive: true, force: true })
      resolve({
        code,
        signal,
        stdout,
        stderr,
        boundaries,
        ...(killed === undefined ? {} : { killed }),
        millis: Date.now() - startedAt
      })
    })
  })

/** `abra <args>` in real-deploy mode, for the test's own set-up; throws on failure. */
const abra = (args: ReadonlyArray<string>) => {
  const r = ChildProcess.spawnSync("abra", args, { env: cliEnv(), encoding: "utf8", timeout: 180_000 })
  if (r.status !== 0) throw new Error(`abra ${args.join(" ")} failed: ${r.stderr}`)
}

const copyTree = (from: string, to: string) => {
  for (const name of Fs.readdirSync(to)) Fs.rmSync(Path.join(to, name), { recursive: true, force: true })
  ChildProcess.execFileSync("cp", ["-a", `${from}/.`, to])
}

const waitHealthy = async (version: string) => {
  const deadline = Date.now() + 120_000
  while (Date.now() < deadline) {
    if (stack.deployed() && stack.version() === version && (await httpStatus(healthUrl())) === 200) return
    await sleep(100)
  }
  throw new Error(`${version} did not come up healthy within 120 s`)
}

const sameData = (a: Record<string, Entry>, b: Record<string, Entry>) => JSON.stringify(a) === JSON.stringify(b)

/**
 * The app deployed on `version`, healthy, its volume exactly `data`; last-good `version`, no hold.
 * Redeploys only when the app is not already so: `"kept"` or `"redeployed"`.
 */
const freshOn = async (version: VersionTag, data: string): Promise<"kept" | "redeployed"> => {
  if (Fs.existsSync(inFlightFile())) throw new Error(`an in-flight record is left: ${Fs.readFileSync(inFlightFile())}`)
  const clean = stack.deployed() && stack.version() === version &&
    sameData(listing(stack.volumeDir()), listing(data)) && (await httpStatus(healthUrl())) === 200
  if (!clean) {
    if (world.readState().deployed[DOMAIN] !== undefined) abra(["app", "undeploy", DOMAIN, "-n"])
    copyTree(data, stack.volumeDir())
    abra(["app", "deploy", DOMAIN, version, "-n", "-f"])
    await waitHealthy(version)
  }
  Fs.writeFileSync(appState("last_good"), version)
  Fs.rmSync(appState("hold.json"), { force: true })
  return clean ? "kept" : "redeployed"
}

interface SweepPath {
  readonly name: string
  readonly from: VersionTag
  readonly to: VersionTag
  /** The undisturbed outcome. */
  readonly outcome: string
  /** A copy of the volume as it is on `from`. */
  readonly data: () => string
  /** The volume on the target after a real upgrade to it; none when the target must never stay. */
  readonly targetData: () => Record<string, Entry> | undefined
  /** Checks the undisturbed run's end state (and keeps what later cases compare with). */
  readonly learnt: () => void
}

interface Case {
  readonly boundary: string
  readonly held: boolean
  readonly detail: string
}

/** The undisturbed run (its boundaries), then one killed run and one recovery per boundary. */
const sweep = async (path: SweepPath) => {
  const t0 = Date.now()
  await freshOn(path.from, path.data())
  const learn = await reconcile({ watch: true })
  expect(resultLine(learn), learn.stderr).toBe(`RECONCILE RESULT: ${path.outcome}`)
  expect(learn.boundaries.length).toBeGreaterThan(5)
  path.learnt()
  console.log(`KILL ${path.name}: ${learn.boundaries.length} boundaries: ${learn.boundaries.join(" | ")}`)
  // The upgrade starts with its in-flight record; the boundaries before it (server ls, recipe
  // fetch) change nothing, and a kill there is an ordinary failed run.
  const first = learn.boundaries.findIndex((b) => b.startsWith("in-flight "))
  expect(first).toBeGreaterThan(0)
  const targets = learn.boundaries.map((b, i) =>
    [b, learn.boundaries.slice(0, i + 1).filter((x) => x === b).length] as const
  ).slice(first)
  const cases: Array<Case> = []
  for (const [boundary, nth] of targets) {
    const label = nth > 1 ? `${boundary} #${nth}` : boundary
    const problems: Array<string> = []
    let detail = ""
    // Where the case's time went: the reset, the killed run, the rerun.
    let timing = ""
    try {
      const resetAt = Date.now()
      const reset = await freshOn(path.from, path.data())
      timing = `reset ${reset} ${seconds(Date.now() - resetAt)}`
      const before = listing(stack.volumeDir())
      const alertsBefore = alerts().length
      const killedRun = await reconcile({ watch: true, killAt: [boundary, nth] })
      if (killedRun.killed === undefined) problems.push(`never reached (saw ${killedRun.boundaries.join(" | ")})`)
      if (killedRun.signal !== "SIGKILL") {
        problems.push(`the killed run ended with ${killedRun.code}/${killedRun.signal}`)
      }
      timing += `, killed run ${seconds(killedRun.millis)}`
      const left = killedRun.killed?.phaseAfter ?? null
      const again = await reconcile({ watch: false })
      const result = resultLine(again)
      const running = stack.deployed() ? stack.version() : "nothing"
      const data = stack.deployed() ? listing(stack.volumeDir()) : {}
      const status = await httpStatus(healthUrl())
      const lastGood = Fs.readFileSync(appState("last_good"), "utf8").trim()
      const added = alerts().slice(alertsBefore)
      detail = `record left: ${left ?? "none"}; rerun ${result} (${seconds(again.millis)}); ends on ${running}`
      if (again.code !== 0) problems.push(`rerun exit ${again.code}: ${again.stderr.slice(-2000)}`)
      if (Fs.existsSync(inFlightFile())) problems.push("an in-flight record is left after the rerun")
      if (status !== 200) problems.push(`health answered ${status}`)
      if (lastGood !== running) problems.push(`last-good ${lastGood}, running ${running}`)
      const target = path.targetData()
      if (running === path.from) {
        if (!sameData(data, before)) problems.push("on last-good, but its data differs from before the upgrade")
      } else if (running === path.to && target !== undefined) {
        if (!sameData(data, target)) problems.push("on the target, but its data is not the migrated data")
      } else {
        problems.push(`ends on ${running}`)
      }
      if (left !== null) {
        // The killed run left a record: the rerun recovers (and says so) before anything else.
        if (!result.startsWith("RECONCILE RESULT: recovered:")) problems.push(`recovery expected, got ${result}`)
        if (!added.some((a) => a.endsWith(`-${APP}-recovered.json`))) {
          problems.push(`no recovered alert (added: ${added.join(", ") || "none"})`)
        }
      }
    } catch (e) {
      problems.push(`threw: ${(e as Error).message}`)
    }
    const held = problems.length === 0
    cases.push({ boundary: label, held, detail: held ? detail : `${detail}; ${problems.join("; ")}` })
    console.log(`KILL ${path.name} at [${label}]: ${held ? "held" : "BROKEN"}: ${cases.at(-1)!.detail} [${timing}]`)
  }
  const held = cases.filter((c) => c.held).length
  console.log(
    `kill -9 sweep (${path.name}): ${cases.length} boundaries, ${held} held (${seconds(Date.now() - t0)})`
  )
  return cases
}

// ---------------------------------------------------------------------------------------------

// About 30 s per boundary (a reset, a killed run, a full rerun) on a 2-core machine.
const SWEEP_TIMEOUT = 30 * 60_000

let baseData = ""
let migratedData = ""
let migratedListing: Record<string, Entry> | undefined

describe.skipIf(!enabled)("kill -9 at every step boundary, on a real Docker engine", () => {
  beforeAll(async () => {
    const found = stack.leftovers()
    if (found.length > 0) {
      console.warn(`KILL leftovers of an earlier run removed: ${found.join(", ")}`)
      await stack.remove()
    }
    world = makeAbraWorld()
    Fs.mkdirSync(appState(), { recursive: true })
    port = await freePort()
    config = Path.join(world.root, "config.json")
    // Short: the rollback path waits it out once per run that deploys the broken release.
    writeConfig("8 seconds")
    publish(world.recipesSource, port, [V.base])
    const fresh = await reconcile({ watch: false })
    expect(resultLine(fresh), fresh.stderr).toBe(`RECONCILE RESULT: deployed-fresh:${V.base}`)
    // Users' data of their own, beside the seed: binary, private, nested, a symlink.
    const volume = stack.volumeDir()
    Fs.mkdirSync(Path.join(volume, "uploads", "2024"), { recursive: true })
    Fs.writeFileSync(Path.join(volume, "uploads", "2024", "photo.bin"), Crypto.randomBytes(256 * 1024))
    Fs.writeFileSync(Path.join(volume, "secret.key"), Crypto.randomBytes(64), { mode: 0o600 })
    Fs.symlinkSync("uploads/2024/photo.bin", Path.join(volume, "latest"))
    baseData = Path.join(world.root, "data-1.0")
    migratedData = Path.join(world.root, "data-1.1")
    Fs.mkdirSync(baseData)
    Fs.mkdirSync(migratedData)
    copyTree(volume, baseData)
  })

  afterAll(async () => {
    await endSuite({ stacks: [stack], world })
  })

  it("upgrade 1.0.0 -> 1.1.0: killed at each boundary, the next run ends healthy, data intact", async () => {
    publish(world.recipesSource, port, [V.migrates])
    const cases = await sweep({
      name: "upgrade",
      from: V.base,
      to: V.migrates,
      outcome: `upgraded:${V.base}->${V.migrates}`,
      data: () => baseData,
      targetData: () => migratedListing,
      learnt: () => {
        // The real upgrade's data: 1.0.0's, untouched, plus the migration's marker.
        const volume = stack.volumeDir()
        const { ["migrated-1.1"]: marker, ...rest } = listing(volume)
        expect(marker?.type).toBe("file")
        expect(Fs.readFileSync(Path.join(volume, "migrated-1.1"), "utf8")).toBe("migrated by 1.1.0\n")
        expect(rest).toEqual(listing(baseData))
        migratedListing = listing(volume)
        copyTree(volume, migratedData)
      }
    })
    expect(cases.filter((c) => !c.held).map((c) => `${c.boundary}: ${c.detail}`)).toEqual([])
  }, SWEEP_TIMEOUT)

  it(
    "rollback of a broken 1.2.0 to 1.1.0: killed at each boundary, the next run ends on 1.1.0, data intact",
    async () => {
      publish(world.recipesSource, port, [V.broken])
      const cases = await sweep({
        name: "rollback",
        from: V.migrates,
        to: V.broken,
        outcome: `rolled-back:${V.broken}->${V.migrates}`,
        data: () => migratedData,
        // The broken release must never be left running.
        targetData: () => undefined,
        learnt: () => {
          expect(stack.version()).toBe(V.migrates)
          expect(listing(stack.volumeDir())).toEqual(listing(migratedData))
        }
      })
      expect(cases.filter((c) => !c.held).map((c) => `${c.boundary}: ${c.detail}`)).toEqual([])
    },
    SWEEP_TIMEOUT
  )
})
