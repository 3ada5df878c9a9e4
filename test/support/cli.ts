/** Run the CLI as operators and systemd do: a child process of the bundled entry point (see bundle.ts). */
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import { BUNDLE, ROOT } from "./bundle.js"

export { BUNDLE, ROOT }

export interface CliResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

export const cli = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  Effect.async<CliResult>((resume) => {
    const child = ChildProcess.spawn(process.execPath, [BUNDLE, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env }
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d) => stdout += d)
    child.stderr.on("data", (d) => stderr += d)
    child.on("close", (code) => resume(Effect.succeed({ code, stdout, stderr })))
  })
