/**
 * Shows a long snapshot step's progress (../../domain/Progress.ts): on a terminal, a bar on stderr
 * redrawn in place at most five times a second and cleared at the end; otherwise (systemd's
 * journal, a log file) an info log line every `every` (10 s), through the program's logger, so
 * that it carries the app and phase like every other line.
 *
 * Called from outside Effect (rsync's output, the hashing loop): it runs its log lines on the
 * runtime it was made in.
 */
import { Duration, Effect, Runtime } from "effect"
import { bar, line, type Sample } from "../../domain/Progress.js"

export interface Reporter {
  readonly update: (sample: Sample) => void
  /** Clear the bar (and log the last line when the step logged any). */
  readonly done: Effect.Effect<void>
}

export interface ReporterOptions {
  readonly every: Duration.DurationInput
  /** Draw a bar instead of logging (default: whether stderr is a terminal). */
  readonly tty?: boolean
  /** The clock in ms (default: performance.now). */
  readonly now?: () => number
}

const REDRAW_MS = 200

export const reporter = (what: string, options: ReporterOptions) =>
  Effect.gen(function*() {
    const runtime = yield* Effect.runtime<never>()
    const now = options.now ?? (() => performance.now())
    const tty = options.tty ?? process.stderr.isTTY === true
    const every = Duration.toMillis(Duration.decode(options.every))
    const started = now()
    let last: Sample | undefined
    let shownAt = started
    let logged = false
    let drawn = false
    const update = (sample: Sample) => {
      last = sample
      const at = now()
      if (tty) {
        if (at - shownAt < REDRAW_MS) return
        process.stderr.write(`\r${bar(sample)} ${line(what, sample, at - started)}\x1b[K`)
        drawn = true
        shownAt = at
      } else if (at - shownAt >= every) {
        shownAt = at
        logged = true
        Runtime.runFork(runtime)(Effect.logInfo(line(what, sample, at - started)))
      }
    }
    const done = Effect.suspend(() => {
      if (drawn) process.stderr.write("\r\x1b[K")
      return logged && last !== undefined ? Effect.logInfo(`${line(what, last, now() - started)} (done)`) : Effect.void
    })
    return { update, done } satisfies Reporter
  })
