/**
 * The records stage, first for every app: its in-flight record, hold and last-good must read
 * before anything is done for it. A record that exists but does not decode is never taken as
 * "none": an unreadable in-flight record may hide an unfinished upgrade, whose snapshot the next
 * upgrade would replace. The app stops (outcome `failed`, exit 1) with an alert until a person
 * has looked and moved the file aside.
 */
import { Effect } from "effect"
import type { AppSpec } from "../domain/Config.js"
import { State, type StateUnreadable } from "../services/State.js"
import { SHORT_STEP, tryAlert, within } from "./Steps.js"

/** The app's unfinished upgrade, if a killed run left one; fails when any record does not read. */
export const readRecords = (app: AppSpec) =>
  Effect.gen(function*() {
    const state = yield* State
    const pending = yield* state.inFlight(app.name).pipe(within(app, "in-flight read", SHORT_STEP))
    // Read again where they are used; here only so that no stage starts on a record it cannot read.
    yield* state.hold(app.name).pipe(within(app, "hold read", SHORT_STEP))
    yield* state.lastGood(app.name).pipe(within(app, "last-good read", SHORT_STEP))
    return pending
  })

/** The alert of a record that does not read; its failure to be written changes nothing else. */
export const alertUnreadable = (app: AppSpec, e: StateUnreadable) =>
  tryAlert(app, "state-unreadable", { file: e.path, record: e.record, error: e.message }, "state-unreadable")
