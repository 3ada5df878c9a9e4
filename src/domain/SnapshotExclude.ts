/**
 * The exclude patterns of `snapshot.exclude`, matched as rsync matches its `--exclude` patterns, so
 * that the paths this module finds (the space check, the simulated store, a reflink take) are the
 * ones rsync leaves out (the live take and restore). Pure.
 *
 * The subset accepted (the config refuses the rest, whose rsync meaning is subtler): `*` (any run
 * of characters but `/`), `**` (any run, `/` included), `?` (one character but `/`), a leading `/`
 * (anchored at the volume's root), a trailing `/` (directories only). A pattern without a `/`
 * matches an entry's name at any depth; one with a `/` matches the end of its path, starting at a
 * `/`. An excluded directory is excluded with everything below it.
 */

/** The characters refused in a pattern: rsync gives them a meaning beyond this module's. */
export const UNSUPPORTED = /[[\]\\]/

export interface Pattern {
  readonly regex: RegExp
  readonly dirOnly: boolean
}

const globToRegex = (glob: string): string =>
  glob.split(/(\*\*|\*|\?)/).map((part) =>
    part === "**" ? ".*" : part === "*" ? "[^/]*" : part === "?" ? "[^/]" : part.replace(/[.+^${}()|[\]\\]/g, "\\$&")
  ).join("")

export const compile = (pattern: string): Pattern => {
  const dirOnly = pattern.endsWith("/")
  const body = dirOnly ? pattern.replace(/\/+$/, "") : pattern
  const anchored = body.startsWith("/")
  const glob = anchored ? body.slice(1) : body
  // rsync: a pattern with a `/` or a `**` is matched against the whole path, else against the name.
  const wholePath = anchored || glob.includes("/") || glob.includes("**")
  const re = globToRegex(glob)
  return {
    regex: new RegExp(anchored ? `^${re}$` : wholePath ? `^(?:.*/)?${re}$` : `(?:^|/)${re}$`),
    dirOnly
  }
}

/** Whether the entry at `path` (relative to the volume's root, no leading `/`) matches itself. */
export const matchesEntry = (patterns: ReadonlyArray<Pattern>, path: string, isDir: boolean): boolean =>
  patterns.some((p) => (isDir || !p.dirOnly) && p.regex.test(path))

/**
 * Whether the file at `path` is left out: it or a directory above it matches. For the flat file
 * lists of the simulated store, where every entry but the last is a directory.
 */
export const excludesFile = (patterns: ReadonlyArray<Pattern>, path: string): boolean => {
  const parts = path.split("/")
  return parts.some((_, i) => matchesEntry(patterns, parts.slice(0, i + 1).join("/"), i < parts.length - 1))
}
