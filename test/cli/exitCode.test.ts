/**
 * Exit codes: one function over every outcome, every error a command can fail with and an
 * interrupt, against the README's table. The table below names every tag of `Ending` (the type
 * refuses a missing or an unknown one), so a new tag needs a code here and in `ExitCode.ts`.
 */
import { HelpDoc, ValidationError } from "@effect/cli"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { describe, expect, it } from "vitest"
import { type Ending, type ExitCode, exitCode, Interrupted, worst } from "../../src/cli/ExitCode.js"
import { ConfigError } from "../../src/domain/Config.js"
import * as Outcome from "../../src/domain/Outcome.js"
import { LockBusy } from "../../src/services/Lock.js"
import { ROOT } from "../support/cli.js"

const EXPECTED: { readonly [Tag in Ending["_tag"]]: ExitCode } = {
  // README: "the app ends healthy: upgraded, nothing to do, deployed, redeployed, held, or rolled back".
  "deployed-fresh": 0,
  "noop-healthy": 0,
  "redeployed-healthy": 0,
  "held-major": 0,
  "held-manual-migration": 0,
  "held-policy": 0,
  "held-unknown-version": 0,
  "held-failed-release": 0,
  "held-no-space": 0,
  "held-chaos": 0,
  "held-undeployed": 0,
  "held-window": 0,
  paused: 0,
  upgraded: 0,
  "rolled-back": 0,
  recovered: 0,
  // "the app ends unhealthy, the rollback itself failed, or an operation failed before anything changed".
  unhealthy: 1,
  "rollback-failed": 1,
  failed: 1,
  EnvFileError: 1,
  StepTimedOut: 1,
  RunKilled: 1,
  HealthGateFailed: 1,
  AlertError: 1,
  AbraError: 1,
  DockerApiError: 1,
  DockerUnavailable: 1,
  HealthProbeError: 1,
  LockError: 1,
  CommandFailed: 1,
  CommandTimedOut: 1,
  ProgramNotFound: 1,
  RecipeError: 1,
  SnapshotError: 1,
  StateError: 1,
  StateUnreadable: 1,
  // "bad usage or bad config".
  CommandMismatch: 2,
  CorrectedFlag: 2,
  HelpRequested: 2,
  InvalidArgument: 2,
  InvalidValue: 2,
  MissingValue: 2,
  MissingFlag: 2,
  MultipleValuesDetected: 2,
  MissingSubcommand: 2,
  NoBuiltInMatch: 2,
  UnclusteredFlag: 2,
  ConfigError: 2,
  UsageError: 2,
  UnknownScenario: 2,
  ConfigMismatch: 2,
  // "another run holds the app's lock past --lock-wait".
  LockBusy: 75,
  // Interrupted is checked with its signal below.
  Interrupted: 143
}

/** A value of each tag: the code depends on the tag alone. */
const ofTag = (tag: Ending["_tag"]) => ({ _tag: tag }) as Ending

describe("exit codes", () => {
  it("every tag has the code the README gives it", () => {
    for (const [tag, code] of Object.entries(EXPECTED)) {
      expect(exitCode(ofTag(tag as Ending["_tag"])), tag).toBe(code)
    }
  })

  it("real values: outcomes, errors, a usage error of the command line, signals", () => {
    expect(exitCode(Outcome.Outcome.upgraded({ from: "1", to: "2" }))).toBe(0)
    expect(exitCode(Outcome.Outcome["rolled-back"]({ attempted: "2", lastGood: "1", reason: "x" }))).toBe(0)
    expect(exitCode(Outcome.Outcome.unhealthy({ version: "1" }))).toBe(1)
    expect(exitCode(Outcome.Outcome.failed({ reason: "x" }))).toBe(1)
    expect(exitCode(new ConfigError({ source: "c", path: "", message: "x" }))).toBe(2)
    expect(exitCode(ValidationError.invalidValue(HelpDoc.p("x")))).toBe(2)
    expect(exitCode(new LockBusy({ app: "a", holder: "pid 1", message: "x" }))).toBe(75)
    expect(exitCode(new Interrupted({ signal: "SIGINT" }))).toBe(130)
    expect(exitCode(new Interrupted({ signal: "SIGTERM" }))).toBe(143)
    expect(exitCode(new Interrupted({ signal: undefined }))).toBe(143)
  })

  it("outcomes: the same code as the domain's verdict (which the metrics use)", () => {
    for (const [tag, code] of Object.entries(EXPECTED)) {
      if (/^[a-z]/.test(tag)) expect(Outcome.exitCode({ _tag: tag } as Outcome.Outcome), tag).toBe(code)
    }
  })

  it("the README documents every code and every outcome", () => {
    const readme = Fs.readFileSync(Path.join(ROOT, "README.md"), "utf8")
    const table = readme.split("## Exit codes")[1]!.split("\n## ")[0]!
    const documented = new Set([...table.matchAll(/^\| ([\d /]+) \|/gm)].flatMap((m) => m[1]!.split(" / ").map(Number)))
    for (const code of [...Object.values(EXPECTED), 130]) expect(documented, String(code)).toContain(code)
    const outcomes = readme.split("Outcomes: ")[1]!.split("\n\n")[0]!
    for (const tag of Object.keys(EXPECTED).filter((t) => /^[a-z]/.test(t))) expect(outcomes).toContain(`\`${tag}\``)
  })

  it("an interrupt keeps 130/143 only when every app ends healthy: one left down exits 1 (a failure to systemd)", () => {
    const rolledBack = Outcome.Outcome["rolled-back"]({ attempted: "2", lastGood: "1", reason: "interrupted" })
    const rollbackFailed = Outcome.Outcome["rollback-failed"]({ attempted: "2", lastGood: "1", reason: "restore" })
    const unhealthy = Outcome.Outcome.unhealthy({ version: "1" })
    const nothingChanged = Outcome.Outcome.failed({ reason: "interrupted" })
    expect(exitCode(new Interrupted({ signal: "SIGTERM", outcomes: [rolledBack] }))).toBe(143)
    expect(exitCode(new Interrupted({ signal: "SIGINT", outcomes: [rolledBack, nothingChanged] }))).toBe(130)
    expect(exitCode(new Interrupted({ signal: "SIGTERM", outcomes: [] }))).toBe(143)
    expect(exitCode(new Interrupted({ signal: "SIGTERM", outcomes: [rollbackFailed] }))).toBe(1)
    expect(exitCode(new Interrupted({ signal: "SIGINT", outcomes: [rolledBack, unhealthy] }))).toBe(1)
    expect(exitCode(new Interrupted({ signal: undefined, outcomes: [rollbackFailed] }))).toBe(1)
    // Every outcome: an interrupted run exits 1 exactly when the app ends down (unhealthy or rollback failed).
    for (const tag of Object.keys(EXPECTED).filter((t) => /^[a-z]/.test(t))) {
      const down = tag === "unhealthy" || tag === "rollback-failed"
      const outcome = { _tag: tag } as Outcome.Outcome
      expect(exitCode(new Interrupted({ signal: "SIGTERM", outcomes: [outcome] })), tag).toBe(down ? 1 : 143)
    }
  })

  it("with several apps the worst code wins", () => {
    expect(worst([])).toBe(0)
    expect(worst([0, 1, 0])).toBe(1)
    expect(worst([1, 75, 0])).toBe(75)
  })
})
