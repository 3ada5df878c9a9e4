/**
 * One app under test on the real engine, through the shipped CLI: run `reconcile`, read its result
 * line, its state directory, its alerts and the fake abra's changing calls. The world is made in the
 * suite's `beforeAll`, hence the getters.
 */
import type * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import type { AbraWorld } from "../support/fakeAbra.js"
import { baseEnv, spawnReconcile } from "./support.js"

export interface CliRun {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  readonly startedAt: number
  readonly endedAt: number
}

export const session = (options: {
  readonly world: () => AbraWorld
  readonly app: string
  /** What `reconcile` is told to run: the app (default), or `--all`. */
  readonly target?: string
  /** The config file a run uses unless told another. */
  readonly config: () => string
  /** More environment for the CLI (the channels' secrets). */
  readonly env?: Record<string, string>
}) => {
  const env = (): NodeJS.ProcessEnv => ({
    ...baseEnv(),
    ...options.world().env,
    FAKE_ABRA_DOCKER: "1",
    ...options.env
  })

  /** `warm-reconcile reconcile <app>`; `onStderr` sees stderr as it comes and may signal the child. */
  const reconcile = (
    onStderr?: (text: string, child: ChildProcess.ChildProcess) => void,
    file = options.config()
  ) =>
    new Promise<CliRun>((resolve) => {
      const startedAt = Date.now()
      const child = spawnReconcile(options.target ?? options.app, file, env())
      let stdout = ""
      let stderr = ""
      child.stdout.on("data", (d) => stdout += d)
      child.stderr.on("data", (d) => {
        stderr += d
        onStderr?.(stderr, child)
      })
      child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr, startedAt, endedAt: Date.now() }))
    })

  const result = (run: CliRun) => run.stdout.trim().split("\n").filter((l) => l.startsWith("RECONCILE RESULT:")).at(-1)
  /** The result line of one app of a `--all` run. */
  const resultOf = (run: CliRun, app: string) =>
    run.stdout.split("\n").find((l) => l.startsWith(`RECONCILE RESULT ${app}:`))

  const stateFile = (...parts: Array<string>) => Path.join(options.world().root, "state", ...parts)
  const lastGood = () => Fs.readFileSync(stateFile(options.app, "last_good"), "utf8").trim()
  const alerts = () =>
    Fs.existsSync(stateFile("alerts"))
      ? Fs.readdirSync(stateFile("alerts")).filter((f) => f.endsWith(".json")).sort()
      : []
  const readAlert = (file: string) => JSON.parse(Fs.readFileSync(stateFile("alerts", file), "utf8"))

  /** The fake abra's deploy and undeploy calls made since `since`. */
  const changes = (since: number) =>
    options.world().readCalls().filter((c) =>
      c.at >= since && c.argv[0] === "app" && (c.argv[1] === "deploy" || c.argv[1] === "undeploy")
    )
  /** A deploy or undeploy call as `["deploy", version]` or `["undeploy"]`. */
  const steps = (since: number) =>
    changes(since).map((c) => c.argv[1] === "deploy" ? ["deploy", c.argv[3]] : ["undeploy"])
  const deployOf = (since: number, version: string) =>
    changes(since).find((c) => c.argv[1] === "deploy" && c.argv.includes(version))

  return { env, reconcile, result, resultOf, stateFile, lastGood, alerts, readAlert, changes, steps, deployOf }
}

/** The suite's report lines, printed as they come and again in its summary. */
export const reporter = () => {
  const lines: Array<string> = []
  return {
    lines,
    say: (line: string) => {
      lines.push(line)
      console.log(`E2E ${line}`)
    }
  }
}
