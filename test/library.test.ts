/**
 * The package's library entry points as another ops script imports them (by package name, from the
 * built `dist/lib`, which `npm test` builds first).
 */
import { describe, expect, it } from "@effect/vitest"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import { fileURLToPath } from "node:url"

const ROOT = fileURLToPath(new URL("..", import.meta.url))

const script = `
import { Effect } from "effect"
import { Outcome, Version } from "warm-reconcile"
import { Rehearsal, Scenarios } from "warm-reconcile/testing"
import { Live } from "warm-reconcile/live"
const s = Scenarios.find("broken-release")
const r = await Effect.runPromise(Rehearsal.rehearse(s.app, s.setup))
console.log(JSON.stringify({
  result: Outcome.format(r.outcome),
  latest: Version.latest(Version.sortTags(["1.0.0+1", "junk", "1.1.0+1"])).value.tag,
  live: typeof Live.layer
}))
`

describe("the library entry points", () => {
  it("warm-reconcile, warm-reconcile/testing and warm-reconcile/live import by name and run", () => {
    expect(Fs.existsSync(`${ROOT}/dist/lib/testing.js`), "dist/lib is built (npm run build)").toBe(true)
    const r = ChildProcess.spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 60_000
    })
    expect(r.stderr).toBe("")
    expect(JSON.parse(r.stdout)).toEqual({
      result: "rolled-back:1.2.0+1.2->1.1.0+1.1",
      latest: "1.1.0+1",
      live: "function"
    })
    // Type declarations ship with each entry point.
    for (const entry of ["index", "testing", "live"]) {
      expect(Fs.existsSync(`${ROOT}/dist/lib/${entry}.d.ts`)).toBe(true)
    }
  }, 90_000)
})
