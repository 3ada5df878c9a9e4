/**
 * The metrics file: phase durations as the program times them (on the TestClock, so the expected
 * seconds are exact), the Prometheus text it renders, what it carries over from the
 * previous file and reads from the run history, and the atomic write on a real directory.
 */
import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Option, TestClock } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Alert, ALERT_SCHEMA_VERSION } from "../../src/domain/Alert.js"
import { NotifyChannel } from "../../src/domain/Notify.js"
import * as Alerts from "../../src/live/Alerts.js"
import * as Metrics from "../../src/live/Metrics.js"
import * as NoticeFiles from "../../src/live/NoticeFiles.js"
import { recordRun, setHold } from "../../src/live/State.js"
import { forApp, inPhase, timedPhase } from "../../src/reconcile/Steps.js"
import { HoldRecord, RunRecord } from "../../src/services/State.js"

/** The program's phases, marked with its own helpers, in miniature: each takes the given virtual time. */
const step = (mark: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>) => (seconds: number) =>
  Effect.sleep(`${seconds} seconds`).pipe(mark)
const take = step(timedPhase("snapshot"))
const deploy = step(timedPhase("deploy"))
const waitHealthy = step(timedPhase("health"))
const restore = step(timedPhase("restore"))
/** The planner's look at the running app (a health check that is no gate after a deploy). */
const look = step(inPhase("health"))
const unrelated = step(inPhase("reconcile"))

const appRun = <A, E, R>(app: string, effect: Effect.Effect<A, E, R>) =>
  Effect.withSpan(effect.pipe(forApp({ name: app })), "reconcile", { attributes: { app } })

const run = (overrides: Partial<RunRecord> & Pick<RunRecord, "outcome" | "endedAt">) =>
  new RunRecord({ app: "kc", detail: "", startedAt: overrides.endedAt, interrupted: false, ...overrides })

const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "warm-reconcile-metrics-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

/** Every sample line as `name{labels}` -> value, after checking each line is valid text format. */
const samples = (text: string): Map<string, number> => {
  const out = new Map<string, number>()
  const declared = new Map<string, string>()
  expect(text.endsWith("\n")).toBe(true)
  for (const line of text.slice(0, -1).split("\n")) {
    const comment = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line)
    if (comment !== null) {
      if (comment[1] === "TYPE") {
        expect(["gauge", "counter"]).toContain(comment[3])
        declared.set(comment[2]!, comment[3]!)
      }
      continue
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*)\} (\S+)$/.exec(line)
    expect(m, `a valid sample line: ${line}`).not.toBeNull()
    // Each family is declared before its samples; a counter's name ends in _total.
    expect(declared.has(m![1]!), `${m![1]} declared first`).toBe(true)
    if (declared.get(m![1]!) === "counter") expect(m![1]).toMatch(/_total$/)
    const value = Number(m![3])
    expect(Number.isFinite(value)).toBe(true)
    out.set(`${m![1]}{${m![2]}}`, value)
  }
  return out
}

describe("Metrics.Recorder", () => {
  it.effect("times snapshot, deploy, health after a deploy, and restore per app from the program's phase marks", () =>
    Effect.gen(function*() {
      const recorder = new Metrics.Recorder()
      const kc = appRun(
        "kc",
        Effect.gen(function*() {
          // The planner's look at the running app: not the health gate.
          yield* look(1)
          yield* unrelated(2)
          yield* take(5)
          yield* deploy(3)
          yield* waitHealthy(7)
          // A failed gate, then the rollback: restore, redeploy, health again; the phases add up.
          yield* restore(4)
          yield* deploy(2)
          yield* waitHealthy(6)
        })
      )
      const nc = appRun("nc", Effect.zipRight(deploy(10), waitHealthy(1)))
      const fiber = yield* Effect.all([kc, nc, deploy(8)], { concurrency: "unbounded" }).pipe(
        Metrics.recording(recorder),
        Effect.fork
      )
      yield* TestClock.adjust("1 minute")
      yield* Fiber.join(fiber)
      expect(Object.fromEntries(recorder.durations("kc"))).toEqual({ snapshot: 5, deploy: 5, health: 13, restore: 4 })
      expect(Object.fromEntries(recorder.durations("nc"))).toEqual({ deploy: 10, health: 1 })
      // A span outside any app's run belongs to nobody.
      expect(recorder.durations("")).toEqual(new Map())
    }))

  it.effect("recording leaves the spans as they were: names, parents and attributes", () =>
    Effect.gen(function*() {
      const recorder = new Metrics.Recorder()
      const seen = yield* appRun(
        "kc",
        Effect.fn("Apps.deploy")(function*() {
          const span = yield* Effect.currentSpan
          return {
            name: span.name,
            parent: Option.map(span.parent, (p) => p._tag === "Span" ? p.name : p._tag),
            app: Option.flatMap(
              span.parent,
              (p) => p._tag === "Span" ? Option.fromNullable(p.attributes.get("app")) : Option.none()
            )
          }
        })()
      ).pipe(Metrics.recording(recorder))
      expect(seen).toEqual({ name: "Apps.deploy", parent: Option.some("reconcile"), app: Option.some("kc") })
    }))

  it("counts from the history: rollbacks (a recovery to last-good included), upgrades, holds; after a time only", () => {
    const at = (hour: number) => `2026-11-20T${String(hour).padStart(2, "0")}:00:00.000Z`
    const history = [
      run({ outcome: "rolled-back", detail: "2->1", endedAt: at(1) }),
      run({ outcome: "rollback-failed", detail: "2->1", endedAt: at(2) }),
      run({ outcome: "upgraded", detail: "1->2", endedAt: at(3) }),
      run({ outcome: "held-failed-release", detail: "1->2", endedAt: at(4) }),
      // A recovery: bringing last-good back is a rollback; keeping the target that ran healthy is an upgrade.
      run({ outcome: "recovered", detail: "2->1", endedAt: at(5), interrupted: true }),
      run({ outcome: "recovered", detail: "2", endedAt: at(6) }),
      run({ outcome: "noop-healthy", endedAt: at(7) }),
      run({ outcome: "held-major", detail: "1->3", endedAt: at(8) })
    ]
    expect(Metrics.countRuns(history, undefined)).toEqual({ rollbacks: 3, upgrades: 2, holds: 2 })
    expect(Metrics.countRuns(history, Date.parse(at(4)))).toEqual({ rollbacks: 1, upgrades: 1, holds: 1 })
    expect(Metrics.countRuns(history, Date.parse(at(8)))).toEqual({ rollbacks: 0, upgrades: 0, holds: 0 })
  })
})

describe("the metrics file", () => {
  it("last run and last success come from the history: a failed or interrupted run is no success", () => {
    const history = [
      run({ outcome: "upgraded", endedAt: "2026-11-20T03:00:00.000Z" }),
      run({ outcome: "noop-healthy", endedAt: "2026-11-21T03:00:00.500Z" }),
      run({ outcome: "rolled-back", endedAt: "2026-11-22T03:00:00.000Z", interrupted: true }),
      run({ outcome: "rollback-failed", endedAt: "2026-11-23T03:00:00.000Z" })
    ]
    const m = Metrics.fromHistory(history)
    expect(m.lastRun).toEqual(
      Option.some({ endedAt: Date.parse("2026-11-23T03:00:00.000Z"), outcome: "rollback-failed", exitCode: 1 })
    )
    expect(m.lastSuccess).toEqual(Option.some(Date.parse("2026-11-21T03:00:00.500Z")))
    expect(Metrics.fromHistory([])).toEqual({ lastRun: Option.none(), lastSuccess: Option.none() })
  })

  it("renders valid text format, and what it carries over parses back (labels escaped)", () => {
    const odd = "we\"ird\\app\nname"
    const text = Metrics.render([
      {
        app: "kc",
        lastRun: Option.some({ endedAt: 1_764_000_000_123, outcome: "upgraded", exitCode: 0 }),
        lastSuccess: Option.some(1_764_000_000_123),
        durations: new Map([["deploy", 12.3456], ["health", 40]] as const),
        counts: { rollbacks: 3, upgrades: 4, holds: 5 },
        waiting: Option.some({ from: "1.1.0+1.1", to: "2.0.0+2.0", reason: "major" }),
        unacknowledgedAlerts: 2
      },
      {
        app: odd,
        lastRun: Option.none(),
        lastSuccess: Option.none(),
        durations: new Map(),
        counts: { rollbacks: 0, upgrades: 0, holds: 0 },
        waiting: Option.none(),
        unacknowledgedAlerts: 0
      }
    ])
    const s = samples(text)
    expect(s.get("warm_reconcile_last_run_timestamp_seconds{app=\"kc\"}")).toBe(1_764_000_000.123)
    expect(s.get("warm_reconcile_last_outcome{app=\"kc\",outcome=\"upgraded\"}")).toBe(1)
    expect(s.get("warm_reconcile_last_run_exit_code{app=\"kc\"}")).toBe(0)
    expect(s.get("warm_reconcile_last_success_timestamp_seconds{app=\"kc\"}")).toBe(1_764_000_000.123)
    expect(s.get("warm_reconcile_phase_duration_seconds{app=\"kc\",phase=\"deploy\"}")).toBe(12.346)
    expect(s.get("warm_reconcile_rollbacks_total{app=\"kc\"}")).toBe(3)
    expect(s.get("warm_reconcile_upgrades_total{app=\"kc\"}")).toBe(4)
    expect(s.get("warm_reconcile_holds_total{app=\"kc\"}")).toBe(5)
    expect(s.get("warm_reconcile_update_available{app=\"kc\",from=\"1.1.0+1.1\",to=\"2.0.0+2.0\",kind=\"major\"}"))
      .toBe(1)
    expect(s.get("warm_reconcile_unacknowledged_alerts{app=\"kc\"}")).toBe(2)
    // An app that never ran has its counters and alerts at 0 and no other series.
    expect(s.get("warm_reconcile_rollbacks_total{app=\"we\\\"ird\\\\app\\nname\"}")).toBe(0)
    expect([...s.keys()].filter((k) => k.includes("ird"))).toHaveLength(4)

    const carried = Metrics.parsePrevious(text)
    expect(carried.counts).toEqual(
      new Map([["kc", { rollbacks: 3, upgrades: 4, holds: 5 }], [odd, { rollbacks: 0, upgrades: 0, holds: 0 }]])
    )
    expect(carried.countedUntil).toEqual(new Map([["kc", 1_764_000_000_123]]))
    expect(carried.durations).toEqual(new Map([["kc", new Map([["deploy", 12.346], ["health", 40]])]]))
  })

  // On the TestClock for the timed deploy; the files are real.
  it.scoped("write: merges the run into the previous file and the history, atomically, readable by node_exporter", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const stateDir = Path.join(dir, "state")
      const path = Path.join(dir, "textfile", "warm-reconcile.prom")
      Fs.mkdirSync(Path.dirname(path))
      yield* recordRun(stateDir, run({ outcome: "upgraded", endedAt: "2026-11-20T03:00:00.000Z" }))
      yield* recordRun(stateDir, run({ outcome: "rolled-back", detail: "2->1", endedAt: "2026-11-21T03:00:00.000Z" }))
      Fs.writeFileSync(
        path,
        [
          "# HELP whatever text",
          "warm_reconcile_phase_duration_seconds{app=\"kc\",phase=\"deploy\"} 9",
          "warm_reconcile_phase_duration_seconds{app=\"kc\",phase=\"health\"} 8",
          "warm_reconcile_phase_duration_seconds{app=\"kc\",phase=\"bogus\"} 8",
          "warm_reconcile_rollbacks_total{app=\"kc\"} 2",
          "warm_reconcile_rollbacks_total{app=\"gone\"} 5",
          "warm_reconcile_rollbacks_total{app=\"nc\"} not-a-number",
          "garbage {{{",
          ""
        ].join("\n")
      )
      const before = Fs.statSync(path)
      const reader = Fs.openSync(path, "r")
      yield* Effect.addFinalizer(() => Effect.sync(() => Fs.closeSync(reader)))

      // This run: kc deployed (3 s) and was rolled back (the history's last run). The previous file
      // (of an earlier version: no last-run series) carries 2 rollbacks; every run in the history is new to it.
      const recorder = new Metrics.Recorder()
      const fiber = yield* appRun("kc", deploy(3)).pipe(Metrics.recording(recorder), Effect.fork)
      yield* TestClock.adjust("5 seconds")
      yield* Fiber.join(fiber)

      yield* Metrics.write(path, { stateDir, apps: ["kc", "nc"], recorder })
      const text = Fs.readFileSync(path, "utf8")
      const s = samples(text)
      // The run's deploy replaces the old one; health (not run this time) is kept; bogus phases are dropped.
      expect(s.get("warm_reconcile_phase_duration_seconds{app=\"kc\",phase=\"deploy\"}")).toBe(3)
      expect(s.get("warm_reconcile_phase_duration_seconds{app=\"kc\",phase=\"health\"}")).toBe(8)
      expect(text).not.toContain("bogus")
      expect(s.get("warm_reconcile_rollbacks_total{app=\"kc\"}")).toBe(3)
      // nc is configured but never ran: 0; gone is no longer configured: dropped.
      expect(s.get("warm_reconcile_rollbacks_total{app=\"nc\"}")).toBe(0)
      expect(text).not.toContain("gone")
      expect(s.get("warm_reconcile_last_outcome{app=\"kc\",outcome=\"rolled-back\"}")).toBe(1)
      expect(s.get("warm_reconcile_last_success_timestamp_seconds{app=\"kc\"}")).toBe(
        Date.parse("2026-11-21T03:00:00.000Z") / 1000
      )
      expect(s.get("warm_reconcile_last_run_timestamp_seconds{app=\"kc\"}")).toBe(
        Date.parse("2026-11-21T03:00:00.000Z") / 1000
      )

      // Replaced by a rename, not rewritten in place: a reader of the old file still sees it whole.
      const after = Fs.statSync(path)
      expect(after.ino).not.toBe(before.ino)
      const old = Buffer.alloc(before.size)
      Fs.readSync(reader, old, 0, before.size, 0)
      expect(old.toString("utf8")).toContain("warm_reconcile_rollbacks_total{app=\"gone\"} 5")
      expect(after.mode & 0o777).toBe(0o644)
      expect(Fs.readdirSync(Path.dirname(path))).toEqual(["warm-reconcile.prom"])

      // Another run that went through no phase keeps every duration and the counter.
      yield* Metrics.write(path, { stateDir, apps: ["kc", "nc"], recorder: new Metrics.Recorder() })
      const again = samples(Fs.readFileSync(path, "utf8"))
      expect(again.get("warm_reconcile_phase_duration_seconds{app=\"kc\",phase=\"deploy\"}")).toBe(3)
      expect(again.get("warm_reconcile_rollbacks_total{app=\"kc\"}")).toBe(3)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scopedLive("write into a missing directory fails with a MetricsError that says what to do", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const path = Path.join(dir, "no-such-dir", "warm-reconcile.prom")
      const error = yield* Metrics.write(path, { stateDir: dir, apps: [], recorder: new Metrics.Recorder() }).pipe(
        Effect.flip
      )
      expect(error._tag).toBe("MetricsError")
      expect(error.message).toContain(path)
      expect(error.message).toContain("create the directory")
      const fs = yield* FileSystem.FileSystem
      expect(yield* fs.exists(Path.dirname(path))).toBe(false)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scopedLive("refuses a directory another account can write, a FIFO and a link at the path; the run is not blocked", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const shared = Path.join(dir, "shared")
      Fs.mkdirSync(shared)
      Fs.chmodSync(shared, 0o777)
      const write = (path: string) =>
        Metrics.write(path, { stateDir: dir, apps: [], recorder: new Metrics.Recorder() }).pipe(Effect.flip)
      const open = yield* write(Path.join(shared, "warm-reconcile.prom"))
      expect(open.message).toContain(`refusing the directory ${shared}: it is writable by every account`)
      expect(Fs.readdirSync(shared)).toEqual([])

      const own = Path.join(dir, "own")
      Fs.mkdirSync(own, { mode: 0o755 })
      const fifo = Path.join(own, "fifo.prom")
      ChildProcess.execFileSync("mkfifo", [fifo])
      expect((yield* write(fifo)).message).toContain("it is not a regular file")
      const link = Path.join(own, "link.prom")
      Fs.symlinkSync("/etc/passwd", link)
      expect((yield* write(link)).message).toContain("it is a symbolic link")
      expect(Fs.lstatSync(link).isSymbolicLink()).toBe(true)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scopedLive("counters count the runs that wrote no metrics file; a held release and waiting alerts show", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const stateDir = Path.join(dir, "state")
      const path = Path.join(dir, "warm-reconcile.prom")
      const write = Metrics.write(path, { stateDir, apps: ["kc"], recorder: new Metrics.Recorder() })
      const night = (n: number) => `2026-11-${String(10 + n).padStart(2, "0")}T03:00:00.000Z`
      yield* recordRun(stateDir, run({ outcome: "rolled-back", detail: "2->1", endedAt: night(0) }))
      yield* write
      // Five more nights of rollbacks, by runs that were not asked to write metrics.
      for (let n = 1; n <= 5; n++) {
        yield* recordRun(stateDir, run({ outcome: "rolled-back", detail: "2->1", endedAt: night(n) }))
      }
      yield* recordRun(stateDir, run({ outcome: "held-major", detail: "1->3", endedAt: night(6) }))
      yield* setHold(
        stateDir,
        "kc",
        Option.some(new HoldRecord({ reason: "held-major", from: "1", to: "3", ts: night(6) }))
      )
      const alerts = yield* Alerts.make({ stateDir })
      yield* alerts.write(
        new Alert({ schemaVersion: ALERT_SCHEMA_VERSION, app: "kc", reason: "held-major", ts: night(6), fields: {} })
      )
      yield* write
      const s = samples(Fs.readFileSync(path, "utf8"))
      expect(s.get("warm_reconcile_rollbacks_total{app=\"kc\"}")).toBe(6)
      expect(s.get("warm_reconcile_holds_total{app=\"kc\"}")).toBe(1)
      expect(s.get("warm_reconcile_update_available{app=\"kc\",from=\"1\",to=\"3\",kind=\"major\"}")).toBe(1)
      expect(s.get("warm_reconcile_unacknowledged_alerts{app=\"kc\"}")).toBe(1)
      // Written again with nothing new: nothing is counted twice.
      yield* write
      expect(samples(Fs.readFileSync(path, "utf8")).get("warm_reconcile_rollbacks_total{app=\"kc\"}")).toBe(6)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scopedLive("notifications: the backlog per channel from the outbox, failures counted across runs", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const stateDir = Path.join(dir, "state")
      const path = Path.join(dir, "warm-reconcile.prom")
      const channels = [
        // ntfy also asks for success notices.
        new NotifyChannel({ url: "ntfy://127.0.0.1/ops", successes: ["upgraded"] }),
        // Only keycloak's alerts go to this one.
        new NotifyChannel({ url: "smtp://127.0.0.1:25/?from=a@example.org&to=b@example.org", apps: ["kc"] })
      ]
      const alerts = yield* Alerts.make({ stateDir })
      const alert = (app: string, ts: string) =>
        alerts.write(new Alert({ schemaVersion: ALERT_SCHEMA_VERSION, app, reason: "held-major", ts, fields: {} }))
      yield* alert("kc", "20261110T030000Z")
      yield* alert("wiki", "20261110T030001Z")
      yield* alert("kc", "20261111T030000Z")
      // ntfy accepted the first alert.
      const [first] = (yield* Alerts.list(stateDir)).filter((a) => a._tag === "Alert").map((a) => a.id).sort()
      Fs.mkdirSync(Path.join(stateDir, "alerts", "deliveries"), { recursive: true })
      Fs.writeFileSync(Path.join(stateDir, "alerts", "deliveries", `${first}.ntfy.json`), "{}")
      // A success notice waits too: ntfy's backlog, as `status` counts it; smtp asked for none.
      yield* NoticeFiles.postNotice(
        stateDir,
        { _tag: "upgraded", ts: "20261111T030100Z", app: "kc", from: "1.1", to: "1.2" },
        (json) => json
      )
      const write = (failed: ReadonlyArray<string>) =>
        Metrics.write(path, {
          stateDir,
          apps: ["kc", "wiki"],
          recorder: new Metrics.Recorder(),
          notify: { channels, failed: failed.map((channel) => ({ channel })) }
        })
      yield* write(["smtp", "smtp"])
      let s = samples(Fs.readFileSync(path, "utf8"))
      expect(s.get("warm_reconcile_notifications_pending{channel=\"ntfy\"}")).toBe(3)
      expect(s.get("warm_reconcile_notifications_pending{channel=\"smtp\"}")).toBe(2)
      expect(s.get("warm_reconcile_notification_failures_total{channel=\"smtp\"}")).toBe(2)
      expect(s.get("warm_reconcile_notification_failures_total{channel=\"ntfy\"}")).toBe(0)
      // The next run fails once more on smtp: the counter goes on from the file's.
      yield* write(["smtp"])
      s = samples(Fs.readFileSync(path, "utf8"))
      expect(s.get("warm_reconcile_notification_failures_total{channel=\"smtp\"}")).toBe(3)
      // Without channels there are no notification series.
      yield* Metrics.write(path, { stateDir, apps: ["kc"], recorder: new Metrics.Recorder() })
      expect(Fs.readFileSync(path, "utf8")).not.toContain("warm_reconcile_notif")
    }).pipe(Effect.provide(NodeContext.layer)))
})
