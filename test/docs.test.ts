/**
 * The generated docs (scripts/docs.ts): committed as generated from the Schemas now, and true to
 * what the program does: the defaults are what decoding gives, and the alerts the real program
 * writes through the live Alerts layer decode with the Schema the JSON Schema is made from.
 * And docs/reliability.md quotes the counts the sweeps wrote (test/figures/) and the last results
 * of `npm run test:mutants`, not numbers copied by hand.
 */
import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Either, Schema } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { alertSchema, configReference, generate } from "../scripts/docs.js"
import { type MutantResult, type Mutation, MUTATIONS } from "../scripts/mutations.js"
import { Alert, AlertFile, AlertReason, toJson } from "../src/domain/Alert.js"
import { AppConfig, Config, DurationSetting, HealthConfig } from "../src/domain/Config.js"
import { NotifyChannel } from "../src/domain/Notify.js"
import * as LiveAlerts from "../src/live/Alerts.js"
import { Alerts } from "../src/services/Alerts.js"
import { rehearse } from "../src/simulation/Rehearsal.js"
import { find, scenarios } from "../src/simulation/Scenarios.js"
import * as World from "../src/simulation/World.js"
import { ROOT } from "./support/cli.js"
import { count, type Figures, read as readFigures } from "./support/figures.js"
import { tempDir } from "./support/files.js"

const decodeAlertFile = Schema.decodeUnknownEither(AlertFile)

/** The rows of one section of the reference: key → [type, default, description]. */
const rows = (markdown: string, section: string): Map<string, ReadonlyArray<string>> => {
  const body = markdown.split(`\n## ${section}\n`)[1]!.split("\n## ")[0]!
  return new Map(
    body.split("\n").filter((l) => l.startsWith("| `")).map((l) => {
      const cells = l.slice(2, -2).split(/ (?<!\\)\| /)
      return [cells[0]!.replaceAll("`", ""), cells.slice(1)] as const
    })
  )
}

/** Every alert the real program writes across the rehearsals, including a recovery after a crash. */
const programAlerts = Effect.gen(function*() {
  const alerts: Array<Alert> = []
  for (const s of scenarios) {
    const r = yield* rehearse(
      s.app,
      s.setup,
      s.interruptAfter === undefined ? {} : { interruptAfter: s.interruptAfter }
    )
    alerts.push(...r.world.alerts)
  }
  // Killed during the health gate of a broken release (as Recovery.test.ts): the next run recovers.
  const broken = find("broken-release")!
  const clean = yield* rehearse(broken.app, broken.setup)
  const deploy = clean.world.trace.findIndex((t) => t.step === "deploy")
  const world = yield* World.make({
    ...broken.setup,
    faults: [{ step: "any", kind: "crash", after: deploy + 3, times: 1 }]
  })
  yield* rehearse(broken.app, world)
  yield* World.restart(world)
  alerts.push(...(yield* rehearse(broken.app, world)).world.alerts)
  return alerts
})

/**
 * The lines of docs/reliability.md that quote a figure: a phrase found on exactly one line, and the
 * text that line must contain, made from the figures the sweeps wrote.
 */
const QUOTED: ReadonlyArray<{ readonly file: string; readonly line: string; readonly says: (f: Figures) => string }> = [
  {
    file: "faults",
    line: "per path, in the order above",
    says: (f) => {
      // Keys `path <n>, <name>: cases`, quoted in the order the page lists the paths.
      const perPath = Object.entries(f).filter(([k]) => k.startsWith("path "))
        .sort(([a], [b]) => Number(/\d+/.exec(a)![0]) - Number(/\d+/.exec(b)![0]))
        .map(([, n]) => count(n))
      return `**${count(f["all.cases"])} cases, ${count(f["all.held"])} held** (${
        perPath.slice(0, -1).join(", ")
      } and ${perPath.at(-1)} per path, in the order above`
    }
  },
  ...(["healthy", "broken", "twice"] as const).map((key, i) => ({
    file: "recovery",
    line: [
      "simulated kill before every side effect of a healthy upgrade",
      "kill before every side effect of a broken upgrade",
      "kill during the upgrade, then again during the recovery"
    ][i]!,
    says: (f: Figures) => `| ${count(f[`${key}.cases`])} | ${count(f[`${key}.held`])} |`
  })),
  ...(["precopy", "take", "restore"] as const).map((key) => ({
    file: "store-kill-sweep",
    line: {
      precopy: "kill -9 of a pre-copy's process group",
      take: "the same for a take",
      restore: "the same for a restore of two volumes"
    }[key],
    says: (f: Figures) => `| ${count(f[`${key}.cases`])} | ${count(f[`${key}.held`])} |`
  })),
  {
    file: "properties",
    line: "Fixed seeds, the same on every deep run",
    says: (f) =>
      (["20261125", "20261126"] as const).map((seed) =>
        `seed ${seed} ${count(f[`seed ${seed}: runs`])} runs, ${count(f[`seed ${seed}: held`])} held, ` +
        `an upgrade started in ${count(f[`seed ${seed}: upgrade started`])}`
      ).join("; ")
  },
  ...([
    ["lock-sweep", "the lock: what a run can find at the lock path"],
    ["restore-sweep", "the staged restore of two volumes failed at each"],
    ["redaction-sweep", "redaction: a secret value in every form"]
  ] as const).map(([file, line]) => ({
    file,
    line,
    says: (f: Figures) => `| ${count(f["cases"])} | ${count(f["held"])} |`
  }))
]

/** The row of docs/reliability.md's mutation table for `m`, as test/figures/mutants.json says. */
const mutantRow = (m: Mutation, result: MutantResult | undefined): string => {
  const killers = result?.killedBy.map((f) => `\`${Path.basename(f).replace(/\.test\.ts$/, "")}\``).join(", ")
  const ran = result === undefined
    ? "not run yet"
    : `${result.suite === "sweeps" ? "sweeps only" : "all"}, ${result.commit}`
  return `| \`${m.id}\` | ${m.breaks} | ${ran} | ${result === undefined ? "" : killers || "**survived**"} |`
}

describe("docs/reliability.md quotes what the tests wrote", () => {
  const page = Fs.readFileSync(Path.join(ROOT, "docs", "reliability.md"), "utf8").split("\n")

  it("every count it quotes is the one the sweep last wrote to test/figures/", () => {
    for (const quote of QUOTED) {
      const lines = page.filter((l) => l.includes(quote.line))
      expect(lines, `one line of docs/reliability.md has "${quote.line}"`).toHaveLength(1)
      expect(lines[0], `test/figures/${quote.file}.json`).toContain(quote.says(readFigures(quote.file)))
    }
  })

  it("its mutation table has a row per mutation of scripts/mutations.ts, with test/figures/mutants.json's result", () => {
    const file = Path.join(ROOT, "test", "figures", "mutants.json")
    const results: Record<string, MutantResult> = Fs.existsSync(file) ? JSON.parse(Fs.readFileSync(file, "utf8")) : {}
    const rows = page.filter((l) => l.startsWith("| `"))
    for (const m of MUTATIONS) {
      expect(rows.filter((r) => r.startsWith(`| \`${m.id}\` |`)), m.id).toEqual([mutantRow(m, results[m.id])])
    }
  })
})

describe("docs generated from the Schemas", () => {
  it("docs/config-reference.md and docs/alert.schema.json are what `npm run docs` generates now", () => {
    for (const [file, content] of Object.entries(generate())) {
      const committed = Fs.readFileSync(Path.join(ROOT, file), "utf8")
      expect(committed, `${file} is stale: run npm run docs`).toBe(content)
    }
  })

  it("the config reference lists every key, with the default that decoding gives", () => {
    const markdown = configReference()
    const sections = [
      { name: "Config", schema: Config, minimal: { apps: {} } },
      { name: "AppConfig", schema: AppConfig, minimal: { recipe: "keycloak", domain: "id.example.org" } },
      { name: "HealthConfig", schema: HealthConfig, minimal: {} },
      { name: "NotifyChannel", schema: NotifyChannel, minimal: { url: "ntfy://ntfy.sh/alerts" } }
    ] as const
    for (const section of sections) {
      const table = rows(markdown, section.name)
      expect([...table.keys()]).toEqual(Object.keys(section.schema.fields))
      const decoded = Schema.decodeUnknownSync(section.schema as Schema.Schema<object, unknown>)(
        section.minimal
      ) as unknown as Record<string, unknown>
      for (const [key, [, fallback, description]] of table) {
        expect(description!.length, `${section.name}.${key} has a description`).toBeGreaterThan(10)
        const value = decoded[key]
        if (key in section.minimal || fallback === "required" || fallback === "none") continue
        const written = /^`(.*)`$/.exec(fallback!)?.[1]
        if (Duration.isDuration(value)) {
          // The text shown must decode, as a config value, to the very default.
          const shown = Schema.decodeUnknownSync(DurationSetting)(JSON.parse(written!))
          expect(Duration.equals(shown, value), `${section.name}.${key}`).toBe(true)
        } else if (value instanceof HealthConfig) {
          expect(fallback).toBe("every default of [HealthConfig](#healthconfig)")
        } else {
          expect(JSON.parse(written!), `${section.name}.${key}`).toEqual(value)
        }
      }
    }
    // Required keys are said to be, optional ones without a default too.
    expect(rows(markdown, "AppConfig").get("recipe")![1]).toBe("required")
    expect(rows(markdown, "Config").get("abraDir")![1]).toBe("none")
    // A minimal config's defaults are shown as the `example` says.
    expect(markdown).toContain("\"deployTimeout\": 900")
  })

  it("the alert JSON Schema: the required keys, every reason, and a description for each property", () => {
    const json = JSON.parse(alertSchema())
    const definition = json.$defs.AlertFile
    expect(json.$ref).toBe("#/$defs/AlertFile")
    expect(definition.required).toEqual(["schemaVersion", "app", "reason", "ts"])
    expect(definition.properties.reason.enum).toEqual(AlertReason.literals)
    expect(definition.properties.ts.pattern).toBe("^\\d{8}T\\d{6}Z$")
    for (const [name, property] of Object.entries(definition.properties as Record<string, { description?: string }>)) {
      expect(property.description, name).toMatch(/\w{3}/)
    }
    // Unknown fields are allowed: a relay reads files from newer versions too.
    expect(definition.additionalProperties).not.toBe(false)
  })

  it("toJson output decodes with AlertFile; a file without app, with an unknown reason or a bad ts does not", () => {
    const alert = new Alert({
      schemaVersion: 1,
      app: "kc",
      reason: "rollback",
      ts: "20261125T201535Z",
      fields: { last_good: "1.1.0+1.1", attempted: "1.2.0+1.2", recovered: true, extra: { any: ["thing"] } }
    })
    const file = JSON.parse(JSON.stringify(toJson(alert)))
    expect(decodeAlertFile(file)).toEqual(Either.right(file))
    const { app: _app, ...noApp } = file
    for (
      const bad of [noApp, { ...file, reason: "exploded" }, { ...file, ts: "2026-11-25" }, {
        ...file,
        schemaVersion: 2
      }]
    ) {
      expect(Either.isLeft(decodeAlertFile(bad)), JSON.stringify(bad)).toBe(true)
    }
    // A documented field of the wrong type is refused too.
    expect(Either.isLeft(decodeAlertFile({ ...file, recovered: "yes" }))).toBe(true)
  })

  it.scopedLive(
    "every alert the program writes through the live Alerts layer decodes, with only documented fields",
    () =>
      Effect.gen(function*() {
        const alerts = yield* programAlerts
        const reasons = new Set(alerts.map((a) => a.reason))
        for (const reason of ["rollback", "rollback-failed", "recovered", "held-major", "held-manual-migration"]) {
          expect(reasons, reason).toContain(reason)
        }
        const stateDir = yield* tempDir("warm-reconcile-docs-")
        const fs = yield* FileSystem.FileSystem
        const documented = Object.keys(AlertFile.fields)
        for (const alert of alerts) {
          const path = yield* Effect.flatMap(Alerts, (a) => a.write(alert)).pipe(
            Effect.provide(LiveAlerts.layer({ stateDir }))
          )
          const json = JSON.parse(yield* fs.readFileString(path))
          const decoded = decodeAlertFile(json)
          expect(decoded, `${path}: ${Either.isLeft(decoded) ? decoded.left.message : ""}`).toEqual(Either.right(json))
          // A field the program writes that the schema does not describe would be undocumented.
          expect(Object.keys(json).filter((k) => !documented.includes(k)), alert.reason).toEqual([])
        }
      }).pipe(Effect.provide(NodeContext.layer)),
    { timeout: 60_000 }
  )
})
