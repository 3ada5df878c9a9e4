/** The manual-migration gate over release notes. Pure: no services. */
import type { Version } from "./Version.js"

/** The original's markers. Case-insensitive; a heuristic that errs toward holding. */
export const MIGRATION_MARKERS =
  /manual migration|manual action|manual step|action required|by hand|manually|breaking change/i

/** Notes longer than this are cut in alerts, as the original cut them. */
export const NOTES_LIMIT = 4000

export interface VersionNotes {
  readonly version: string
  readonly notes: string
}

export interface MigrationWarning extends VersionNotes {
  /** The marker text as it appears in the notes. */
  readonly marker: string
}

export const findMarker = (notes: string): string | undefined => MIGRATION_MARKERS.exec(notes)?.[0]

/**
 * Searches the notes of every version being skipped over (not only the target's): each version
 * whose notes carry a marker is named with its notes.
 */
export const migrationWarnings = (
  versions: ReadonlyArray<Version>,
  notesOf: (version: string) => string | undefined
): Array<MigrationWarning> =>
  versions.flatMap((v) => {
    const notes = notesOf(v.tag)
    const marker = notes === undefined ? undefined : findMarker(notes)
    return notes !== undefined && marker !== undefined ? [{ version: v.tag, notes, marker }] : []
  })

export const truncate = (text: string, limit = NOTES_LIMIT): string =>
  text.length <= limit ? text : `${text.slice(0, limit)}\n[... ${text.length - limit} more characters]`

/** Release notes are read up to this many bytes: a recipe cannot make a run hold gigabytes. */
export const NOTES_MAX_BYTES = 256 * 1024

/**
 * Said after notes cut at {@link NOTES_MAX_BYTES}. It carries a marker on purpose: a warning past
 * the cut is unseen, so the gate holds such a release for a person, as it would for a warning.
 */
export const NOTES_CUT_NOTICE = `[release notes longer than ${
  NOTES_MAX_BYTES / 1024
} KiB, cut here: read them in full; a manual step may be past the cut]`

/** Notes as read: whole when `size` (their length in bytes) is within the limit, else cut with the notice. */
export const capNotes = (text: string, size: number): string =>
  size <= NOTES_MAX_BYTES ? text : `${text}\n${NOTES_CUT_NOTICE}\n`
