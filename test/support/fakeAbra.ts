/**
 * Test helpers around the fake `abra` (test/fixtures/fake-abra/abra): real recipe git repos,
 * a throwaway ABRA_DIR, and a way to run the fake and read back what it did.
 */
import { Effect } from "effect"
import type { ChildProcess } from "node:child_process"
import { execFileSync, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

/** The fake executable itself. */
export const fakeAbraPath = fileURLToPath(new URL("../fixtures/fake-abra/abra", import.meta.url))

export interface RecipeVersion {
  readonly tag: string
  readonly notes?: string
  /** Where the notes go: `release/<tag>` (default), `releaseNotes/<tag>.md` or `releaseNotes/<tag>`. */
  readonly notesPath?: "release" | "releaseNotes-md" | "releaseNotes"
  /** The whole `.env.sample`; default: {@link defaultEnvSample}. */
  readonly envSample?: string
  /** The whole `compose.yml`; default: one `app` service labelled with the tag. */
  readonly compose?: string
}

export const defaultEnvSample = (recipe: string): string =>
  [
    `TYPE=${recipe}`,
    "",
    `DOMAIN=${recipe}.example.com`,
    "## Domain aliases",
    `#EXTRA_DOMAINS=', \`www.${recipe}.example.com\`'`,
    "LETS_ENCRYPT_ENV=production",
    "",
    "SECRET_ADMIN_PASSWORD_VERSION=v1 # length=32",
    ""
  ].join("\n")

export const defaultCompose = (recipe: string, tag: string): string =>
  [
    "---",
    "version: \"3.8\"",
    "services:",
    "  app:",
    `    image: example/${recipe}:${tag.split("+")[1] ?? "latest"}`,
    "    deploy:",
    "      labels:",
    `        - "coop-cloud.\${STACK_NAME}.version=${tag}"`,
    ""
  ].join("\n")

// Commits must not depend on the machine's git config (identity, signing, hooks, default branch).
const gitIdentity = [
  "-c",
  "user.name=Fake Abra Tests",
  "-c",
  "user.email=fake-abra@example.invalid",
  "-c",
  "commit.gpgsign=false",
  "-c",
  "tag.gpgsign=false",
  "-c",
  "core.hooksPath=/dev/null"
]

export const git = (cwd: string, args: ReadonlyArray<string>): string =>
  execFileSync("git", [...gitIdentity, ...args], {
    cwd,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, GIT_TERMINAL_PROMPT: "0" }
  })

const notesFile = (version: RecipeVersion): string => {
  switch (version.notesPath ?? "release") {
    case "release":
      return path.join("release", version.tag)
    case "releaseNotes-md":
      return path.join("releaseNotes", `${version.tag}.md`)
    case "releaseNotes":
      return path.join("releaseNotes", version.tag)
  }
}

/**
 * Build the git repo `<dir>/<recipe>`, one commit and one tag per version, oldest first.
 * Pass `world.recipesSource` as `dir` so that `abra recipe fetch <recipe>` finds it; calling it
 * again on an existing repo adds the new versions on top. Returns the repo's path.
 */
export const makeRecipeRepo = (dir: string, recipe: string, versions: ReadonlyArray<RecipeVersion>): string => {
  const repo = path.join(dir, recipe)
  if (!fs.existsSync(path.join(repo, ".git"))) {
    fs.mkdirSync(repo, { recursive: true })
    git(repo, ["init", "--quiet", "--initial-branch=main"])
  }
  for (const version of versions) {
    fs.writeFileSync(path.join(repo, ".env.sample"), version.envSample ?? defaultEnvSample(recipe))
    fs.writeFileSync(path.join(repo, "compose.yml"), version.compose ?? defaultCompose(recipe, version.tag))
    if (version.notes !== undefined) {
      const file = path.join(repo, notesFile(version))
      fs.mkdirSync(path.dirname(file), { recursive: true })
      fs.writeFileSync(file, version.notes)
    }
    git(repo, ["add", "--all"])
    git(repo, ["commit", "--quiet", "--allow-empty", "-m", `chore: publish ${version.tag}`])
    git(repo, ["tag", "-a", version.tag, "-m", `release ${version.tag}`])
  }
  return repo
}

export interface FakeAbraState {
  readonly deployed: Record<string, { readonly version: string; readonly at: number; readonly chaosVersion?: string }>
  readonly secrets: Record<string, ReadonlyArray<string>>
}

export interface FakeAbraCall {
  readonly argv: ReadonlyArray<string>
  /** null for a call that hung (recorded when it started hanging). */
  readonly exitCode: number | null
  /** When the call started (epoch ms). */
  readonly at: number
  readonly endedAt: number
}

export interface AbraWorld {
  readonly root: string
  readonly abraDir: string
  /** Source repos by recipe name (`FAKE_ABRA_RECIPES`): build them with {@link makeRecipeRepo}. */
  readonly recipesSource: string
  /** Holds `abra` (a symlink to the fake): first on `env.PATH`. */
  readonly binDir: string
  /** ABRA_DIR, FAKE_ABRA_RECIPES and PATH: merge into a child's environment. */
  readonly env: Record<string, string>
  /** `$ABRA_DIR/servers/<server>/<domain>.env` */
  readonly envFile: (domain: string, server?: string) => string
  readonly readState: () => FakeAbraState
  readonly readCalls: () => ReadonlyArray<FakeAbraCall>
  readonly cleanup: () => void
}

export const makeAbraWorld = (): AbraWorld => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "fake-abra-"))
  const abraDir = path.join(root, "abra")
  const recipesSource = path.join(root, "recipes-source")
  const binDir = path.join(root, "bin")
  for (const dir of [abraDir, recipesSource, binDir]) fs.mkdirSync(dir, { recursive: true })
  fs.symlinkSync(fakeAbraPath, path.join(binDir, "abra"))
  const fakeDir = path.join(abraDir, ".fake-abra")
  return {
    root,
    abraDir,
    recipesSource,
    binDir,
    env: {
      ABRA_DIR: abraDir,
      FAKE_ABRA_RECIPES: recipesSource,
      PATH: [binDir, process.env.PATH ?? ""].join(path.delimiter)
    },
    envFile: (domain, server = "default") => path.join(abraDir, "servers", server, `${domain}.env`),
    readState: () => {
      const file = path.join(fakeDir, "state.json")
      return fs.existsSync(file)
        ? JSON.parse(fs.readFileSync(file, "utf8")) as FakeAbraState
        : { deployed: {}, secrets: {} }
    },
    readCalls: () => {
      const file = path.join(fakeDir, "calls.jsonl")
      if (!fs.existsSync(file)) return []
      return fs.readFileSync(file, "utf8").split("\n").filter((l) => l.length > 0).map((l) =>
        JSON.parse(l) as FakeAbraCall
      )
    },
    // Retried: a process of the world that was killed may still be ending as the suite ends.
    cleanup: () => fs.rmSync(root, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 })
  }
}

export interface AbraResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** The fake abra's behaviour knobs: a test sets the ones it wants through `extraEnv`. */
const KNOBS = [
  "FAKE_ABRA_FAIL",
  "FAKE_ABRA_HANG",
  "FAKE_ABRA_DEPLOY_DELAY_MS",
  "FAKE_ABRA_DOCKER",
  "FAKE_ABRA_DOCKER_TIMEOUT_MS"
] as const

const childEnv = (world: AbraWorld, extraEnv: Record<string, string>): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { ...process.env, ...world.env, ...extraEnv }
  // Knobs from the outer environment must not leak into a test that did not ask for them.
  for (const knob of KNOBS) {
    if (!(knob in extraEnv)) delete env[knob]
  }
  return env
}

/** Run `abra <args>` through PATH, as the live layers will. */
export const runAbra = (
  world: AbraWorld,
  args: ReadonlyArray<string>,
  extraEnv: Record<string, string> = {}
): AbraResult => {
  const r = spawnSync("abra", args, { env: childEnv(world, extraEnv), encoding: "utf8", timeout: 20_000 })
  if (r.error) throw r.error
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

/** Start `abra <args>` without waiting: for hang / signal tests. */
export const spawnAbra = (
  world: AbraWorld,
  args: ReadonlyArray<string>,
  extraEnv: Record<string, string> = {}
): ChildProcess => spawn("abra", args, { env: childEnv(world, extraEnv), stdio: ["ignore", "pipe", "pipe"] })

/**
 * An app as an operator left it: its recipe published with `versions`, created and deployed at
 * `deployed` with abra (with `generateSecrets`, its secrets generated before the deploy).
 */
export const deployWithAbra = (
  world: AbraWorld,
  app: {
    readonly recipe: string
    readonly domain: string
    readonly versions: ReadonlyArray<RecipeVersion>
    readonly deployed: string
    readonly generateSecrets?: boolean
  }
): void => {
  makeRecipeRepo(world.recipesSource, app.recipe, app.versions)
  fs.mkdirSync(path.join(world.abraDir, "servers", "default"), { recursive: true })
  for (
    const args of [
      ["recipe", "fetch", app.recipe, "-n"],
      ["app", "new", app.recipe, app.deployed, "-s", "default", "-D", app.domain, "-o", "-n"],
      ...(app.generateSecrets === true ? [["app", "secret", "generate", app.domain, "--all", "-n"]] : []),
      ["app", "deploy", app.domain, app.deployed, "-o", "-n", "-f"]
    ]
  ) {
    const r = runAbra(world, args)
    if (r.code !== 0) throw new Error(`abra ${args.join(" ")}: ${r.stderr}`)
  }
}

/** A world for one scoped test, removed when its scope closes; with `app`, that app deployed with abra. */
export const scopedAbraWorld = (app?: Parameters<typeof deployWithAbra>[1]) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const world = makeAbraWorld()
      if (app !== undefined) deployWithAbra(world, app)
      return world
    }),
    (world) => Effect.sync(() => world.cleanup())
  )

/** `<root>/config.json` naming the world's abra directory, `<root>/state` and `apps` (and `more`): its path. */
export const writeConfig = (
  world: AbraWorld,
  apps: Record<string, unknown>,
  more: Record<string, unknown> = {}
): string => {
  const file = path.join(world.root, "config.json")
  fs.writeFileSync(
    file,
    JSON.stringify({ stateDir: path.join(world.root, "state"), abraDir: world.abraDir, apps, ...more })
  )
  return file
}
