/**
 * In the end-to-end suite (`npm run test:e2e`, run by `.ci/run`): it needs no engine, but it takes
 * half a minute of npm and tsc that `npm test` keeps under its four minutes without.
 *
 * The package as a user gets it: `npm pack`, then the CLI installed globally into a fresh prefix
 * offline (it needs no dependency), the bundle installed with one `install -Dm755`, and the
 * library installed into an empty project with its Effect peers (from npm's cache: they are there
 * after `npm ci`), at run time and to the type checker.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Outcome from "../../src/domain/Outcome.js"
import * as Rehearsal from "../../src/simulation/Rehearsal.js"
import * as Scenarios from "../../src/simulation/Scenarios.js"
import { contribUnits, resolveAsSystemd, verifyWithBinary } from "../nix/units.js"
import { ROOT } from "../support/cli.js"

const pkg = JSON.parse(Fs.readFileSync(Path.join(ROOT, "package.json"), "utf8")) as {
  readonly name: string
  readonly version: string
}

/**
 * Run a program to its end without blocking the test worker (a synchronous spawn of npm held the
 * worker's event loop so long that vitest's own messages timed out).
 */
const run = (command: string, args: ReadonlyArray<string>, cwd: string, timeout = 120_000) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = ChildProcess.spawn(command, args, {
      cwd,
      env: { ...process.env, npm_config_update_notifier: "false", NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (d: string) => stdout += d)
    child.stderr.setEncoding("utf8").on("data", (d: string) => stderr += d)
    const timer = setTimeout(() => child.kill("SIGKILL"), timeout)
    child.on("error", (e) => {
      clearTimeout(timer)
      reject(e)
    })
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })

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
        const build = await npm(["run", "build"], ROOT)
        expect(build.code, build.stderr).toBe(0)
      }
      const tmp = Fs.mkdtempSync(Path.join(Os.tmpdir(), "warm-reconcile-pack-"))
      try {
        // --ignore-scripts: `prepack` would rebuild dist/ under the feet of the other test files.
        const packed = await npm(["pack", "--ignore-scripts", "--json", "--pack-destination", tmp], ROOT)
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
          "contrib/systemd/warm-reconcile.timer",
          "contrib/systemd/warm-reconcile-notify.service",
          "contrib/systemd/warm-reconcile-notify.timer",
          "docs/coop-cloud.md",
          "nix/module.nix"
        ]))
        // The sources and the tests stay out of the tarball.
        expect(files.filter((f) => /^(src|test|examples|node_modules)\//.test(f))).toEqual([])

        const tarball = Path.join(tmp, info!.filename)

        // The CLI, as the docs install it: a global install into a fresh prefix, offline. The
        // bundle needs no runtime dependency, so nothing is fetched and no install script runs.
        const prefix = Path.join(tmp, "prefix")
        const global = await npm(
          ["install", "-g", "--offline", "--no-audit", "--no-fund", "--prefix", prefix, tarball],
          tmp
        )
        expect(global.code, global.stderr).toBe(0)
        expect(Fs.readdirSync(Path.join(prefix, "lib", "node_modules"))).toEqual([pkg.name])
        expect(Fs.existsSync(Path.join(prefix, "lib", "node_modules", pkg.name, "node_modules"))).toBe(false)
        const globalBin = Path.join(prefix, "bin", "warm-reconcile")
        const help = await run(globalBin, ["--help"], tmp)
        expect(help.code, help.stderr).toBe(0)
        expect(help.stdout).toContain(`warm-reconcile ${pkg.version}`)
        for (const command of ["reconcile", "plan", "status", "alerts", "snapshot", "simulate"]) {
          expect(help.stdout).toMatch(new RegExp(`^ {2}- ${command} `, "m"))
        }
        const rehearsal = await run(globalBin, ["simulate"], tmp)
        expect(rehearsal.stdout).toContain("RECONCILE RESULT: rolled-back:")

        // The bundle route: one `install -Dm755` and a link, nothing else.
        const bundle = Path.join(tmp, "opt", "lib", "warm-reconcile", "warm-reconcile.mjs")
        expect((await run("install", ["-Dm755", Path.join(ROOT, "dist", "warm-reconcile.mjs"), bundle], tmp)).code)
          .toBe(0)
        Fs.mkdirSync(Path.join(tmp, "opt", "bin"))
        Fs.symlinkSync(bundle, Path.join(tmp, "opt", "bin", "warm-reconcile"))
        const linked = await run(Path.join(tmp, "opt", "bin", "warm-reconcile"), ["simulate"], tmp)
        expect(linked.stdout).toContain("RECONCILE RESULT: rolled-back:")

        // The units, wherever each documented route put the binary in a system (here under
        // `sysroot`): npm's global prefix `/usr` (Debian's and NodeSource's Node) and the bundle in
        // /usr/local. systemd finds the bare `warm-reconcile` of the Exec lines on its search path,
        // and verify checks it is executable (the bundle installed 644 failed here with 203/EXEC).
        const sysroot = Path.join(tmp, "sysroot")
        // The units as the package ships them.
        const units = contribUnits(Path.join(prefix, "lib", "node_modules", pkg.name))
        expect(Object.keys(units)).toEqual([
          "warm-reconcile-notify.service",
          "warm-reconcile-notify.timer",
          "warm-reconcile.service",
          "warm-reconcile.timer"
        ])
        const npmRoute = await npm(
          ["install", "-g", "--offline", "--no-audit", "--no-fund", "--prefix", Path.join(sysroot, "usr"), tarball],
          tmp
        )
        expect(npmRoute.code, npmRoute.stderr).toBe(0)
        const bundleRoot = Path.join(tmp, "bundle-sysroot")
        const bundled = Path.join(bundleRoot, "usr/local/lib/warm-reconcile/warm-reconcile.mjs")
        expect((await run("install", ["-Dm755", Path.join(ROOT, "dist", "warm-reconcile.mjs"), bundled], tmp)).code)
          .toBe(0)
        Fs.mkdirSync(Path.join(bundleRoot, "usr/local/bin"), { recursive: true })
        Fs.symlinkSync(bundled, Path.join(bundleRoot, "usr/local/bin/warm-reconcile"))
        for (
          const [route, where, expected] of [
            ["npm -g, prefix /usr", sysroot, "/usr/bin/warm-reconcile"],
            ["the bundle", bundleRoot, "/usr/local/bin/warm-reconcile"]
          ] as const
        ) {
          const binary = resolveAsSystemd(where, "warm-reconcile")
          expect(binary, route).toBe(Path.join(where, expected))
          const verified = verifyWithBinary(units, binary!)
          expect(verified.status, `${route}: ${verified.stderr}`).toBe(0)
          expect(verified.warnings, route).toEqual([])
        }
        // The check fails on a bundle installed without its execute bit.
        Fs.chmodSync(bundled, 0o644)
        expect(verifyWithBinary(units, Path.join(bundleRoot, "usr/local/bin/warm-reconcile")).status).not.toBe(0)

        // A library user brings Effect (peer dependencies, the Effect ecosystem's convention).
        const project = Path.join(tmp, "consumer")
        Fs.mkdirSync(project)
        expect((await npm(["init", "-y"], project)).code).toBe(0)
        const devDeps = (JSON.parse(Fs.readFileSync(Path.join(ROOT, "package.json"), "utf8")) as {
          readonly devDependencies: Record<string, string>
        }).devDependencies
        const peers = ["effect", "@effect/platform", "@effect/platform-node", "@effect/cli"].map((name) =>
          `${name}@${devDeps[name]}`
        )
        let install = await npm(["install", "--offline", "--no-audit", "--no-fund", tarball, ...peers], project)
        if (install.code !== 0) {
          // A cache that lacks a package: the npm registry is the one network allowed.
          install = await npm(["install", "--prefer-offline", "--no-audit", "--no-fund", tarball, ...peers], project)
        }
        expect(install.code, install.stderr).toBe(0)
        const installed = Path.join(project, "node_modules", pkg.name)
        expect(JSON.parse(Fs.readFileSync(Path.join(installed, "package.json"), "utf8")).version).toBe(pkg.version)
        const bin = Path.join(project, "node_modules", ".bin", "warm-reconcile")
        expect(Fs.realpathSync(bin)).toBe(Fs.realpathSync(Path.join(installed, "dist", "warm-reconcile.mjs")))

        // The library: the packed build rehearses a scenario exactly as the sources do.
        const scenario = Scenarios.find("crash-loop")!
        const expected = Outcome.format(
          (await Effect.runPromise(Rehearsal.rehearse(scenario.app, scenario.setup))).outcome
        )
        expect(expected).toMatch(/^rolled-back:/)
        Fs.writeFileSync(Path.join(project, "consumer.mjs"), consumerScript)
        const imported = await run(process.execPath, ["consumer.mjs"], project)
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
        const tsc = await run(
          process.execPath,
          [Path.join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "."],
          project
        )
        expect(tsc.stdout + tsc.stderr).toBe("")
        expect(tsc.code).toBe(0)
      } finally {
        Fs.rmSync(tmp, { recursive: true, force: true })
      }
    },
    180_000
  )
})
