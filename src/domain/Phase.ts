/**
 * The phases of a run, as one vocabulary for the in-flight record, the log lines and the metrics.
 * The program marks each phase itself (reconcile/Steps), so that renaming a step's span changes
 * neither a log line nor a metric. Pure.
 */
import { Schema } from "effect"

/**
 * Where an upgrade is, as its in-flight record says (written before each destructive step). A
 * finished upgrade has no record (`Option.none()`), not a phase.
 */
export const IN_FLIGHT_PHASES = [
  "undeploy",
  "snapshot",
  "deploy",
  "health",
  "rollback",
  "rollback-failed",
  "alert"
] as const
export const InFlightPhase = Schema.Literal(...IN_FLIGHT_PHASES)
export type InFlightPhase = typeof InFlightPhase.Type

/** The phases timed for the metrics file (health only as the gate after a deploy). */
export const TIMED_PHASES = ["snapshot", "deploy", "health", "restore"] as const
export type TimedPhase = typeof TIMED_PHASES[number]

/**
 * The `phase` of a log line: a step of an upgrade, a restore, a recovery, the metrics write, or
 * `reconcile` for everything else.
 */
export const LOG_PHASES = [...IN_FLIGHT_PHASES, "restore", "recover", "metrics", "reconcile"] as const
export type LogPhase = typeof LOG_PHASES[number]

/** Lines logged outside any known phase of an app's run. */
export const DEFAULT_LOG_PHASE: LogPhase = "reconcile"

/** The metric the program adds each timed phase's duration to, tagged with `app` and `phase`. */
export const PHASE_DURATION_METRIC = "warm_reconcile_phase_duration"
