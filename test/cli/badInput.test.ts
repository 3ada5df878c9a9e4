/**
 * Bad input through the CLI entry, run as systemd runs it (a child process), over the fake abra
 * with a real recipe clone and the fake Engine API. A bad config, a bad app name or a state
 * directory that is a symbolic link: one line on stderr, exit 2, nothing written anywhere. A
 * malformed env file: one line naming the file and line, exit 1 (README: "an operation failed
 * before anything changed"), nothing changed. Junk tags and nasty release notes are read without
 * a crash: junk is skipped, the notes' marker still holds the upgrade.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Path from "node:path"
import { cli, type CliResult } from "../support/cli.js"
import { type AbraWorld, deployWithAbra, makeAbraWorld, runAbra } from "../support/fakeAbra.js"
import { fakeEngine } from "../support/fakeEngine.js"

const DOMAIN = "id.example.org"
const BAD_DOMAIN = "broken.example.org"
const JUNK_TAGS = ["latest", "v9.9.9", "9.0.0-", "2.0.0+", "junk+3.0", "١.٢.٣", "4.0.0-"]
const NOTES = `\0binary\r\n${"x".repeat(1_000_000)}\r\nMANUAL STEP: run the migration\0\r\n`

/** Every entry under the dirs: type, mode, and the content's hash (or a link's target). Any write shows. */
const snapshot = (...dirs: ReadonlyArray<string>): Record<string, string> =>
  Object.fromEntries(
    dirs.flatMap((dir) =>
      Fs.readdirSync(dir, { recursive: true, withFileTypes: true }).map((e) => {
        const full = Path.join(e.parentPath, e.name)
        const st = Fs.lstatSync(full)
        const what = st.isSymbolicLink()
          ? `link ${Fs.readlinkSync(full)}`
          : st.isFile()
          ? `file ${Crypto.createHash("sha256").update(Fs.readFileSync(full)).digest("hex")}`
          : "dir"
        return [full, `${what} ${(st.mode & 0o7777).toString(8)}`]
      })
    )
  )

/** What an operator reads: stderr without the logfmt log lines. */
const messages = (r: CliResult) => r.stderr.split("\n").filter((l) => l !== "" && !l.startsWith("timestamp="))

/** The one-line refusal of bad usage or config: exit 2, nothing on stdout, one short line on stderr. */
const expectRefused = (r: CliResult, fragment: string | RegExp) => {
  expect(r.stdout).toBe("")
  const lines = r.stderr.split("\n").filter((l) => l !== "")
  expect(lines, r.stderr.slice(0, 2000)).toHaveLength(1)
  expect(lines[0]!.startsWith("warm-reconcile: ")).toBe(true)
  expect(lines[0]!.length).toBeLessThan(2_000)
  if (typeof fragment === "string") expect(lines[0]).toContain(fragment)
  else expect(lines[0]).toMatch(fragment)
  expect(r.code).toBe(2)
}

let world: AbraWorld
let scope: Scope.CloseableScope
let health: Http.Server
let env: Record<string, string>
let stateDir: string
let goodConfig: Record<string, unknown>
let dirs: ReadonlyArray<string>

/** A config file in the world's root; text is written as given, anything else as JSON. */
const configFile = (name: string, content: string | Buffer | object) => {
  const file = Path.join(world.root, name)
  Fs.writeFileSync(file, typeof content === "string" || Buffer.isBuffer(content) ? content : JSON.stringify(content))
  return file
}

beforeAll(async () => {
  world = makeAbraWorld()
  deployWithAbra(world, {
    recipe: "keycloak",
    domain: DOMAIN,
    versions: [{ tag: "1.1.0+1.1" }, ...JUNK_TAGS.map((tag) => ({ tag })), { tag: "1.2.0+1.2", notes: NOTES }],
    deployed: "1.1.0+1.1",
    generateSecrets: true
  })
  const second = ["app", "new", "keycloak", "1.1.0+1.1", "-s", "default", "-D", BAD_DOMAIN, "-o", "-n"]
  expect(runAbra(world, second).code).toBe(0)
  // A NUL byte on line 2 of the second app's env file.
  const badEnv = world.envFile(BAD_DOMAIN)
  const lines = Fs.readFileSync(badEnv, "utf8").split("\n")
  lines.splice(1, 0, "DOMAIN=broken\0.example.org")
  Fs.writeFileSync(badEnv, lines.join("\n"))

  scope = Effect.runSync(Scope.make())
  const engine = await Effect.runPromise(Scope.extend(fakeEngine({ abraDir: world.abraDir }), scope))
  env = { ...world.env, DOCKER_HOST: `unix://${engine.socket}` }
  // The running version answers healthy: a held app's health is checked, and a hold must not wait.
  health = Http.createServer((_, res) => res.writeHead(200).end("ok"))
  await new Promise<void>((resolve) => health.listen(0, "127.0.0.1", resolve))
  const port = (health.address() as { port: number }).port
  const probe = { url: `http://127.0.0.1:${port}/`, interval: 0.2, settle: "20 seconds", timeout: "20 seconds" }
  stateDir = Path.join(world.root, "state")
  Fs.mkdirSync(stateDir)
  goodConfig = {
    stateDir,
    abraDir: world.abraDir,
    apps: {
      kc: { recipe: "keycloak", domain: DOMAIN, health: probe },
      bad: { recipe: "keycloak", domain: BAD_DOMAIN, health: probe }
    }
  }
  dirs = [world.abraDir, stateDir]
}, 60_000)

afterAll(async () => {
  if (scope) await Effect.runPromise(Scope.close(scope, Exit.void))
  if (health) await new Promise((resolve) => health.close(resolve))
  world?.cleanup()
})

describe("bad input through the CLI", { timeout: 180_000 }, () => {
  it.live("a bad config (not JSON, a bad key, NUL bytes, 20 MB) is one line, exit 2, nothing written", () =>
    Effect.gen(function*() {
      const kc = (goodConfig["apps"] as Record<string, Record<string, unknown>>)["kc"]!
      const withKc = (extra: Record<string, unknown>) => ({ ...goodConfig, apps: { kc: { ...kc, ...extra } } })
      const huge = "x".repeat(20 * 1024 * 1024)
      const cases: ReadonlyArray<readonly [string, string | Buffer | object, string | RegExp]> = [
        // (a) not JSON, with a newline inside the text V8 quotes back
        ["not-json.json", "not json {\n\"apps\": {}\n", /not valid JSON: Unexpected token .*not json \{\\n/],
        // (b) a key that does not exist
        ["bad-key.json", withKc({ stateFul: false }), "apps.kc.stateFul: is unexpected"],
        // (c) NUL bytes: raw in a string (not JSON), escaped in a value
        ["nul-raw.json", JSON.stringify(withKc({})).replace("keycloak", "key\0cloak"), /not valid JSON: Bad control/],
        ["nul-escaped.json", withKc({ recipe: "key\0cloak" }), "apps.kc.recipe: expected a recipe name"],
        // (d) 20 MB: a bad value that size, 7 million values, and 20 MB of random bytes
        ["huge-value.json", withKc({ health: { path: huge } }), /apps\.kc\.health\.path: .*more characters\)$/],
        [
          "huge-wide.json",
          JSON.stringify(withKc({})).replace("\"keycloak\"", `[${"[],".repeat(7_000_000)}[]]`),
          "apps.kc.recipe: more than 100000 values"
        ],
        ["huge-binary.json", Crypto.randomBytes(20 * 1024 * 1024), "not valid JSON"]
      ]
      const files = cases.map(([name, content]) => configFile(name, content))
      const before = snapshot(...dirs)
      const results = yield* Effect.forEach(files, (file) => cli(["reconcile", "kc", "--config", file], env), {
        concurrency: 3
      })
      for (const [i, r] of results.entries()) expectRefused(r, cases[i]![2])
      // Also no abra call: the fake's call log is in the abra dir.
      expect(snapshot(...dirs)).toEqual(before)
    }))

  it.live("an app name holding '..', '/' or an absolute path, or naming Object's methods, is refused: exit 2", () =>
    Effect.gen(function*() {
      const good = configFile("good.json", goodConfig)
      const dotted = configFile("dotted.json", {
        ...goodConfig,
        apps: { "..": { recipe: "keycloak", domain: DOMAIN } }
      })
      const before = snapshot(...dirs)
      const runs: ReadonlyArray<readonly [ReadonlyArray<string>, string]> = [
        [["reconcile", "kc", "--config", dotted], "apps...: not a valid app name"],
        [["reconcile", "../kc", "--config", good], "no app \"../kc\""],
        [["reconcile", "/etc/passwd", "--config", good], "no app \"/etc/passwd\""],
        // Once a defect (a TypeError with a stack trace, exit 1): every object has a toString.
        [["reconcile", "toString", "--config", good], "no app \"toString\" in"],
        // A typo of a configured app's name: the closest one is named.
        [["reconcile", "kcc", "--config", good], "; did you mean kc? configured: kc"]
      ]
      const results = yield* Effect.forEach(runs, ([args]) => cli(args, env), { concurrency: 3 })
      for (const [i, r] of results.entries()) expectRefused(r, runs[i]![1])
      expect(snapshot(...dirs)).toEqual(before)
    }))

  it.live("a state or alerts directory that is a symbolic link is refused before the lock or anything else", () =>
    Effect.gen(function*() {
      const elsewhere = Path.join(world.root, "elsewhere")
      Fs.mkdirSync(elsewhere)
      const linkedState = Path.join(world.root, "state-link")
      Fs.symlinkSync(elsewhere, linkedState)
      const withAlertsLink = Path.join(world.root, "state-with-alerts-link")
      Fs.mkdirSync(withAlertsLink)
      Fs.symlinkSync(elsewhere, Path.join(withAlertsLink, "alerts"))
      const linked = configFile("linked.json", { ...goodConfig, stateDir: linkedState })
      const alertsLinked = configFile("alerts-linked.json", { ...goodConfig, stateDir: withAlertsLink })
      const before = snapshot(...dirs, elsewhere, withAlertsLink)
      const runs: ReadonlyArray<readonly [ReadonlyArray<string>, string]> = [
        [["reconcile", "kc", "--config", linked], `stateDir: refusing ${linkedState}: it is a symbolic link`],
        [["reconcile", "--all", "--config", alertsLinked], `refusing ${Path.join(withAlertsLink, "alerts")}: it is`]
      ]
      const results = yield* Effect.forEach(runs, ([args]) => cli(args, env), { concurrency: 3 })
      for (const [i, r] of results.entries()) expectRefused(r, runs[i]![1])
      // Without the refusal up front, the lock would have made `elsewhere/kc/` through the link.
      expect(Fs.readdirSync(elsewhere)).toEqual([])
      expect(snapshot(...dirs, elsewhere, withAlertsLink)).toEqual(before)
    }))

  it.live("a metrics file that cannot be written is refused at the start: exit 2, nothing run", () =>
    Effect.gen(function*() {
      const good = configFile("good.json", goodConfig)
      const shared = Path.join(world.root, "shared-textfile")
      Fs.mkdirSync(shared)
      Fs.chmodSync(shared, 0o777)
      const before = snapshot(...dirs)
      const runs: ReadonlyArray<readonly [ReadonlyArray<string>, string]> = [
        [
          ["reconcile", "kc", "--config", good, "--metrics-file", Path.join(world.root, "no-such-dir", "w.prom")],
          "--metrics-file: cannot write the metrics file"
        ],
        [
          ["reconcile", "kc", "--config", good, "--metrics-file", Path.join(shared, "w.prom")],
          "writable by every account"
        ]
      ]
      const results = yield* Effect.forEach(runs, ([args]) => cli(args, env), { concurrency: 2 })
      for (const [i, r] of results.entries()) expectRefused(r, runs[i]![1])
      expect(snapshot(...dirs)).toEqual(before)
    }))

  it.live("a malformed env file: one line naming the file and line, exit 1, nothing changed", () =>
    Effect.gen(function*() {
      const config = configFile("env.json", goodConfig)
      const badEnv = world.envFile(BAD_DOMAIN)
      const expected = `${badEnv}: line 2 contains a NUL byte: an env file is text: fix the env file by hand`

      const before = snapshot(...dirs)
      const plan = yield* cli(["plan", "bad", "--config", config, "--skip-fetch"], env)
      expect(plan.stdout).toBe("")
      expect(messages(plan)).toEqual([expected])
      expect(plan.code).toBe(1)
      expect(snapshot(...dirs)).toEqual(before)

      const callsBefore = world.readCalls().length
      const reconcile = yield* cli(["reconcile", "bad", "--config", config, "--skip-fetch"], env)
      expect(reconcile.stdout).toBe(`RECONCILE RESULT: failed:${expected}\n`)
      // stderr holds the log only: one ERROR line, the same message.
      expect(messages(reconcile)).toEqual([])
      const errors = reconcile.stderr.split("\n").filter((l) => l.includes("level=ERROR"))
      expect(errors).toHaveLength(1)
      expect(errors[0]).toContain("line 2 contains a NUL byte")
      expect(reconcile.code).toBe(1)
      // Read only: abra was asked which servers exist, and the run was recorded; nothing else (the
      // app's lock file stays: flock(2) locks its inode, so it is never removed).
      expect(world.readCalls().slice(callsBefore).map((c) => c.argv.slice(0, 2))).toEqual([["server", "ls"]])
      const changed = Object.entries(snapshot(...dirs)).filter(([p, v]) => before[p] !== v).map(([p]) => p)
      expect(changed.map((p) => Path.relative(world.root, p)).sort()).toEqual([
        "abra/.fake-abra/calls.jsonl",
        "state/bad",
        "state/bad/history.jsonl",
        "state/bad/lock"
      ])
      expect(Fs.readFileSync(Path.join(stateDir, "bad", "history.jsonl"), "utf8")).toContain("\"outcome\":\"failed\"")
    }))

  it.live("junk tags are skipped and nasty release notes (NUL, CRLF, a 1 MB line) still hold the upgrade", () =>
    Effect.gen(function*() {
      const config = configFile("tags.json", goodConfig)
      const before = snapshot(...dirs)
      const plan = yield* cli(["plan", "kc", "--config", config, "--skip-fetch"], env)
      expect(plan.stdout).toBe(
        "PLAN kc: hold (manual-migration) on 1.1.0+1.1, not upgrading to 1.2.0+1.2: " +
          "manual-migration warning in 1.2.0+1.2\n"
      )
      expect(messages(plan)).toEqual([])
      expect(plan.code).toBe(0)
      expect(snapshot(...dirs)).toEqual(before)

      const reconcile = yield* cli(["reconcile", "kc", "--config", config, "--skip-fetch"], env)
      expect(reconcile.stdout).toBe("RECONCILE RESULT: held-manual-migration:1.1.0+1.1->1.2.0+1.2\n")
      expect(messages(reconcile)).toEqual([])
      expect(reconcile.code).toBe(0)
      expect(world.readState().deployed[DOMAIN]?.version).toBe("1.1.0+1.1")
      const alerts = Fs.readdirSync(Path.join(stateDir, "alerts")).filter((f) => f.endsWith(".json"))
      expect(alerts).toHaveLength(1)
      const alert = JSON.parse(Fs.readFileSync(Path.join(stateDir, "alerts", alerts[0]!), "utf8"))
      expect(alert).toMatchObject({ app: "kc", reason: "held-manual-migration" })
      // The notes are kept as text, cut to the alert limit, the NUL byte included.
      expect(JSON.stringify(alert)).toContain("\\u0000binary")
    }))
})
