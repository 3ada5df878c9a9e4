/**
 * The figures docs/reliability.md quotes (how many cases a sweep ran and how many held), written
 * by the tests that count them and checked against the page by test/docs.test.ts, so the page can
 * never quote a count no test produced. One JSON file per test file under test/figures/: vitest
 * runs test files in parallel, and a file with a single writer needs no lock. Outside docs/ so
 * the npm package does not ship test output.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { ROOT } from "./bundle.js"

export const FIGURES_DIR = Path.join(ROOT, "test", "figures")

export type Figures = Readonly<Record<string, number>>

const fileOf = (name: string) => Path.join(FIGURES_DIR, `${name}.json`)

/** The figures last written to `test/figures/<name>.json` (none: an empty record). */
export const read = (name: string): Figures =>
  Fs.existsSync(fileOf(name)) ? JSON.parse(Fs.readFileSync(fileOf(name), "utf8")) as Figures : {}

/**
 * Set `figures` in `test/figures/<name>.json`, keeping its other keys (a test run with `-t` writes
 * only its own). Written through a rename so a reader in another worker never sees half a file,
 * and only when a value changed, so an unchanged run leaves the tree clean.
 */
export const record = (name: string, figures: Figures): void => {
  const before = read(name)
  const merged = { ...before, ...figures }
  const text = `${
    JSON.stringify(Object.fromEntries(Object.entries(merged).sort(([a], [b]) => a.localeCompare(b))), null, 2)
  }\n`
  if (Fs.existsSync(fileOf(name)) && Fs.readFileSync(fileOf(name), "utf8") === text) return
  Fs.mkdirSync(FIGURES_DIR, { recursive: true })
  const temp = `${fileOf(name)}.${process.pid}.tmp`
  Fs.writeFileSync(temp, text)
  Fs.renameSync(temp, fileOf(name))
}

/** A count as the page prints it: 2,187. */
export const count = (n: number | undefined): string => n === undefined ? "(not recorded)" : n.toLocaleString("en-US")
