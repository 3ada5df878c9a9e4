/** What every figure of the benchmark shares: progress lines, statistics, child processes, bundles. */
import { build } from "esbuild"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

export const ROOT = fileURLToPath(new URL("..", import.meta.url))

const started = performance.now()

/** A progress line on stderr, with the seconds since the run began. */
export const progress = (figure: string, text: string): void => {
  process.stderr.write(
    `[bench ${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s] ${figure}: ${text}\n`
  )
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

// ---------------------------------------------------------------------------------------------
// Statistics

export const median = (values: ReadonlyArray<number>): number => quantile(values, 0.5)

/** The q-quantile by linear interpolation between order statistics (numpy's default). */
export const quantile = (values: ReadonlyArray<number>, q: number): number => {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const at = (sorted.length - 1) * q
  const lo = Math.floor(at)
  const hi = Math.ceil(at)
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo)
}

export const round = (value: number, digits = 2): number => {
  const f = 10 ** digits
  return Math.round(value * f) / f
}

/** A deterministic PRNG (xorshift32): the same seed gives the same volume and the same moments. */
export const prng = (seed: number) => {
  let s = seed >>> 0 || 0x9e3779b9
  return (): number => {
    s ^= s << 13
    s >>>= 0
    s ^= s >>> 17
    s ^= s << 5
    s >>>= 0
    return s / 2 ** 32
  }
}

// ---------------------------------------------------------------------------------------------
// Results

export interface Target {
  readonly name: string
  /** As a person reads it, e.g. ">= 0.85". */
  readonly target: string
  readonly value: number | null
  readonly unit: string
  readonly pass: boolean | null
  /** When missed (or not measured): by how much and why. */
  readonly note?: string
}

export interface Figure {
  readonly id: string
  readonly title: string
  readonly status: "measured" | "skipped" | "failed"
  /** Why it was skipped or failed. */
  readonly reason?: string
  readonly seconds: number
  readonly targets: ReadonlyArray<Target>
  /** Rows for the report's table: label, ours, the reference, ratio. */
  readonly rows: ReadonlyArray<Row>
  /** How it was measured, one sentence each. */
  readonly method: ReadonlyArray<string>
  /** Everything measured, raw. */
  readonly data: Record<string, unknown>
}

export interface Row {
  readonly label: string
  readonly ours: string
  readonly reference: string
  readonly ratio: string
}

// ---------------------------------------------------------------------------------------------
// Child processes

export interface Exec {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  readonly millis: number
  readonly pid: number
}

export interface ExecOptions {
  readonly env?: NodeJS.ProcessEnv
  readonly cwd?: string
  /** SIGTERM after this long, SIGKILL 20 s later. */
  readonly timeoutMs?: number
  readonly input?: string
  /** Called with the child's pid once it runs (e.g. to sample its memory). */
  readonly onStart?: (pid: number) => void
}

/** Run a program (no shell) to its end without blocking the event loop; never throws on a bad exit. */
export const exec = (file: string, args: ReadonlyArray<string>, options: ExecOptions = {}) =>
  new Promise<Exec>((resolve, reject) => {
    const t0 = performance.now()
    const child = ChildProcess.spawn(file, args, {
      env: options.env ?? process.env,
      cwd: options.cwd ?? ROOT,
      stdio: ["pipe", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d) => stdout += d)
    child.stderr.on("data", (d) => stderr += d)
    child.stdin.on("error", () => {})
    child.stdin.end(options.input ?? "")
    let kill: NodeJS.Timeout | undefined
    let hardKill: NodeJS.Timeout | undefined
    if (options.timeoutMs !== undefined) {
      kill = setTimeout(() => {
        child.kill("SIGTERM")
        hardKill = setTimeout(() => child.kill("SIGKILL"), 20_000)
      }, options.timeoutMs)
    }
    child.on("error", reject)
    if (child.pid !== undefined) options.onStart?.(child.pid)
    child.on("close", (code, signal) => {
      clearTimeout(kill)
      clearTimeout(hardKill)
      resolve({ code, signal, stdout, stderr, millis: performance.now() - t0, pid: child.pid ?? 0 })
    })
  })

/** Like {@link exec}, but a non-zero exit is an error carrying the end of stderr. */
export const mustExec = async (file: string, args: ReadonlyArray<string>, options: ExecOptions = {}) => {
  const r = await exec(file, args, options)
  if (r.code !== 0) {
    throw new Error(`${file} ${args.join(" ")} exited with ${r.code ?? r.signal}: ${r.stderr.trim().slice(-1500)}`)
  }
  return r
}

/** The peak resident set (VmHWM, KiB) of a live process, or undefined once it is gone. */
export const peakRssKiB = (pid: number): number | undefined => {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(Fs.readFileSync(`/proc/${pid}/status`, "utf8"))
    return m === null ? undefined : Number(m[1])
  } catch {
    return undefined
  }
}

/** The environment without anything that points our programs at another engine or fake. */
export const cleanEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { ...process.env }
  for (
    const key of [
      "DOCKER_HOST",
      "FAKE_ABRA_FAIL",
      "FAKE_ABRA_HANG",
      "FAKE_ABRA_DEPLOY_DELAY_MS",
      "FAKE_ABRA_DOCKER",
      "FAKE_ABRA_DOCKER_TIMEOUT_MS",
      "FAKE_ABRA_PAUSE_DIR",
      "WARM_RECONCILE_SKIP_FETCH",
      "CCCI_SKIP_FETCH"
    ]
  ) delete env[key]
  return { ...env, ...extra }
}

// ---------------------------------------------------------------------------------------------
// Bundles

export interface Bundles {
  readonly dir: string
  /** The CLI, bundled from src/bin.ts as scripts/build.mjs does, so the figures run today's source. */
  readonly cli: string
  readonly fleetChild: string
  readonly snapshotChild: string
}

/** Bundle the entry points that run as child processes: plain `node` on one file, as in production. */
export const makeBundles = async (): Promise<Bundles> => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "warm-bench-bundles-"))
  const entries = {
    cli: Path.join(ROOT, "src/bin.ts"),
    fleetChild: Path.join(ROOT, "bench/fleet-child.ts"),
    snapshotChild: Path.join(ROOT, "bench/snapshot-child.ts")
  }
  const out = Object.fromEntries(Object.keys(entries).map((k) => [k, Path.join(dir, `${k}.mjs`)])) as Record<
    keyof typeof entries,
    string
  >
  await Promise.all(
    Object.entries(entries).map(([name, entry]) =>
      build({
        entryPoints: [entry],
        outfile: out[name as keyof typeof entries],
        bundle: true,
        platform: "node",
        target: "node20",
        format: "esm",
        legalComments: "none",
        // The same banner as scripts/build.mjs: undici and other CommonJS dependencies call require().
        banner: {
          js:
            "import { createRequire as __createRequire } from \"node:module\"; const require = __createRequire(import.meta.url);"
        },
        logLevel: "warning"
      })
    )
  )
  return { dir, ...out }
}

// ---------------------------------------------------------------------------------------------
// The machine

export interface Filesystem {
  readonly source: string
  readonly type: string
  readonly options: string
  /** For ext4: whether it has a journal (jbd2 lists the journals of mounted filesystems). */
  readonly journal: boolean | null
}

/** The filesystem a path is on, from findmnt. */
export const filesystemOf = async (path: string): Promise<Filesystem> => {
  const r = await exec("findmnt", ["-n", "-o", "SOURCE,FSTYPE,OPTIONS", "--target", path])
  const [source = "unknown", type = "unknown", options = ""] = r.code === 0 ? r.stdout.trim().split(/\s+/) : []
  const device = Path.basename(source)
  const journal = type === "ext4"
    ? (() => {
      try {
        return Fs.readdirSync("/proc/fs/jbd2").some((j) => j.startsWith(`${device}-`))
      } catch {
        return null
      }
    })()
    : null
  return { source, type, options, journal }
}

export const describeFilesystem = (fs: Filesystem): string =>
  `${fs.type}${fs.journal === false ? " without a journal" : fs.journal ? " with a journal" : ""} on ${fs.source} ` +
  `(${fs.options})`

export const machine = async () => {
  const cpus = Os.cpus()
  const os = (() => {
    try {
      return /^PRETTY_NAME="?([^"\n]+)"?$/m.exec(Fs.readFileSync("/etc/os-release", "utf8"))?.[1] ?? Os.type()
    } catch {
      return Os.type()
    }
  })()
  return {
    cpu: cpus[0]?.model ?? "unknown",
    cores: cpus.length,
    memoryGiB: round(Os.totalmem() / 2 ** 30, 1),
    node: process.version,
    kernel: `${Os.type()} ${Os.release()}`,
    os,
    tmpdir: Os.tmpdir(),
    tmpdirFs: describeFilesystem(await filesystemOf(Os.tmpdir()))
  }
}

/** The original's health probe as it ran it: curl to the domain, resolved to a local port. */
export const originalCurl = (domain: string, port: number): ReadonlyArray<string> => [
  "curl",
  "-sk",
  "-o",
  "/dev/null",
  "-w",
  "%{http_code}",
  "--max-time",
  "10",
  "--connect-to",
  `${domain}:443:127.0.0.1:${port}`,
  `https://${domain}/health`
]
