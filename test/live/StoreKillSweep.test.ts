/**
 * kill -9 at every point of the snapshot store's pre-copy, final pass (the take) and staged
 * restore: each operation runs in a child process (test/support/killedStore.ts, bundled once) that
 * kills its whole process group at its k-th point, for every k an undisturbed run passes: before
 * each call that changes the disk, and 20 ms into each command (rsync, cp). The e2e kill sweep
 * (test/e2e/kill.test.ts) kills the whole CLI at the reconcile's own boundaries on the real
 * engine, where the store's steps only show as files appearing; this one lands on each of them.
 *
 * What must hold after each kill, then after the next undisturbed run of the store:
 * - pre-copy: the snapshot a rollback uses is the one before, whole; the volumes are untouched;
 *   the next take and a restore from it bring back the volumes exactly.
 * - take: the app's snapshot is the one before or the new one, whole (never torn); a restore
 *   from it brings back that version's data exactly; the next take works.
 * - restore: each volume is as the release left it, or restored, or (between the two renames of
 *   its swap) away beside its mountpoint; a kill cannot undo what is done, so two volumes may be
 *   one of each, which the reconcile's in-flight record turns into another restore: the next
 *   restore brings back both exactly and leaves nothing beside them.
 *
 * In the deep run (`npm run test:deep`); `WARM_KILL_STRIDE=n` takes every n-th point.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { build } from "esbuild"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { ROOT } from "../support/bundle.js"
import * as Figures from "../support/figures.js"
import { app, fingerprint, populate, type World, world } from "../support/snapshotWorld.js"

type Operation = "precopy" | "take" | "restore"

const STRIDE = Number(process.env["WARM_KILL_STRIDE"] ?? 1)

/** The child, bundled once: `tsx` would cost seconds of compiling per case. */
const bundled = Effect.acquireRelease(
  Effect.promise(async () => {
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "warm-killed-store-"))
    const outfile = Path.join(dir, "killedStore.mjs")
    await build({
      entryPoints: [Path.join(ROOT, "test", "support", "killedStore.ts")],
      outfile,
      bundle: true,
      platform: "node",
      target: "node20",
      format: "esm",
      logLevel: "warning",
      banner: {
        js: "import { createRequire as __createRequire } from \"node:module\"; " +
          "const require = __createRequire(import.meta.url);"
      }
    })
    return { dir, outfile }
  }),
  ({ dir }) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

interface Run {
  readonly pid: number
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** The child as the leader of a process group of its own, so that its kill takes its commands too. */
const runChild = (child: string, root: string, operation: Operation, version: string, killAt: number) =>
  Effect.async<Run>((resume) => {
    const p = ChildProcess.spawn(process.execPath, [child, root, operation, version, String(killAt)], {
      detached: true,
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    p.stdout.on("data", (d) => stdout += d)
    p.stderr.on("data", (d) => stderr += d)
    p.on("close", (code, signal) => {
      // Whatever of the group outlived its leader (an rsync between two reads) goes too.
      try {
        process.kill(-p.pid!, "SIGKILL")
      } catch {
        // ESRCH: the whole group is gone.
      }
      resume(Effect.succeed({ pid: p.pid!, code, signal, stdout, stderr }))
    })
  })

/** No process of the killed group may still be writing when the checks read the disk. */
const groupGone = (pid: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < 100; i++) {
      try {
        process.kill(-pid, 0)
      } catch {
        return
      }
      yield* Effect.sleep("50 millis")
    }
  })

const fingerprints = (w: World) => w.volumes.map((v) => JSON.stringify(fingerprint(v.mountpoint)))

/** What a release does to a volume: a rewrite, a new file, a removed directory, a chmod. */
const change = (dir: string, tag: string) => {
  Fs.writeFileSync(Path.join(dir, "blob.bin"), `rewritten by ${tag}\n`.repeat(50_000))
  Fs.writeFileSync(Path.join(dir, `new-${tag}`), `${tag}\n`)
  Fs.rmSync(Path.join(dir, "empty"), { recursive: true, force: true })
  Fs.chmodSync(Path.join(dir, "run.sh"), 0o700)
}

/**
 * Every entry of `dir` an hour older: a pre-copy leaves out the files modified just before it
 * started (the take copies them whole), and how many those are would depend on the machine's
 * speed; aged, every run passes the same points.
 */
const age = (dir: string) => {
  const then = new Date(Date.now() - 3_600_000)
  const visit = (path: string) => {
    if (Fs.lstatSync(path).isDirectory()) Fs.readdirSync(path).forEach((name) => visit(Path.join(path, name)))
    Fs.lutimesSync(path, then, then)
  }
  visit(dir)
}

/** The entries a restore or a take may leave beside a volume's data dir. */
const siblings = (w: World) =>
  w.volumes.flatMap((v) => Fs.readdirSync(Path.dirname(v.mountpoint)).filter((e) => e !== Path.basename(v.mountpoint)))

interface Arranged {
  readonly w: World
  /** Per volume, the data each outcome may leave (JSON of the fingerprint). */
  readonly data: Readonly<Record<string, ReadonlyArray<string>>>
}

/** The world each operation is killed in, up to the moment the child starts. */
const arrange = (operation: Operation) =>
  Effect.gen(function*() {
    const w = yield* world()
    w.volumes.forEach((v, i) => populate(v.mountpoint, `v${i}`))
    const first = fingerprints(w)
    yield* w.snapshots.take(app, "1.0.0", w.volumes)
    w.volumes.forEach((v) => {
      change(v.mountpoint, "1.1")
      age(v.mountpoint)
    })
    if (operation !== "take") return { w, data: { first, changed: fingerprints(w) } } satisfies Arranged
    // take: a pre-copy while the app ran, then more changes before the undeploy.
    yield* w.snapshots.precopy(app, w.volumes)
    w.volumes.forEach((v) => change(v.mountpoint, "1.1b"))
    return { w, data: { first, changed: fingerprints(w) } } satisfies Arranged
  })

/** The checks after a kill at one point (see the module comment); undefined when all held. */
const check = (operation: Operation, { data, w }: Arranged) =>
  Effect.gen(function*() {
    if (operation === "precopy") {
      const meta = yield* w.snapshots.show(app)
      if (Option.getOrUndefined(meta)?.version !== "1.0.0") return "the snapshot before is no longer shown"
      if (JSON.stringify(fingerprints(w)) !== JSON.stringify(data["changed"])) return "a pre-copy changed a volume"
      yield* w.snapshots.take(app, "1.1.0", w.volumes)
      w.volumes.forEach((v) => change(v.mountpoint, "1.2"))
      yield* w.snapshots.restore(app, w.volumes)
      return JSON.stringify(fingerprints(w)) === JSON.stringify(data["changed"])
        ? undefined
        : "a take after the killed pre-copy did not restore exactly"
    }
    if (operation === "take") {
      const version = Option.getOrUndefined(yield* w.snapshots.show(app))?.version
      if (version !== "1.0.0" && version !== "1.1.0") return `the app's snapshot is ${version ?? "gone"}`
      yield* w.snapshots.restore(app, w.volumes)
      const expected = version === "1.0.0" ? data["first"] : data["changed"]
      if (JSON.stringify(fingerprints(w)) !== JSON.stringify(expected)) {
        return `the ${version} snapshot left by the kill did not restore exactly`
      }
      yield* w.snapshots.take(app, "1.2.0", w.volumes)
      const next = Option.getOrUndefined(yield* w.snapshots.show(app))?.version
      return next === "1.2.0" ? undefined : `the next take left ${next ?? "no snapshot"}`
    }
    const problems: Array<string> = []
    w.volumes.forEach((v, i) => {
      if (!Fs.existsSync(v.mountpoint)) {
        const parked = Fs.readdirSync(Path.dirname(v.mountpoint)).some((e) => e.includes(".warm-old-"))
        if (!parked) problems.push(`${v.name} is gone and not beside its mountpoint`)
        return
      }
      const now = JSON.stringify(fingerprint(v.mountpoint))
      if (now !== data["changed"]![i] && now !== data["first"]![i]) {
        problems.push(`${v.name} is neither as the release left it nor restored`)
      }
    })
    if (problems.length > 0) return problems.join("; ")
    yield* w.snapshots.restore(app, w.volumes)
    if (JSON.stringify(fingerprints(w)) !== JSON.stringify(data["first"])) {
      return "the next restore did not bring back the snapshot"
    }
    // The replaced data dirs go in the background once the volumes are back: wait for that.
    for (let i = 0; i < 100 && siblings(w).length > 0; i++) yield* Effect.sleep("100 millis")
    const left = siblings(w)
    return left.length === 0 ? undefined : `left beside the volumes: ${left.join(", ")}`
  })

const sweep = (child: string, operation: Operation) =>
  Effect.gen(function*() {
    const version = operation === "take" ? "1.1.0" : "1.0.0"
    // An undisturbed run first: its points, in order.
    const points = yield* Effect.scoped(Effect.gen(function*() {
      const arranged = yield* arrange(operation)
      const r = yield* runChild(child, arranged.w.root, operation, version, 0)
      expect(r.code, r.stderr).toBe(0)
      // The points are the last line: the store logs its progress before.
      return JSON.parse(r.stdout.trim().split("\n").at(-1)!) as ReadonlyArray<string>
    }))
    const failures: Array<string> = []
    let cases = 0
    const offset = STRIDE > 1 ? Math.floor(Math.random() * STRIDE) : 0
    for (let k = 1 + offset; k <= points.length; k += STRIDE) {
      cases++
      const problem = yield* Effect.scoped(Effect.gen(function*() {
        const arranged = yield* arrange(operation)
        const r = yield* runChild(child, arranged.w.root, operation, version, k)
        yield* groupGone(r.pid)
        if (r.signal !== "SIGKILL") return `not killed (exit ${r.code}): ${r.stderr.trim().split("\n").at(-1)}`
        // Each run passes the same points: the kill lands where the undisturbed run says (the labels
        // name the staging and retired dirs by their random suffixes: compared without them).
        const landed = /killed at \d+: (.*)/.exec(r.stderr)?.[1]
        const bare = (label: string | undefined) => label?.replace(/-[0-9a-f]{12}\b/g, "-*")
        if (bare(landed) !== bare(points[k - 1])) return `killed at ${landed ?? "an unknown point"}, not there`
        return yield* check(operation, arranged)
      }))
      if (problem !== undefined) failures.push(`#${k} (${points[k - 1]}): ${problem}`)
    }
    console.log(
      `store kill sweep, ${operation}: ${points.length} points, ${cases} cases, ${cases - failures.length} held`
    )
    return { points, cases, failures }
  })

describe("kill -9 at every point of the snapshot store's pre-copy, take and restore", () => {
  for (const operation of ["precopy", "take", "restore"] as const) {
    it.scopedLive(
      `${operation}: every kill leaves a whole snapshot and volumes the next run brings back`,
      () =>
        Effect.gen(function*() {
          const { outfile } = yield* bundled
          const { cases, failures, points } = yield* sweep(outfile, operation)
          expect(failures).toEqual([])
          // The points the module comment promises are there: a sweep over fewer would hold trivially.
          expect(points.some((p) => p.startsWith("command "))).toBe(true)
          // A restore of two volumes renames each away and its staging in; a take puts its new snapshot in
          // place by a rename; a pre-copy copies into its own tree.
          if (operation === "restore") {
            expect(points.filter((p) => p.startsWith("rename ")).length).toBeGreaterThanOrEqual(4)
          }
          if (operation === "take") expect(points.some((p) => p.startsWith("rename "))).toBe(true)
          if (STRIDE === 1) expect(cases).toBe(points.length)
          if (STRIDE === 1) {
            Figures.record("store-kill-sweep", {
              [`${operation}.cases`]: cases,
              [`${operation}.held`]: cases - failures.length
            })
          }
        }),
      1_800_000
    )
  }
})
