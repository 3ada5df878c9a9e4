/** What one reconcile ended with, how it is printed, and the exit code it maps to. Pure. */
import { Data } from "effect"
import { escapeControls } from "./Text.js"

export type Outcome = Data.TaggedEnum<{
  "deployed-fresh": { readonly version: string }
  "noop-healthy": { readonly version: string }
  "redeployed-healthy": { readonly version: string }
  /** On the latest (or freshly deployed) and still unhealthy after a redeploy: alerted. */
  unhealthy: { readonly version: string }
  "held-major": { readonly from: string; readonly to: string }
  "held-manual-migration": { readonly from: string; readonly to: string; readonly versions: ReadonlyArray<string> }
  "held-policy": { readonly from: string; readonly to: string; readonly policy: string }
  "held-unknown-version": { readonly from: string; readonly to: string }
  /** `to` was tried and rolled back before; it is not retried until a newer release appears. */
  "held-failed-release": { readonly from: string; readonly to: string }
  /**
   * The snapshot would not fit: `needed` bytes (what it adds to the last one) against `free` on its
   * filesystem. Nothing was undeployed; tried again on the next run.
   */
  "held-no-space": { readonly from: string; readonly to: string; readonly free: number; readonly needed: number }
  /** A person's chaos deploy runs (`abra app deploy -C`): nothing is touched until a release is deployed. */
  "held-chaos": { readonly chaosVersion: string }
  /** Not deployed, and the config does not say `keepDeployed`: left undeployed, as a person left it. */
  "held-undeployed": { readonly version: string }
  /** Outside the maintenance window, or too late in it: `from` -> `to` was not started (no alert). */
  "held-window": { readonly from: string; readonly to: string; readonly reason: string }
  /** The config says `"enabled": false`: nothing was read, locked, changed or alerted. */
  paused: Record<never, never>
  upgraded: { readonly from: string; readonly to: string }
  /** The upgrade to `attempted` failed; `lastGood` runs again, healthy, with its data restored. */
  "rolled-back": { readonly attempted: string; readonly lastGood: string; readonly reason: string }
  /** The rollback itself failed or did not come back healthy: a person must act. */
  "rollback-failed": { readonly attempted: string; readonly lastGood: string; readonly reason: string }
  /**
   * A run killed mid-upgrade was recovered: the target committed (it was deployed and healthy) or
   * last-good brought back with its data.
   */
  recovered: { readonly attempted: string; readonly lastGood: string; readonly committed: boolean }
  /** An operation failed before anything was changed. */
  failed: { readonly reason: string }
}>
export const Outcome = Data.taggedEnum<Outcome>()

/** The part after `RECONCILE RESULT: `, as the original printed it. */
export const detail = (outcome: Outcome): string => {
  switch (outcome._tag) {
    case "deployed-fresh":
    case "noop-healthy":
    case "redeployed-healthy":
    case "unhealthy":
    case "held-undeployed":
      return outcome.version
    case "held-chaos":
      return outcome.chaosVersion
    case "held-major":
    case "held-manual-migration":
    case "held-policy":
    case "held-unknown-version":
    case "held-failed-release":
    case "held-window":
    case "held-no-space":
    case "upgraded":
      return `${outcome.from}->${outcome.to}`
    case "rolled-back":
    case "rollback-failed":
      return `${outcome.attempted}->${outcome.lastGood}`
    case "recovered":
      return outcome.committed ? `${outcome.attempted}` : `${outcome.attempted}->${outcome.lastGood}`
    case "failed":
      return outcome.reason
    case "paused":
      return "enabled=false"
  }
}

/**
 * `<outcome>:<detail>` on one line: a chaos label, a tag or an error is text from outside, its
 * control characters escaped (see Text.escapeControls).
 */
export const format = (outcome: Outcome): string => `${outcome._tag}:${escapeControls(detail(outcome))}`

/** The original's result line. */
export const resultLine = (outcome: Outcome): string => `RECONCILE RESULT: ${format(outcome)}`

/**
 * How the app ends: `healthy` (holds and completed rollbacks included), `down` (unhealthy, or the
 * rollback failed: a person must act), `failed` (an operation failed before anything changed).
 */
export type Verdict = "healthy" | "down" | "failed"

export const verdict = (outcome: Outcome): Verdict => {
  switch (outcome._tag) {
    case "unhealthy":
    case "rollback-failed":
      return "down"
    case "failed":
      return "failed"
    default:
      return "healthy"
  }
}

/**
 * Exit codes (documented in the README), the one table the CLI's `exitCode` derives from:
 * 0 the app ends healthy (a paused app too: the operator asked for nothing), 1 it ends down or an operation failed,
 * 2 bad usage or config (set by the CLI, never by an outcome).
 */
export const exitCode = (outcome: Outcome): 0 | 1 => verdict(outcome) === "healthy" ? 0 : 1

/**
 * The exit code of a run stopped by a signal: 1 when it left an app down (systemd must see a
 * failure, not the 130/143 its unit counts as success), else the signal's code.
 */
export const interruptedExitCode = (
  signal: "SIGINT" | "SIGTERM" | undefined,
  outcomes: ReadonlyArray<Outcome>
): 1 | 130 | 143 => outcomes.some((o) => verdict(o) === "down") ? 1 : signal === "SIGINT" ? 130 : 143
