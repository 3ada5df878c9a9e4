/** Run the CLI as operators and systemd do: a child process of the bundled entry point (see bundle.ts). */
import { Data, Duration, Effect } from "effect"
import * as ChildProcess from "node:child_process"
import { BUNDLE, ROOT } from "./bundle.js"

export { BUNDLE, ROOT }

export interface CliResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** A child that outlived its timeout: it was killed (SIGKILL, by its pid) and its test fails with this. */
export class ChildTimedOut extends Data.TaggedError("ChildTimedOut")<{ readonly message: string }> {}

/**
 * How long one CLI run may take. A real process on a loaded 2-core machine, so generous: most runs
 * take a second or two, the slowest (a 20 s health gate, a 20 MB config) well under a minute. A
 * test whose own timeout is shorter is interrupted by vitest first, which kills the child as well.
 */
export const CLI_TIMEOUT = Duration.seconds(90)

/**
 * Run `command` to its end; a child still running after `timeout` is killed by its pid and the
 * effect fails with ChildTimedOut. Interrupting the effect kills the child too.
 */
export const runChild = (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly env?: Record<string, string>; readonly timeout?: Duration.DurationInput } = {}
) =>
  Effect.async<CliResult, ChildTimedOut>((resume) => {
    const timeout = Duration.decode(options.timeout ?? CLI_TIMEOUT)
    const child = ChildProcess.spawn(command, args, { cwd: ROOT, env: { ...process.env, ...options.env } })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d) => stdout += d)
    child.stderr.on("data", (d) => stderr += d)
    const kill = () => {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        process.kill(child.pid, "SIGKILL")
      }
    }
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      kill()
    }, Duration.toMillis(timeout))
    // After a kill, `exit`: a grandchild holding the pipes open would delay `close` indefinitely.
    child.on("exit", () => {
      if (!timedOut) return
      clearTimeout(timer)
      resume(Effect.fail(
        new ChildTimedOut({
          message: `${[command, ...args].join(" ")} outlived its ${Duration.format(timeout)} timeout: ` +
            `killed pid ${child.pid}; stderr so far: ${stderr.slice(-500)}`
        })
      ))
    })
    child.on("close", (code) => {
      clearTimeout(timer)
      if (!timedOut) resume(Effect.succeed({ code, stdout, stderr }))
    })
    return Effect.sync(() => {
      clearTimeout(timer)
      kill()
    })
  })

export const cli = (
  args: ReadonlyArray<string>,
  env: Record<string, string> = {},
  timeout: Duration.DurationInput = CLI_TIMEOUT
) => runChild(process.execPath, [BUNDLE, ...args], { env, timeout })
