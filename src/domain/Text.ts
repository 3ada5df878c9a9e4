/** Text from outside (labels, tags, notes, errors, decoding problems) made fit for one line. Pure. */

const escapes: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" }

/**
 * Control characters (C0, DEL, C1, and the Unicode line separators) escaped: a newline cannot split
 * a result line, and an escape sequence in a person's label cannot move the cursor or recolour the
 * terminal of whoever reads the output. Nothing is cut (a failure's whole message stays).
 */
export const escapeControls = (text: string): string =>
  text.replace(
    // eslint-disable-next-line no-control-regex
    /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g,
    (c) => escapes[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`
  )

/** A decoding problem: its heading and the innermost issue of the tree below it. */
export const problemLine = (problem: string): string => {
  const lines = problem.split("\n")
  return lines.length === 1 ? problem : `${lines[0]} ... ${innermostIssue(problem)}`
}

/** Only the innermost issue of a decoding problem (`Expected "held-major", actual "held-sideways"`). */
export const innermostIssue = (problem: string): string => problem.split("\n").at(-1)!.replace(/^[\s│├└─]+/, "")
