/**
 * Helpers shared by the end-to-end files on the real Docker engine: docker and engine calls,
 * HTTP probes, free ports, the byte-level listing of a volume, and one stack's objects.
 */
import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Net from "node:net"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { BUNDLE, ROOT } from "../support/bundle.js"
import { RECIPE } from "./recipe.js"
export const ENGINE = fileURLToPath(new URL("engine.sh", import.meta.url))

export const enabled = process.env["WARM_RECONCILE_E2E"] === "1"

/** The environment of everything the suite runs: the engine's default socket, no abra knobs. */
export const baseEnv = (): NodeJS.ProcessEnv => {
  const env = { ...process.env }
  for (
    const key of [
      "DOCKER_HOST",
      "FAKE_ABRA_FAIL",
      "FAKE_ABRA_HANG",
      "FAKE_ABRA_DEPLOY_DELAY_MS",
      "FAKE_ABRA_DOCKER_TIMEOUT_MS",
      "FAKE_ABRA_PAUSE_DIR"
    ]
  ) delete env[key]
  return env
}

export const docker = (args: ReadonlyArray<string>): string =>
  ChildProcess.execFileSync("docker", args, { encoding: "utf8", env: baseEnv(), stdio: ["ignore", "pipe", "pipe"] })

export const dockerLines = (args: ReadonlyArray<string>): Array<string> =>
  docker(args).split("\n").map((l) => l.trim()).filter((l) => l.length > 0)

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * `warm-reconcile reconcile <app> --config <config>` as a child process of the bundled CLI (the
 * suite's globalSetup builds it when stale), as operators and systemd run it.
 */
export const spawnReconcile = (app: string, config: string, env: NodeJS.ProcessEnv) =>
  ChildProcess.spawn(process.execPath, [BUNDLE, "reconcile", app, "--config", config], { cwd: ROOT, env })

/** `engine.sh start`: whether this call started dockerd (then, and only then, the caller stops it). */
export const startEngine = (): boolean => {
  const started = ChildProcess.execFileSync(ENGINE, ["start"], {
    encoding: "utf8",
    env: baseEnv(),
    stdio: ["ignore", "pipe", "inherit"]
  })
  return /^ENGINE started \d+$/m.test(started)
}

export const stopEngine = () =>
  ChildProcess.execFileSync(ENGINE, ["stop"], { env: baseEnv(), stdio: ["ignore", "inherit", "inherit"] })

/** The Docker objects of one stack (`<stack>_app` service, `<stack>_data` volume). */
export const stackOf = (stack: string) => {
  const service = `${stack}_app`
  const volume = `${stack}_data`
  const filter = `label=com.docker.stack.namespace=${stack}`
  /** What is left of the stack: services, containers, networks, volumes. */
  const leftovers = (): Array<string> => [
    ...dockerLines(["service", "ls", "-q", "--filter", filter]).map((id) => `service ${id}`),
    ...dockerLines(["ps", "-aq", "--filter", filter]).map((id) => `container ${id}`),
    ...dockerLines(["network", "ls", "-q", "--filter", filter]).map((id) => `network ${id}`),
    ...dockerLines(["volume", "ls", "-q", "--filter", `name=^${volume}$`]).map((id) => `volume ${id}`)
  ]
  return {
    stack,
    service,
    volume,
    leftovers,
    /** Remove the stack and its volume, waiting until the containers are gone. */
    remove: async () => {
      try {
        docker(["stack", "rm", stack])
      } catch {
        // nothing deployed
      }
      const services = () => dockerLines(["service", "ls", "-q", "--filter", filter])
      const containers = () => dockerLines(["ps", "-aq", "--filter", filter])
      const deadline = Date.now() + 120_000
      while (services().length > 0 && Date.now() < deadline) await sleep(100)
      // Swarm removes its tasks' containers soon after their service; a container left by a
      // dockerd that died mid-task (an interrupted run) is no task's any more and stays: remove
      // it by hand once Swarm has had its chance.
      const orphanAfter = Math.min(deadline, Date.now() + 20_000)
      while (containers().length > 0 && Date.now() < orphanAfter) await sleep(100)
      const orphans = containers()
      if (orphans.length > 0) docker(["rm", "-f", ...orphans])
      while (leftovers().some((l) => !l.startsWith("volume")) && Date.now() < deadline) await sleep(100)
      for (const v of dockerLines(["volume", "ls", "-q", "--filter", `name=^${volume}$`])) {
        docker(["volume", "rm", v])
      }
    },
    /** The running container of the app service, if any. */
    runningContainer: (): string | undefined =>
      dockerLines(["ps", "-q", "--filter", `label=com.docker.swarm.service.name=${service}`])[0],
    version: (): string =>
      docker(["service", "inspect", service, "--format", `{{index .Spec.Labels "coop-cloud.${stack}.version"}}`])
        .trim(),
    deployed: (): boolean => dockerLines(["service", "ls", "-q", "--filter", filter]).length > 0,
    volumeDir: (): string => docker(["volume", "inspect", "-f", "{{.Mountpoint}}", volume]).trim()
  }
}

/** One GET without keep-alive: the status, or the error code. */
export const httpStatus = (url: string, timeoutMs = 1_000) =>
  new Promise<number | string>((resolve) => {
    const req = Http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
      res.resume()
      res.on("end", () => resolve(res.statusCode ?? 0))
      res.on("error", () => resolve("reset"))
    })
    req.on("timeout", () => req.destroy(new Error("timeout")))
    req.on("error", (e) => resolve((e as NodeJS.ErrnoException).code ?? e.message))
  })

/** A port that is free now (the app's httpd binds it on the host's 127.0.0.1). */
export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = Net.createServer()
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address ? address.port : 0
      server.close(() => resolve(port))
    })
  })

export interface Entry {
  readonly type: "file" | "dir" | "symlink" | "other"
  readonly mode: number
  readonly uid: number
  readonly size: number
  readonly content: string
}

/** Every entry under `dir` with its type, mode, owner and content hash: byte-identical or not. */
export const listing = (dir: string): Record<string, Entry> => {
  const out: Record<string, Entry> = {}
  for (const name of Fs.readdirSync(dir, { recursive: true }) as Array<string>) {
    const full = Path.join(dir, name)
    const st = Fs.lstatSync(full)
    const type = st.isFile() ? "file" : st.isDirectory() ? "dir" : st.isSymbolicLink() ? "symlink" : "other"
    const content = type === "file"
      ? Crypto.createHash("sha256").update(Fs.readFileSync(full)).digest("hex")
      : type === "symlink"
      ? Fs.readlinkSync(full)
      : ""
    out[name] = { type, mode: st.mode & 0o7777, uid: st.uid, size: type === "file" ? st.size : 0, content }
  }
  return out
}

export const seconds = (ms: number | undefined) => ms === undefined ? "n/a" : `${(ms / 1000).toFixed(1)} s`

/**
 * The config both suites run the CLI with: one stateful app of the e2e recipe, health over HTTP on
 * 127.0.0.1 with short intervals, and the scenario's health deadline.
 */
export const writeE2eConfig = (options: {
  readonly file: string
  /** The fake abra's world: the state dir goes under its root. */
  readonly world: { readonly root: string; readonly abraDir: string }
  readonly app: string
  /** Default: the e2e recipe. */
  readonly recipe?: string
  readonly domain: string
  /** The app's httpd port on 127.0.0.1: health is `http://127.0.0.1:<port>/health`. */
  readonly port: number
  readonly healthTimeout: string
}) => {
  const { abraDir, root } = options.world
  // An abra directory has servers/ (issue 13: else exit 2 before anything runs).
  Fs.mkdirSync(Path.join(abraDir, "servers"), { recursive: true })
  Fs.writeFileSync(
    options.file,
    JSON.stringify({
      stateDir: Path.join(root, "state"),
      abraDir,
      apps: {
        [options.app]: {
          recipe: options.recipe ?? RECIPE,
          domain: options.domain,
          // The suite's app is warm-reconcile's own: set up and kept deployed by it.
          create: true,
          keepDeployed: true,
          stateful: true,
          deployTimeout: "3 minutes",
          health: {
            url: `http://127.0.0.1:${options.port}/health`,
            timeout: options.healthTimeout,
            attemptTimeout: 2,
            interval: 0.25,
            successes: 2,
            settle: "30 seconds"
          }
        }
      }
    })
  )
}

export type Stack = ReturnType<typeof stackOf>

/**
 * A suite's afterAll: its stacks removed and its world cleaned, then nothing of its stacks may be
 * left in Docker (before the next run, which shares the engine); its summary printed in any case.
 */
export const endSuite = async (options: {
  readonly stacks: ReadonlyArray<Stack>
  readonly world: { readonly cleanup: () => void } | undefined
  readonly summary?: { readonly title: string; readonly lines: ReadonlyArray<string> }
}) => {
  try {
    if (options.world !== undefined) {
      for (const stack of options.stacks) await stack.remove()
      options.world.cleanup()
    }
    const left = options.stacks.flatMap((stack) => stack.leftovers())
    if (left.length > 0) throw new Error(`the suite left Docker objects behind: ${left.join(", ")}`)
  } finally {
    if (options.summary !== undefined) {
      console.log([`${options.summary.title}:`, ...options.summary.lines.map((l) => `  ${l}`)].join("\n"))
    }
  }
}
