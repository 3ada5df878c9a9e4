/**
 * Redaction as part of the live composition: the secret values of the apps' env files, kept out of
 * every alert, every line of the run history and every log line, for the CLI and a library user
 * alike. `Live.layer` applies it; the scrubbing itself is `domain/Redaction.ts`.
 */
import { FileSystem } from "@effect/platform"
import { Cause, Context, Effect, Either, FiberRef, HashMap, HashSet, Layer, Logger, Option } from "effect"
import { Alert } from "../domain/Alert.js"
import type { AppSpec } from "../domain/Config.js"
import * as EnvFile from "../domain/EnvFile.js"
import { isSecretKey, Redactor } from "../domain/Redaction.js"
import { Alerts } from "../services/Alerts.js"
import { Apps } from "../services/Apps.js"
import { RunRecord, State } from "../services/State.js"
import { envPath } from "./Apps.js"

/** What scrubs: a fixed `Redactor`, or the `SecretBook` that grows as env files are read. */
export type Scrubber = Pick<Redactor, "text" | "deep">

/** The values of the secret keys in the env files of these apps (files that are missing are skipped). */
export const secretValues = (abraDir: string, apps: ReadonlyArray<AppSpec>) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const values: Array<string> = []
    for (const app of apps) {
      const text = yield* fs.readFileString(envPath(abraDir, app)).pipe(Effect.option)
      if (Option.isNone(text)) continue
      const parsed = EnvFile.parse(text.value)
      // An env file that does not parse is reported by the program itself; scrub what can be read.
      if (Either.isLeft(parsed)) {
        values.push(
          ...text.value.split("\n").flatMap((line) => {
            const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line)
            return m !== null && isSecretKey(m[1]!) ? [m[2]!.trim().replace(/^(["'])(.*)\1$/, "$2")] : []
          })
        )
        continue
      }
      for (const key of EnvFile.keys(parsed.right)) {
        if (isSecretKey(key)) values.push(...Option.toArray(EnvFile.get(parsed.right, key)))
      }
    }
    return values
  })

/**
 * The secret values known so far: those of the configured apps' env files, then those of every env
 * file the program reads (so that `Reconcile.run` on an app nobody listed is scrubbed as well).
 */
export class SecretBook implements Scrubber {
  readonly #values = new Set<string>()
  #redactor = Redactor.none

  learn(values: Iterable<string>): void {
    const before = this.#values.size
    for (const value of values) this.#values.add(value)
    if (this.#values.size !== before) this.#redactor = new Redactor(this.#values)
  }

  text(input: string): string {
    return this.#redactor.text(input)
  }

  deep(input: unknown): unknown {
    return this.#redactor.deep(input)
  }
}

/** The secret book of the live composition: what a command scrubs its own output (result lines) with. */
export class Redaction extends Context.Tag("warm-reconcile/Redaction")<Redaction, SecretBook>() {}

/** State whose recorded runs have their detail scrubbed. */
export const redactState = (state: State["Type"], scrub: Scrubber): State["Type"] =>
  State.of({ ...state, recordRun: (run) => state.recordRun(new RunRecord({ ...run, detail: scrub.text(run.detail) })) })

/** Alerts whose fields are scrubbed before they are written. */
export const redactAlerts = (alerts: Alerts["Type"], scrub: Scrubber): Alerts["Type"] =>
  Alerts.of({
    write: (alert) => alerts.write(new Alert({ ...alert, fields: scrub.deep(alert.fields) as Record<string, unknown> }))
  })

/** The program's State and Alerts, scrubbed. */
export const redactServices = (scrub: Scrubber) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(
    Effect.updateService(State, (state) => redactState(state, scrub)),
    Effect.updateService(Alerts, (alerts) => redactAlerts(alerts, scrub))
  )

/**
 * A logger that sees a line only once it is scrubbed: the message, the annotations and the cause
 * (rendered into a `cause` annotation, so that every format shows the same scrubbed text).
 */
export const redactLogger = (scrub: Scrubber) => <Output>(logger: Logger.Logger<unknown, Output>) =>
  Logger.mapInputOptions(logger, (options) => {
    let annotations = HashMap.map(options.annotations, (value) => scrub.deep(value))
    if (!Cause.isEmpty(options.cause)) {
      annotations = HashMap.set(
        annotations,
        "cause",
        scrub.text(Cause.pretty(options.cause, { renderErrorCause: true }))
      )
    }
    const message = Array.isArray(options.message)
      ? options.message.map((m) => scrub.deep(m))
      : scrub.deep(options.message)
    return { ...options, message, annotations, cause: Cause.empty }
  })

export interface RedactionOptions {
  readonly abraDir: string
  /** The apps whose env files are read up front (the CLI: every configured app). */
  readonly apps: ReadonlyArray<AppSpec>
}

/** The secret book, filled from the env files of `apps`. */
export const layer = (options: RedactionOptions): Layer.Layer<Redaction, never, FileSystem.FileSystem> =>
  Layer.effect(
    Redaction,
    Effect.map(secretValues(options.abraDir, options.apps), (values) => {
      const book = new SecretBook()
      book.learn(values)
      return book
    })
  )

/**
 * Everything the program writes or logs through these services scrubbed: State, Alerts, the
 * loggers installed when the layer is built; and `Apps.readEnv` teaches the book each env file.
 */
export const redacting = <R>(
  abraDir: string,
  context: Context.Context<R | Redaction | State | Alerts | Apps | FileSystem.FileSystem>
): Context.Context<R | Redaction | State | Alerts | Apps | FileSystem.FileSystem> => {
  const book = Context.get(context, Redaction)
  const apps = Context.get(context, Apps)
  const learn = (app: AppSpec) =>
    secretValues(abraDir, [app]).pipe(
      Effect.map((values) => book.learn(values)),
      Effect.provideService(FileSystem.FileSystem, Context.get(context, FileSystem.FileSystem))
    )
  return context.pipe(
    Context.add(State, redactState(Context.get(context, State), book)),
    Context.add(Alerts, redactAlerts(Context.get(context, Alerts), book)),
    Context.add(Apps, Apps.of({ ...apps, readEnv: (app) => Effect.tap(apps.readEnv(app), () => learn(app)) }))
  )
}

/** Every logger installed when this layer is built sees only scrubbed lines. */
export const redactLogs: Layer.Layer<never, never, Redaction> = Layer.scopedDiscard(
  Effect.flatMap(
    Redaction,
    (book) => Effect.locallyScopedWith(FiberRef.currentLoggers, HashSet.map(redactLogger(book)))
  )
)
