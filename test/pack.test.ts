/**
 * The package as a user gets it: `npm pack`, then `npm install <tarball>` into an empty project
 * (from npm's cache: the dependencies are there after `npm ci`), then the installed bin and the
 * library entry points, at run time and to the type checker.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Outcome from "../src/domain/Outcome.js"
import * as Rehearsal from "../src/simulation/Rehearsal.js"
import * as Scenarios from "../src/simulation/Scenarios.js"
import { ROOT } from "./support/cli.js"

const pkg = JSON.parse(Fs.readFileSync(Path.join(ROOT, "package.json"), "utf8")) as {
  readonly name: string
  readonly version: string
}

const run = (command: string, args: ReadonlyArray<string>, cwd: string, timeout = 120_000) => {
  const r = ChildProcess.spawnSync(command, args, {
    cwd,
    encoding: "utf8",
    timeout,
    env: { ...process.env, npm_config_update_notifier: "false", NO_COLOR: "1" }
  })
  if (r.error) throw r.error
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

const npm = (args: ReadonlyArray<string>, cwd: string) => run("npm", args, cwd)

/** A script run by the installed package's users: no path into this repository. */
const consumerScript = `
import { Effect } from "effect"
import { Outcome } from "warm-reconcile"
import { Live } from "warm-reconcile/live"
import { Rehearsal, Scenarios } from "warm-reconcile/testing"
const s = Scenarios.find("crash-loop")
const r = await Effect.runPromise(Rehearsal.rehearse(s.app, s.setup))
console.log(JSON.stringify({ result: Outcome.format(r.outcome), live: typeof Live.layer }))
`

/** The same, for the type checker: a wrong argument must be an error, so the types are not \`any\`. */
const consumerTypes = `
import { Effect } from "effect"
import { Outcome } from "warm-reconcile"
import { Live } from "warm-reconcile/live"
import { Rehearsal, Scenarios } from "warm-reconcile/testing"
const s = Scenarios.find("crash-loop")!
export const outcome: Effect.Effect<Outcome.Outcome> = Effect.map(Rehearsal.rehearse(s.app, s.setup), (r) => r.outcome)
export const layer = Live.layer({ stateDir: "/var/lib/warm-reconcile", abraDir: "/root/.abra" })
// @ts-expect-error an Outcome, not a number
Outcome.format(42)
`

describe("npm pack", () => {
  it(
    "installs into an empty project from the tarball; the bin runs; the entry points import and type-check",
    async () => {
      if (!Fs.existsSync(Path.join(ROOT, "dist/warm-reconcile.mjs")) || !Fs.existsSync(Path.join(ROOT, "dist/lib"))) {
        const build = npm(["run", "build"], ROOT)
        expect(build.code, build.stderr).toBe(0)
      }
      const tmp = Fs.mkdtempSync(Path.join(Os.tmpdir(), "warm-reconcile-pack-"))
      try {
        // --ignore-scripts: `prepare` would rebuild dist/ under the feet of the other test files.
        const packed = npm(["pack", "--ignore-scripts", "--json", "--pack-destination", tmp], ROOT)
        expect(packed.code, packed.stderr).toBe(0)
        const [info] = JSON.parse(packed.stdout) as Array<{
          readonly filename: string
          readonly files: ReadonlyArray<{ readonly path: string }>
        }>
        const files = info!.files.map((f) => f.path)
        expect(files).toEqual(expect.arrayContaining([
          "package.json",
          "README.md",
          "dist/warm-reconcile.mjs",
          ...["index", "live", "testing"].flatMap((e) => [`dist/lib/${e}.js`, `dist/lib/${e}.d.ts`]),
          "docs/operations.md",
          "docs/config-reference.md",
          "docs/alert.schema.json",
          "contrib/systemd/warm-reconcile.service",
          "nix/module.nix"
        ]))
        // The sources and the tests stay out of the tarball.
        expect(files.filter((f) => /^(src|test|examples|node_modules)\//.test(f))).toEqual([])

        const project = Path.join(tmp, "consumer")
        Fs.mkdirSync(project)
        expect(npm(["init", "-y"], project).code).toBe(0)
        const tarball = Path.join(tmp, info!.filename)
        let install = npm(["install", "--offline", "--no-audit", "--no-fund", tarball], project)
        if (install.code !== 0) {
          // A cache that lacks a package: the npm registry is the one network allowed.
          install = npm(["install", "--prefer-offline", "--no-audit", "--no-fund", tarball], project)
        }
        expect(install.code, install.stderr).toBe(0)
        const installed = Path.join(project, "node_modules", pkg.name)
        expect(JSON.parse(Fs.readFileSync(Path.join(installed, "package.json"), "utf8")).version).toBe(pkg.version)

        // The bin: npm links it to the bundle, which runs on plain node.
        const bin = Path.join(project, "node_modules", ".bin", "warm-reconcile")
        expect(Fs.realpathSync(bin)).toBe(Fs.realpathSync(Path.join(installed, "dist", "warm-reconcile.mjs")))
        const help = run(bin, ["--help"], project)
        expect(help.code, help.stderr).toBe(0)
        expect(help.stdout).toContain(`warm-reconcile ${pkg.version}`)
        for (const command of ["reconcile", "plan", "status", "alerts", "snapshot", "simulate"]) {
          expect(help.stdout).toMatch(new RegExp(`^ {2}- ${command} `, "m"))
        }

        // The library: the packed build rehearses a scenario exactly as the sources do.
        const scenario = Scenarios.find("crash-loop")!
        const expected = Outcome.format(
          (await Effect.runPromise(Rehearsal.rehearse(scenario.app, scenario.setup))).outcome
        )
        expect(expected).toMatch(/^rolled-back:/)
        Fs.writeFileSync(Path.join(project, "consumer.mjs"), consumerScript)
        const imported = run(process.execPath, ["consumer.mjs"], project)
        expect(imported.stderr).toBe("")
        expect(JSON.parse(imported.stdout)).toEqual({ result: expected, live: "function" })

        // The declarations: resolved through `exports` from the installed package.
        Fs.writeFileSync(Path.join(project, "consumer.mts"), consumerTypes)
        Fs.writeFileSync(
          Path.join(project, "tsconfig.json"),
          JSON.stringify({
            compilerOptions: {
              target: "ES2022",
              module: "NodeNext",
              moduleResolution: "NodeNext",
              strict: true,
              noEmit: true,
              // The dependencies' own declarations need @types/node, which a consumer brings.
              skipLibCheck: true,
              types: []
            },
            files: ["consumer.mts"]
          })
        )
        const tsc = run(process.execPath, [Path.join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "."], project)
        expect(tsc.stdout + tsc.stderr).toBe("")
        expect(tsc.code).toBe(0)
      } finally {
        Fs.rmSync(tmp, { recursive: true, force: true })
      }
    },
    180_000
  )
})
