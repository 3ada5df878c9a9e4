/** Run the CLI entry point as operators and systemd do: a child process, through tsx. */
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

export const ROOT = fileURLToPath(new URL("../..", import.meta.url))

export interface CliResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

export const cli = (args: ReadonlyArray<string>, env: Record<string, string>) =>
  Effect.async<CliResult>((resume) => {
    const child = ChildProcess.spawn(process.execPath, ["--import", "tsx", Path.join(ROOT, "src/bin.ts"), ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env }
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d) => stdout += d)
    child.stderr.on("data", (d) => stderr += d)
    child.on("close", (code) => resume(Effect.succeed({ code, stdout, stderr })))
  })
