/**
 * The e2e suite's one engine: started once before any file (files run two at a time, each on its
 * own stacks) and stopped after the last, and only when this run started it. A file never starts
 * or stops dockerd itself, so no file can stop the engine under another. The size of dockerd's log
 * before the start is provided to the files (`inject("engineLog")`): the registry check
 * scans everything the run made dockerd do, its start included.
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import type { ProvidedContext } from "vitest"
import { baseEnv, ENGINE, startEngine, stopEngine } from "./support.js"

declare module "vitest" {
  export interface ProvidedContext {
    readonly engineLog: { readonly file: string; readonly offset: number }
  }
}

// vitest/node's own TestProject type drags in declarations this project does not install.
export default function setup(project: {
  readonly provide: <K extends keyof ProvidedContext>(key: K, value: ProvidedContext[K]) => void
}): () => void {
  const status = ChildProcess.execFileSync(ENGINE, ["status"], { encoding: "utf8", env: baseEnv() })
  const file = /^log: (.+)$/m.exec(status)?.[1] ?? ""
  if (file === "") throw new Error(`engine.sh status named no log file: ${status}`)
  project.provide("engineLog", { file, offset: Fs.existsSync(file) ? Fs.statSync(file).size : 0 })
  const started = startEngine()
  return () => {
    if (started) stopEngine()
  }
}
