/**
 * The CLI tests run the esbuild bundle (dist/warm-reconcile.mjs), as operators and systemd do: it
 * starts in about 0.2 s where `tsx src/bin.ts` takes over a second. `npm test` builds it just
 * before vitest; this global setup rebuilds it only when it is missing or older than its sources,
 * so that `npx vitest run` alone never tests a stale CLI.
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

export const ROOT = fileURLToPath(new URL("../..", import.meta.url))
/** The CLI as shipped (package.json "bin"). */
export const BUNDLE = Path.join(ROOT, "dist", "warm-reconcile.mjs")

/** The newest modification time of a file or of any file under a directory. */
const newest = (path: string): number => {
  const stat = Fs.statSync(path)
  if (!stat.isDirectory()) return stat.mtimeMs
  return Fs.readdirSync(path).reduce((m, name) => Math.max(m, newest(Path.join(path, name))), stat.mtimeMs)
}

const isStale = (): boolean => {
  if (!Fs.existsSync(BUNDLE)) return true
  const built = Fs.statSync(BUNDLE).mtimeMs
  return ["src", "scripts/build.mjs", "package.json", "package-lock.json"]
    .map((p) => Path.join(ROOT, p))
    .filter((p) => Fs.existsSync(p))
    .some((p) => newest(p) > built)
}

export default function setup(): void {
  if (!isStale()) return
  const r = ChildProcess.spawnSync(process.execPath, [Path.join(ROOT, "scripts", "build.mjs")], {
    cwd: ROOT,
    stdio: "inherit"
  })
  if (r.status !== 0) throw new Error(`building ${BUNDLE} failed (exit ${r.status}): run npm run build to see why`)
}
