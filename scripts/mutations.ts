/**
 * The mutations `npm run test:mutants` (scripts/mutants.ts) makes to `src/`, one at a time: each
 * breaks one promise of docs/reliability.md, and some sweep must notice. Each is a textual patch
 * (file, the exact text to find, its replacement), so a mutation whose code moved is an error
 * (test/mutations.test.ts checks every search text is found exactly once), never a silent pass.
 */

export interface Patch {
  readonly file: string
  readonly search: string
  readonly replace: string
}

export type MutantId =
  | "restore-skipped"
  | "gate-target-notes-planner"
  | "gate-target-notes-observe"
  | "app-major-not-held"
  | "one-success"
  | "crash-loop-off"
  | "recovery-commits-unprobed"
  | "lock-not-exclusive"
  | "restore-swaps-early"
  | "redaction-off"
  | "alert-dropped"
  | "alert-not-retried"
  | "old-task-counted"

/** What `npm run test:mutants` found for one mutant, as test/figures/mutants.json keeps it. */
export interface MutantResult {
  /** Test files that failed with the mutant (relative to the repository). */
  readonly killedBy: ReadonlyArray<string>
  /** Which tests ran: the whole unit suite, or the sweeps alone. */
  readonly suite: "all" | "sweeps"
  /** The commit the working tree was at (its uncommitted changes included). */
  readonly commit: string
}

export interface Mutation {
  readonly id: MutantId
  /** What the mutant breaks, as docs/reliability.md's table says it. */
  readonly breaks: string
  readonly patches: ReadonlyArray<Patch>
}

export const MUTATIONS: ReadonlyArray<Mutation> = [
  {
    id: "restore-skipped",
    breaks: "a rollback does not restore the snapshot",
    patches: [{
      file: "src/reconcile/Rollback.ts",
      search:
        `yield* snapshots.restore(app, done.volumes).pipe(within(app, "restore", SNAPSHOT_STEP), timedPhase("restore"))`,
      replace: "yield* Effect.void"
    }]
  },
  {
    id: "gate-target-notes-planner",
    breaks: "the planner reads the manual-migration warnings of the target's notes only",
    patches: [{
      file: "src/domain/Plan.ts",
      search: "const warnings = migrationWarnings(skipped, notesOf)",
      replace: "const warnings = migrationWarnings(skipped.filter((v) => v.tag === to.tag), notesOf)"
    }]
  },
  {
    id: "gate-target-notes-observe",
    breaks: "observe reads the target's release notes only",
    patches: [{
      file: "src/reconcile/Observe.ts",
      search: "for (const v of stage.skipped) {",
      replace: "for (const v of stage.skipped.filter((s) => s.tag === stage.to.tag)) {"
    }]
  },
  {
    id: "app-major-not-held",
    breaks: "a major bump of the app version (recipe major unchanged) is not a major bump",
    patches: [{
      file: "src/domain/Version.ts",
      search: "if (major(to.recipe) > major(from.recipe) || major(to.app) > major(from.app)) return \"major\"",
      replace: "if (major(to.recipe) > major(from.recipe)) return \"major\""
    }]
  },
  {
    id: "one-success",
    breaks: "the health gate passes on one healthy answer instead of the configured successes",
    patches: [{
      file: "src/reconcile/HealthGate.ts",
      search: "if (consecutive >= cfg.successes)",
      replace: "if (consecutive >= 1)"
    }]
  },
  {
    id: "crash-loop-off",
    breaks: "crash-loop detection never ends the health gate early",
    patches: [{
      file: "src/reconcile/Convergence.ts",
      search: "if (facts.failed.length < threshold) return Option.none()",
      replace: "if (facts.failed.length < Number.POSITIVE_INFINITY) return Option.none()"
    }]
  },
  {
    id: "old-task-counted",
    breaks: "the health gate counts an answer before Swarm has converged on the release (an old task's answer)",
    // Both rules that keep an old task's answer out: the look after the probe, and the look before it.
    patches: [
      {
        file: "src/reconcile/HealthGate.ts",
        search: `if (seen._tag === "waiting") {`,
        replace: `if (seen._tag === "waiting" && !cfg.http) {`
      },
      {
        file: "src/reconcile/HealthGate.ts",
        search: `} else if (before === undefined ? options.afterDeploy === true : before._tag !== "converged") {`,
        replace: `} else if (before === undefined && !cfg.http) {`
      }
    ]
  },
  {
    id: "recovery-commits-unprobed",
    breaks: "a recovery commits a running target without probing its health",
    patches: [{
      file: "src/reconcile/Recover.ts",
      search: "if (running === to && (yield* healthyNow(to))) {",
      replace: "if (running === to) {"
    }]
  },
  {
    id: "lock-not-exclusive",
    breaks: "two runs hold an app's lock at once (each flocks a file of its own)",
    patches: [{
      file: "src/live/Lock.ts",
      search: "[\"--nonblock\", \"--conflict-exit-code\", String(BUSY), path, \"--command\"",
      replace: "[\"--nonblock\", \"--conflict-exit-code\", String(BUSY), `${path}.${Math.random()}`, \"--command\""
    }]
  },
  {
    id: "restore-swaps-early",
    breaks: "a restore swaps each volume in as soon as it is extracted, before the others are",
    patches: [{
      file: "src/live/snapshot/StagedRestore.ts",
      search: `        yield* populate(t, staging)
      }), { discard: true })`,
      replace: `        yield* populate(t, staging)
        const early = staged.pop()!
        yield* fs.rename(early.mountpoint, \`\${early.mountpoint}\${RETIRED_INFIX}\${suffix()}\`).pipe(io("swap early"))
        yield* fs.rename(early.staging, early.mountpoint).pipe(io("swap early"))
      }), { discard: true })`
    }]
  },
  {
    id: "redaction-off",
    breaks: "no secret value is scrubbed from alerts, the run history or log lines",
    patches: [
      {
        file: "src/domain/Redaction.ts",
        search: "  text(input: string): string {\n",
        replace: "  text(input: string): string {\n    return input\n"
      },
      {
        file: "src/domain/Redaction.ts",
        search: "  deep(input: unknown): unknown {\n",
        replace: "  deep(input: unknown): unknown {\n    return input\n"
      }
    ]
  },
  {
    id: "alert-dropped",
    breaks: "a rollback whose alert could not be written ends rolled-back and removes its record",
    patches: [{
      file: "src/reconcile/Rollback.ts",
      search: "if (!alerted && outcome._tag === \"rolled-back\") {",
      replace: "if (!alerted && outcome._tag === \"rolled-back\" && alerted) {"
    }]
  },
  {
    id: "alert-not-retried",
    breaks: "an alert write is tried once, not three times",
    patches: [{
      file: "src/reconcile/Steps.ts",
      search: "      Effect.retry(RETRY)\n    )\n    yield* Effect.logWarning(`ALERT[",
      replace: "    )\n    yield* Effect.logWarning(`ALERT["
    }]
  }
]

/** How often `search` occurs in `text`. */
const occurrences = (text: string, search: string): number => text.split(search).length - 1

/**
 * `text` with the patches of `file` applied; throws when a search text is not found exactly once
 * (the code moved: the mutation must be rewritten, it did not pass).
 */
export const apply = (id: MutantId, file: string, text: string, patches: ReadonlyArray<Patch>): string =>
  patches.filter((p) => p.file === file).reduce((out, p) => {
    const n = occurrences(out, p.search)
    if (n !== 1) {
      throw new Error(
        `mutation ${id}: the search text occurs ${n} times in ${file} (expected once); rewrite it in scripts/mutations.ts: ${
          JSON.stringify(p.search)
        }`
      )
    }
    return out.replace(p.search, () => p.replace)
  }, text)

/** The files a mutation changes. */
export const filesOf = (m: Mutation): ReadonlyArray<string> => [...new Set(m.patches.map((p) => p.file))]
