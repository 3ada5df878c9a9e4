/**
 * examples/snapshot-stateful.ts run as an operator runs it (a child process through tsx, importing
 * the package by name from the built dist/lib) against the fake abra and a fake Docker Engine,
 * with real volume directories: what it snapshots, what it skips, and what it leaves alone.
 */
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { setInFlight } from "../src/live/State.js"
import { InFlight } from "../src/services/State.js"
import { ROOT } from "./support/cli.js"
import { type AbraWorld, makeAbraWorld, makeRecipeRepo, runAbra } from "./support/fakeAbra.js"
import { fakeEngine, stackOf, stackVolume } from "./support/fakeEngine.js"

const EXAMPLE = Path.join(ROOT, "examples", "snapshot-stateful.ts")

const runExample = (config: string, env: Record<string, string>) =>
  Effect.async<{ readonly code: number | null; readonly stdout: string; readonly stderr: string }>((resume) => {
    const child = ChildProcess.spawn(process.execPath, ["--import", "tsx", EXAMPLE, config], {
      cwd: ROOT,
      env: { ...process.env, ...env }
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d) => stdout += d)
    child.stderr.on("data", (d) => stderr += d)
    child.on("close", (code) => resume(Effect.succeed({ code, stdout, stderr })))
  })

/** A file out of a volume's snapshot tree (the store keeps one directory per volume). */
const fromSnapshot = (tree: string, member: string): string => Fs.readFileSync(Path.join(tree, member), "utf8")

const abra = (world: AbraWorld, args: ReadonlyArray<string>) => {
  const r = runAbra(world, args)
  expect(r.code, `abra ${args.join(" ")}: ${r.stderr}`).toBe(0)
}

/** A volume's data directory with the given files. */
const volumeDir = (root: string, name: string, files: Record<string, string>): string => {
  const dir = Path.join(root, "volumes", name, "_data")
  for (const [file, content] of Object.entries(files)) {
    Fs.mkdirSync(Path.dirname(Path.join(dir, file)), { recursive: true })
    Fs.writeFileSync(Path.join(dir, file), content)
  }
  return dir
}

describe("examples/snapshot-stateful.ts", () => {
  it.scopedLive(
    "snapshots each undeployed stateful app with its volumes' content; skips deployed, stateless and unfinished ones",
    () =>
      Effect.gen(function*() {
        expect(Fs.existsSync(Path.join(ROOT, "dist/lib/live.js")), "dist/lib is built (npm run build)").toBe(true)
        const world = makeAbraWorld()
        yield* Effect.addFinalizer(() => Effect.sync(() => world.cleanup()))
        const stateDir = Path.join(world.root, "state")
        const domains = {
          kc: "id.example.org",
          wiki: "wiki.example.org",
          web: "www.example.org",
          pad: "pad.example.org",
          broken: "broken.example.org"
        }
        makeRecipeRepo(world.recipesSource, "keycloak", [{ tag: "1.0.0+1.0" }, { tag: "1.1.0+1.1" }])
        abra(world, ["server", "add", "--local", "-n"])
        abra(world, ["recipe", "fetch", "keycloak", "-n"])
        // kc: stateful, deployed at 1.0.0 and then undeployed: the one to snapshot.
        abra(world, ["app", "new", "keycloak", "1.0.0+1.0", "-s", "default", "-D", domains.kc, "-o", "-n"])
        abra(world, ["app", "deploy", domains.kc, "1.0.0+1.0", "-o", "-n", "-f"])
        abra(world, ["app", "undeploy", domains.kc, "-n"])
        // wiki: stateful and running.
        abra(world, ["app", "new", "keycloak", "1.1.0+1.1", "-s", "default", "-D", domains.wiki, "-o", "-n"])
        abra(world, ["app", "deploy", domains.wiki, "1.1.0+1.1", "-o", "-n", "-f"])
        // pad: undeployed in the middle of an upgrade that a killed run left behind.
        yield* setInFlight(
          stateDir,
          "pad",
          Option.some(
            new InFlight({
              from: "1.0.0+1.0",
              to: "1.1.0+1.1",
              fromHealthy: true,
              snapshot: "1.0.0+1.0",
              phase: "deploy",
              pid: 4242,
              startedAt: "2026-11-25T03:00:00.000Z"
            })
          )
        ).pipe(Effect.provide(NodeContext.layer))
        const callsAfterSetup = world.readCalls().length

        const kcDb = volumeDir(world.root, "kc-db", { "db.sql": "INSERT 1;\n", "sub/dir/blob": "nested\n" })
        const kcFiles = volumeDir(world.root, "kc-files", { "upload.txt": "hello\n" })
        const volumes = [
          // broken first: its failure must not stop the apps after it.
          stackVolume(stackOf(domains.broken), "data", Path.join(world.root, "volumes", "gone", "_data")),
          stackVolume(stackOf(domains.kc), "db", kcDb),
          stackVolume(stackOf(domains.kc), "files", kcFiles),
          stackVolume(stackOf(domains.wiki), "data", volumeDir(world.root, "wiki", { "page.md": "wiki\n" })),
          stackVolume(stackOf(domains.web), "data", volumeDir(world.root, "web", { "index.html": "web\n" })),
          stackVolume(stackOf(domains.pad), "data", volumeDir(world.root, "pad", { "pad.txt": "half\n" }))
        ]
        const engine = yield* fakeEngine({ abraDir: world.abraDir, state: { volumes } })
        const config = Path.join(world.root, "config.json")
        Fs.writeFileSync(
          config,
          JSON.stringify({
            stateDir,
            abraDir: world.abraDir,
            apps: {
              broken: { recipe: "keycloak", domain: domains.broken },
              kc: { recipe: "keycloak", domain: domains.kc },
              wiki: { recipe: "keycloak", domain: domains.wiki },
              web: { recipe: "keycloak", domain: domains.web, stateful: false },
              pad: { recipe: "keycloak", domain: domains.pad }
            }
          })
        )
        const env = { ...world.env, DOCKER_HOST: `unix://${engine.socket}` }

        const first = yield* runExample(config, env)
        const lines = first.stdout.trim().split("\n").filter((l) => l.startsWith("SNAPSHOT "))
        expect(lines, first.stderr).toEqual([
          expect.stringMatching(/^SNAPSHOT broken: failed: .*gone.*cannot be resolved/),
          "SNAPSHOT kc: taken: 2 volume(s) as 1.0.0+1.0",
          "SNAPSHOT wiki: skipped: deployed; undeploy it first",
          expect.stringMatching(/^SNAPSHOT pad: skipped: the upgrade 1\.0\.0\+1\.0 -> 1\.1\.0\+1\.1 is unfinished/)
        ])
        // One app failed: the run says which and exits 1.
        expect(first.code).toBe(1)
        // runMain's report of the failure (Effect's pretty logger, on stdout).
        expect(first.stdout + first.stderr).toContain("SnapshotsFailed: no snapshot for broken")

        const snapshot = Path.join(stateDir, "kc", "snapshot")
        const meta = JSON.parse(Fs.readFileSync(Path.join(snapshot, "meta.json"), "utf8"))
        expect(meta).toMatchObject({
          recipe: "keycloak",
          domain: domains.kc,
          version: "1.0.0+1.0",
          volumes: [`${stackOf(domains.kc)}_db`, `${stackOf(domains.kc)}_files`]
        })
        const dbTree = Path.join(snapshot, "volumes", `${stackOf(domains.kc)}_db`)
        const filesTree = Path.join(snapshot, "volumes", `${stackOf(domains.kc)}_files`)
        expect(fromSnapshot(dbTree, "./db.sql")).toBe("INSERT 1;\n")
        expect(fromSnapshot(dbTree, "./sub/dir/blob")).toBe("nested\n")
        expect(fromSnapshot(filesTree, "./upload.txt")).toBe("hello\n")
        // Nothing for the others; pad keeps only its in-flight record.
        for (const app of ["broken", "wiki", "web"]) expect(Fs.existsSync(Path.join(stateDir, app))).toBe(false)
        expect(Fs.readdirSync(Path.join(stateDir, "pad"))).toEqual(["in-flight.json"])
        // Read-only towards abra and Docker: no abra command at all, only GETs to the engine.
        expect(world.readCalls()).toHaveLength(callsAfterSetup)
        expect(engine.requests.every((r) => r.method === "GET")).toBe(true)

        // Fixed and changed: a second run exits 0 and its snapshot replaces kc's first one.
        Fs.mkdirSync(Path.join(world.root, "volumes", "gone", "_data"), { recursive: true })
        Fs.writeFileSync(Path.join(kcDb, "db.sql"), "INSERT 2;\n")
        const second = yield* runExample(config, env)
        expect(second.code, second.stderr).toBe(0)
        expect(second.stdout).toContain("SNAPSHOT broken: taken: 1 volume(s) as unknown")
        expect(fromSnapshot(dbTree, "./db.sql")).toBe("INSERT 2;\n")
        expect(Fs.readdirSync(Path.join(stateDir, "kc"))).toEqual(["snapshot"])
      }),
    { timeout: 120_000 }
  )
})
