/**
 * `npm run test:mutants`: makes each mutation of scripts/mutations.ts to a copy of the working tree,
 * one at a time, runs the tests there, and reports which test files kill each mutant. The working
 * tree itself is never changed: the copy lives in a temporary directory (node_modules linked), is
 * reset after each mutant and removed on any exit. Results are merged into
 * test/figures/mutants.json, which docs/reliability.md quotes (test/docs.test.ts checks it does).
 *
 *   npm run test:mutants                          every mutant, the whole unit suite (hours on 2 cores)
 *   npm run test:mutants -- --sweeps              only the sweeps (fault, recovery, property runs)
 *   npm run test:mutants -- --only one-success,crash-loop-off --no-baseline
 *
 * A mutant no test file kills, or a mutation whose search text is not found, exits 1.
 * Not part of `npm test`.
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { apply, filesOf, type MutantId, type MutantResult, type Mutation, MUTATIONS } from "./mutations.js"

const ROOT = fileURLToPath(new URL("..", import.meta.url))
const RESULTS = Path.join(ROOT, "test", "figures", "mutants.json")
/**
 * The sweeps: every mutant must be killed by one of these, not only by an example test. The
 * program's (fault, recovery, random worlds) and the live code's (the lock, the staged restore,
 * redaction), each an enumerated set of cases with its own expected outcome.
 */
const SWEEP =
  /^test\/(reconcile\/(Faults|Recovery|Properties[^/]*)|live\/[A-Za-z]+Sweep|domain\/[A-Za-z]+Sweep)\.test\.ts$/

interface Options {
  readonly only: ReadonlyArray<MutantId> | undefined
  readonly sweepsOnly: boolean
  readonly baseline: boolean
  readonly timeoutMinutes: number
}

const parseArgs = (argv: ReadonlyArray<string>): Options => {
  const value = (flag: string) => {
    const i = argv.indexOf(flag)
    return i === -1 ? undefined : argv[i + 1]
  }
  const only = value("--only")?.split(",").filter((s) => s !== "")
  const unknown = only?.filter((id) => !MUTATIONS.some((m) => m.id === id)) ?? []
  if (unknown.length > 0) {
    throw new Error(`unknown mutant ${unknown.join(", ")}; known: ${MUTATIONS.map((m) => m.id).join(", ")}`)
  }
  const sweepsOnly = argv.includes("--sweeps")
  return {
    only: only as ReadonlyArray<MutantId> | undefined,
    sweepsOnly,
    baseline: !argv.includes("--no-baseline"),
    timeoutMinutes: Number(value("--timeout-minutes") ?? (sweepsOnly ? 20 : 60))
  }
}

const git = (args: ReadonlyArray<string>) =>
  ChildProcess.execFileSync("git", args, { cwd: ROOT, encoding: "utf8", maxBuffer: 64 << 20 })

/** A copy of the working tree as it is (tracked and untracked files, not ignored ones), node_modules linked. */
const copyTree = (): string => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "warm-reconcile-mutants-"))
  for (const file of git(["ls-files", "-z", "--cached", "--others", "--exclude-standard"]).split("\0")) {
    if (file === "" || !Fs.existsSync(Path.join(ROOT, file))) continue
    Fs.mkdirSync(Path.dirname(Path.join(dir, file)), { recursive: true })
    Fs.copyFileSync(Path.join(ROOT, file), Path.join(dir, file))
  }
  Fs.symlinkSync(Path.join(ROOT, "node_modules"), Path.join(dir, "node_modules"))
  return dir
}

let running: ChildProcess.ChildProcess | undefined
let copy: string | undefined

/** End the running vitest (its process group, by its pid) and remove the copy. */
const cleanUp = () => {
  if (running?.pid !== undefined && running.exitCode === null) {
    try {
      process.kill(-running.pid, "SIGKILL")
    } catch {
      // already gone
    }
  }
  if (copy !== undefined) Fs.rmSync(copy, { recursive: true, force: true })
  copy = undefined
}

interface Failed {
  readonly file: string
  /** The first failing test of the file and the first line of its failure. */
  readonly first: string
}

interface Report {
  readonly testResults: ReadonlyArray<{
    readonly name: string
    readonly status: string
    readonly message?: string
    readonly assertionResults: ReadonlyArray<
      { readonly title: string; readonly status: string; readonly failureMessages: ReadonlyArray<string> }
    >
  }>
}

const firstFailure = (r: Report["testResults"][number]): string => {
  const test = r.assertionResults.find((a) => a.status === "failed")
  const message = (test?.failureMessages[0] ?? r.message ?? "").split("\n")[0]!.slice(0, 200)
  return test === undefined ? message : `${test.title}: ${message}`
}

/** Test files that failed in the copy; undefined when vitest did not finish within the timeout. */
const runTests = (dir: string, files: ReadonlyArray<string>, timeoutMinutes: number) =>
  new Promise<ReadonlyArray<Failed> | undefined>((resolve) => {
    const report = Path.join(dir, ".mutants-report.json")
    Fs.rmSync(report, { force: true })
    const child = ChildProcess.spawn(
      process.execPath,
      [
        Path.join(dir, "node_modules", "vitest", "vitest.mjs"),
        "run",
        "--reporter=dot",
        "--reporter=json",
        `--outputFile.json=${report}`,
        ...files
      ],
      // Every sweep, the restore sweep included (`npm test` leaves it to the deep run).
      { cwd: dir, stdio: ["ignore", "ignore", "ignore"], detached: true, env: { ...process.env, WARM_ALL_SWEEPS: "1" } }
    )
    running = child
    // A mutant that makes a test hang past vitest's own timeouts: kill the group, count it as killed.
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL")
    }, timeoutMinutes * 60_000)
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      running = undefined
      if (signal !== null || !Fs.existsSync(report)) return resolve(undefined)
      const json = JSON.parse(Fs.readFileSync(report, "utf8")) as Report
      const failed = json.testResults.filter((r) => r.status !== "passed")
        .map((r) => ({ file: Path.relative(dir, r.name), first: firstFailure(r) }))
        .sort((a, b) => a.file.localeCompare(b.file))
      // A non-zero exit with no failed file (an unhandled error, a crashed worker) still kills.
      resolve(code !== 0 && failed.length === 0 ? [{ file: "(vitest run: unhandled error)", first: "" }] : failed)
    })
  })

const readResults = (): Record<string, MutantResult> =>
  Fs.existsSync(RESULTS) ? JSON.parse(Fs.readFileSync(RESULTS, "utf8")) : {}

const record = (id: MutantId, result: MutantResult) => {
  const all = { ...readResults(), [id]: result }
  const ordered = Object.fromEntries(MUTATIONS.flatMap((m) => m.id in all ? [[m.id, all[m.id]]] : []))
  Fs.mkdirSync(Path.dirname(RESULTS), { recursive: true })
  Fs.writeFileSync(RESULTS, `${JSON.stringify(ordered, null, 2)}\n`)
}

/** Apply `m` to the copy: every search text must be found once, else nothing is run. */
const mutate = (dir: string, m: Mutation) => {
  for (const file of filesOf(m)) {
    const original = Fs.readFileSync(Path.join(ROOT, file), "utf8")
    Fs.writeFileSync(Path.join(dir, file), apply(m.id, file, original, m.patches))
  }
}

const restore = (dir: string, m: Mutation) => {
  for (const file of filesOf(m)) Fs.copyFileSync(Path.join(ROOT, file), Path.join(dir, file))
}

const main = async () => {
  const options = parseArgs(process.argv.slice(2))
  const chosen = MUTATIONS.filter((m) => options.only === undefined || options.only.includes(m.id))
  // Every mutation is checked before anything runs: a stale one fails at once.
  for (const m of chosen) {
    for (const file of filesOf(m)) apply(m.id, file, Fs.readFileSync(Path.join(ROOT, file), "utf8"), m.patches)
  }
  const commit = git(["rev-parse", "--short", "HEAD"]).trim()
  copy = copyTree()
  const files = options.sweepsOnly
    ? git(["ls-files", "test"]).split("\n").filter((f) => SWEEP.test(f))
    : []
  console.log(`mutants: ${chosen.length}; tests: ${options.sweepsOnly ? files.join(" ") : "the unit suite"}`)

  let ignored: ReadonlyArray<string> = []
  if (options.baseline) {
    const started = Date.now()
    const failing = await runTests(copy, files, options.timeoutMinutes)
    if (failing === undefined) throw new Error("the unmutated tests did not finish: fix that first")
    ignored = failing.map((f) => f.file)
    const seconds = Math.round((Date.now() - started) / 1000)
    console.log(`baseline (no mutation): ${failing.length ? "failing, ignored:" : "passes"} in ${seconds} s`)
    for (const f of failing) console.log(`  ${f.file}: ${f.first}`)
  }

  const survivors: Array<string> = []
  for (const m of chosen) {
    const started = Date.now()
    mutate(copy, m)
    const failed = await runTests(copy, files, options.timeoutMinutes)
    restore(copy, m)
    const kills = failed === undefined
      ? [{ file: `(no end within ${options.timeoutMinutes} minutes)`, first: "" }]
      : failed.filter((f) => !ignored.includes(f.file))
    const killedBy = kills.map((f) => f.file)
    const bySweep = killedBy.some((f) => SWEEP.test(f))
    record(m.id, { killedBy, suite: options.sweepsOnly ? "sweeps" : "all", commit })
    const seconds = Math.round((Date.now() - started) / 1000)
    console.log(
      `${m.id}: ${killedBy.length ? `killed by ${killedBy.join(", ")}` : "SURVIVED"}${
        killedBy.length && !bySweep ? " (no sweep among them)" : ""
      } in ${seconds} s`
    )
    for (const f of kills) console.log(`  ${f.file}: ${f.first}`)
    if (killedBy.length === 0) survivors.push(m.id)
  }
  console.log(`results merged into ${Path.relative(ROOT, RESULTS)}`)
  return survivors.length === 0 ? 0 : 1
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    cleanUp()
    process.exit(130)
  })
}
process.on("exit", cleanUp)

main().then((code) => process.exit(code), (e: unknown) => {
  console.error(`test:mutants: ${e instanceof Error ? e.message : String(e)}`)
  process.exit(1)
})
