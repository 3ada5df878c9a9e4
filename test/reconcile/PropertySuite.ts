/**
 * The property suites over random worlds, and their seeds. `npm test` runs a few hundred worlds per
 * file from a fresh seed it prints, so that every run explores new worlds in a few seconds;
 * `npm run test:deep` (WARM_DEEP=1) runs 5,000 per file from the file's fixed seed and 2,500 from a
 * fresh one. A failure prints its seed, the fast-check path and the shrunk world; `WARM_SEED` (and
 * `WARM_PATH`) replay it.
 */
import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import fc from "fast-check"
import * as Figures from "../support/figures.js"
import * as Invariants from "../support/invariants.js"
import { arbitraryCase, type Case, describeCase, kindsOf, runCase } from "./RandomWorlds.js"

const env = (name: string): string | undefined => process.env[name] === "" ? undefined : process.env[name]

/** The deep run: `npm run test:deep` sets it. */
export const DEEP = env("WARM_DEEP") === "1"
/** Worlds per file in `npm test` (a few seconds each on two cores). */
export const QUICK_RUNS = Number(env("WARM_PROPERTY_RUNS") ?? 150)
/** Worlds per file in the deep run: from the fixed seed, and from a fresh one. */
export const DEEP_RUNS = { fixed: Number(env("WARM_PROPERTY_RUNS") ?? 5000), fresh: 2500 }
/** At least this share of the first nights must start an upgrade transaction. */
export const UPGRADE_FLOOR = 0.5

/** A seed nobody chose: another part of the world space on every run. */
export const freshSeed = (): number => (Date.now() ^ Math.floor(Math.random() * 0x7fffffff)) | 0

const count = <K>(map: Map<K, number>, key: K) => map.set(key, (map.get(key) ?? 0) + 1)
const byCount = <K>(map: Map<K, number>) =>
  [...map].sort(([, a], [, b]) => b - a).map(([k, n]) => `${k} ${n}`).join(", ") || "none"

interface SuiteOptions {
  readonly seed: number
  readonly runs: number
  readonly kind: "fixed" | "fresh" | "replayed"
  /** fast-check's path of a counterexample, to replay it at once. */
  readonly path?: string | undefined
  /** The test file, for the replay line. */
  readonly file: string
}

/** A vitest case: `runs` random worlds from `seed`; prints what they ended as, and asserts the floor. */
export const propertySuite = ({ file, kind, path, runs, seed }: SuiteOptions) =>
  it.effect(
    `${runs} random worlds from the ${kind} seed ${seed}: every run keeps the invariants`,
    () =>
      Effect.gen(function*() {
        let ran = 0
        let held = 0
        let started = 0
        let newKinds = 0
        let lastFailure: string | undefined
        const outcomes = new Map<string, number>()
        const exceptions = new Map<Invariants.Exception, number>()
        const kinds = new Map<string, number>()
        console.log(`property runs: ${runs} random worlds from the ${kind} seed ${seed} (${file})`)
        const cpu = process.cpuUsage()
        const wall = Date.now()
        const result = yield* Effect.promise(() =>
          fc.check(
            fc.asyncProperty(arbitraryCase, async (c: Case) => {
              const r = await Effect.runPromise(Effect.zipRight(Invariants.eventLoopTurn, runCase(c)))
              // Shrinking runs cases again: only the search counts.
              if (lastFailure === undefined) {
                ran++
                if (r.failures.length === 0) held++
                if (r.upgradeStarted) started++
                count(outcomes, r.runs[0]!)
                const k = kindsOf(c)
                k.forEach((kind) => count(kinds, kind))
                if (k.length > 0) newKinds++
                r.exceptions.forEach((e) => count(exceptions, e))
              }
              if (r.failures.length > 0) {
                lastFailure = `${r.failures.join("; ")} [nights: ${r.runs.join(" | ")}] in ${describeCase(c)}`
                throw new Error(lastFailure)
              }
            }),
            { numRuns: runs, seed, ...(path === undefined ? {} : { path }) }
          )
        )
        console.log(
          `property runs (random worlds, ${kind} seed ${seed}): ${ran} runs, ${held} held; ` +
            `an upgrade started in ${started} (${Math.round((100 * started) / Math.max(1, ran))}%)`
        )
        const used = process.cpuUsage(cpu)
        console.log(
          `took ${((Date.now() - wall) / 1000).toFixed(1)} s, ${((used.user + used.system) / 1e6).toFixed(1)} s of CPU`
        )
        console.log(`first nights ended: ${byCount(outcomes)}`)
        console.log(
          `new kinds of world (issues 13, 15, 16) in ${newKinds} (${
            Math.round((100 * newKinds) / Math.max(1, ran))
          }%): ` +
            byCount(kinds)
        )
        console.log(`documented exceptions taken: ${byCount(exceptions)}`)
        if (result.failed) {
          console.log(
            `FAILED on seed ${seed}; replay: WARM_SEED=${seed} WARM_PATH=${result.counterexamplePath} ` +
              `npx vitest run ${file}\nshrunk world: ${lastFailure}`
          )
        }
        expect(result.failed, `seed ${seed}: ${lastFailure}`).toBe(false)
        if (path === undefined) {
          expect(ran).toBe(runs)
          expect(started / ran).toBeGreaterThanOrEqual(UPGRADE_FLOOR)
        }
        // A fixed seed's figures are the same on every deep run: docs/reliability.md quotes them.
        if (kind === "fixed" && path === undefined) {
          Figures.record("properties", {
            [`seed ${seed}: runs`]: ran,
            [`seed ${seed}: held`]: held,
            [`seed ${seed}: upgrade started`]: started
          })
        }
      }),
    1_800_000
  )

/**
 * The suites of one property file: in `npm test` a fresh seed; in the deep run the file's fixed seed
 * and a fresh one; with `WARM_SEED` set, that seed only (from `WARM_PATH` when given).
 */
export const propertySuites = (fixedSeed: number, file: string) => {
  const replay = env("WARM_SEED")
  if (replay !== undefined) {
    propertySuite({
      seed: Number(replay),
      runs: DEEP ? DEEP_RUNS.fixed : QUICK_RUNS,
      kind: "replayed",
      path: env("WARM_PATH"),
      file
    })
  } else if (DEEP) {
    propertySuite({ seed: fixedSeed, runs: DEEP_RUNS.fixed, kind: "fixed", file })
    propertySuite({ seed: freshSeed(), runs: DEEP_RUNS.fresh, kind: "fresh", file })
  } else {
    propertySuite({ seed: freshSeed(), runs: QUICK_RUNS, kind: "fresh", file })
  }
}
