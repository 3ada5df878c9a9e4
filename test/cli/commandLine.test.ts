/**
 * The command line as people expect it (issue 13, item 9). In process: an unknown option is found
 * (never taken for the app's name), a permission problem is one line, status says a repeated
 * problem once, help's colours only on a terminal without NO_COLOR and its
 * usage lines named in full, and the generated bash completion run in bash itself. Through the
 * built CLI, in four runs at once: the usage error (exit 2), `--wizard` without a terminal (exit
 * 2, no hang), piped help (no colour, `$ warm-reconcile plan`), `--log-level debug`, and (as root)
 * a config another user cannot read: one line, run as root or fix the owner and mode, exit 1.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { PROGRAM, tree } from "../../src/cli/Cli.js"
import { unknownOption } from "../../src/cli/CommandTree.js"
import * as Completions from "../../src/cli/Completions.js"
import * as HelpConsole from "../../src/cli/HelpConsole.js"
import { permissionProblem } from "../../src/cli/Permission.js"
import * as Status from "../../src/cli/Status.js"
import { BUNDLE, cli, runChild } from "../support/cli.js"

const unknown = (...words: Array<string>) => Option.getOrUndefined(unknownOption(PROGRAM, tree, words))

describe("unknown options", () => {
  it("are named, wherever they stand, with the closest option; never taken as the app", () => {
    expect(unknown("plan", "--config", "c.json", "--bogus")).toMatch(
      /^unknown option --bogus for `warm-reconcile plan`/
    )
    expect(unknown("plan", "--bogus", "--config", "c.json")).toMatch(/^unknown option --bogus /)
    expect(unknown("plan", "kc", "--skip-fech")).toContain("did you mean --skip-fetch?")
    expect(unknown("alerts", "ack", "--json", "x")).toMatch(/^unknown option --json for `warm-reconcile alerts ack`/)
    expect(unknown("reconcile", "--lock-wait=5m", "--all", "--log-level", "debug", "--metrics-file", "m")).toBe(
      undefined
    )
    // A value is not an option, even one that starts with a dash.
    expect(unknown("reconcile", "--all", "--concurrency", "-1")).toBe(undefined)
    expect(unknown("config", "check", "--config", "--weird-file-name")).toBe(undefined)
    expect(unknown("--help")).toBe(undefined)
  })
})

describe("a permission problem", () => {
  it("is one line: what could not be done, and to run as root or fix the owner and mode", () => {
    expect(
      permissionProblem(
        "cannot read the config file /etc/w.json: PermissionDenied: FileSystem.readFile (/etc/w.json): EACCES: " +
          "permission denied, open '/etc/w.json'"
      )
    ).toEqual(Option.some(
      "cannot read the config file /etc/w.json: permission denied (EACCES): run as root or fix the owner and mode of " +
        "/etc/w.json"
    ))
    const said = "cannot take the lock /s/kc/lock: EACCES: run as root or fix the state directory's owner and mode"
    expect(permissionProblem(said)).toEqual(Option.some(said))
    expect(permissionProblem("no config file at /etc/w.json")).toEqual(Option.none())
  })
})

describe("status", () => {
  it("collapses a problem repeated over facts and apps into one line", () => {
    const denied = "cannot inspect /s/kc: EACCES: run as root or fix the state directory's owner and mode"
    const status = (app: string, problems: Record<string, string>): Status.AppStatus => ({
      app,
      recipe: "keycloak",
      domain: `${app}.example.org`,
      server: "default",
      envFile: true,
      pinned: null,
      deployed: null,
      running: null,
      lastGood: null,
      latest: null,
      hold: null,
      inFlight: null,
      lastRun: null,
      window: null,
      managedBy: "listed",
      paused: false,
      problems
    })
    const docker = "cannot reach the Docker socket /var/run/docker.sock (ENOENT): is dockerd running?"
    const table = Status.renderTable([
      status("kc", { docker, lastGood: denied, hold: denied, inFlight: denied, history: denied }),
      status("nc", { docker })
    ]).split("\n")
    expect(table.slice(table.indexOf("could not read:") + 1)).toEqual([
      `  docker: ${docker} (kc, nc)`,
      `  lastGood, hold, inFlight, history: ${denied} (kc)`
    ])
  })
})

describe("help as printed by @effect/cli", () => {
  const sgr = "\u001b[0;1mUSAGE\u001b[0m\n\n$ ack [--config FILE] <id>\n"
  it("colours only when wanted; usage lines with the whole command; other controls escaped", () => {
    const plain = HelpConsole.render(sgr, { colour: false, program: PROGRAM, path: ["alerts", "ack"] })
    expect(plain).toBe("USAGE\n\n$ warm-reconcile alerts ack [--config FILE] <id>\n")
    const coloured = HelpConsole.render(sgr, { colour: true, program: PROGRAM, path: ["alerts", "ack"] })
    expect(coloured).toContain("\u001b[0;1mUSAGE\u001b[0m")
    expect(HelpConsole.render("a\u001b]0;title\u0007", { colour: true, program: PROGRAM, path: [] })).toBe(
      "a\\u001b]0;title\\u0007"
    )
    expect(HelpConsole.colourWanted({}, true)).toBe(true)
    expect(HelpConsole.colourWanted({ NO_COLOR: "1" }, true)).toBe(false)
    expect(HelpConsole.colourWanted({ NO_COLOR: "" }, true)).toBe(true)
    expect(HelpConsole.colourWanted({}, false)).toBe(false)
  })
})

describe("shell completions", () => {
  it("bash: each command's subcommands, options, choices and file arguments, run in bash", () => {
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "warm-reconcile-completion-"))
    try {
      Fs.writeFileSync(Path.join(dir, "config.json"), "{}")
      Fs.writeFileSync(Path.join(dir, "cfg-old.json"), "{}")
      const script = Option.getOrThrow(Completions.script("bash", PROGRAM, tree))
      /** COMPREPLY for the words typed so far, the last being the one completed. */
      const cases: ReadonlyArray<ReadonlyArray<string>> = [
        [""],
        ["pl"],
        ["plan", "--"],
        ["plan", "--config", "con"],
        ["reconcile", "--log-format", ""],
        ["reconcile", "--config", "config.json", "--me"],
        ["alerts", ""],
        ["alerts", "ack", "--"],
        ["snapshot", ""],
        ["config", "check", "--config", "c"],
        ["--completions", "f"]
      ]
      const calls = cases.map((words) =>
        [
          `COMP_WORDS=(${[PROGRAM, ...words].map((w) => `'${w}'`).join(" ")})`,
          `COMP_CWORD=${words.length}`,
          "_warm_reconcile",
          `echo "$(printf '%s ' "\${COMPREPLY[@]}" | tr ' ' '\\n' | grep -v '^$' | sort | tr '\\n' ' ')"`
        ].join("; ")
      )
      const out = ChildProcess.execFileSync("bash", ["-c", [script, ...calls].join("\n")], {
        cwd: dir,
        encoding: "utf8"
      })
      const replies = out.split("\n").slice(0, cases.length).map((l) => l.trim().split(" ").filter((w) => w !== ""))
      const [top, pl, planOptions, configFile, formats, metrics, alerts, ackOptions, actions, checkConfig, shells] =
        replies
      expect(top).toEqual([
        "alerts",
        "config",
        "notify",
        "plan",
        "reconcile",
        "simulate",
        "snapshot",
        "status",
        "unhold"
      ])
      expect(pl).toEqual(["plan"])
      expect(planOptions).toEqual(expect.arrayContaining(["--all", "--config", "--json", "--skip-fetch", "--help"]))
      expect(planOptions).not.toContain("--concurrency")
      expect(configFile).toEqual(["config.json"])
      expect(formats).toEqual(["json", "logfmt", "pretty"])
      expect(metrics).toEqual(["--metrics-file"])
      expect(alerts).toEqual(["ack"])
      expect(ackOptions).toEqual(["--completions", "--config", "--help", "--log-level", "--version", "--wizard"])
      expect(actions).toEqual(["export", "restore", "show", "take"])
      expect(checkConfig).toEqual(["cfg-old.json", "config.json"])
      expect(shells).toEqual(["fish"])
    } finally {
      Fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("zsh loads the same function; fish names each command's options, files where they take one", () => {
    const zsh = Option.getOrThrow(Completions.script("zsh", PROGRAM, tree))
    expect(zsh.split("\n")[0]).toBe(`#compdef ${PROGRAM}`)
    expect(zsh).toContain("bashcompinit")
    expect(zsh).toContain(`complete -F _warm_reconcile ${PROGRAM}`)
    const fish = Option.getOrThrow(Completions.script("fish", PROGRAM, tree)).split("\n")
    expect(fish).toContain(`complete -c ${PROGRAM} -n '__fish_seen_subcommand_from plan' -l config -r -F`)
    expect(fish).toContain(
      `complete -c ${PROGRAM} -n '__fish_seen_subcommand_from reconcile' -l log-format -x -a 'logfmt json pretty'`
    )
    expect(fish).toContain(
      `complete -c ${PROGRAM} -n '__fish_seen_subcommand_from alerts; and not __fish_seen_subcommand_from ack' -a 'ack'`
    )
    expect(Option.isNone(Completions.script("tcsh", PROGRAM, tree))).toBe(true)
  })
})

describe("through the built CLI", () => {
  it.live("usage error, --wizard without a terminal, piped help, --log-level debug", () =>
    Effect.gen(function*() {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "warm-reconcile-cmdline-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true })))
      Fs.mkdirSync(Path.join(dir, "abra", "servers", "default"), { recursive: true })
      const config = Path.join(dir, "config.json")
      Fs.writeFileSync(
        config,
        JSON.stringify({
          stateDir: Path.join(dir, "state"),
          abraDir: Path.join(dir, "abra"),
          apps: { kc: { recipe: "keycloak", domain: "id.example.org" } }
        })
      )
      // As another user than root, the config (in a directory of root's alone) cannot be read.
      const asNobody = process.getuid?.() === 0
        ? runChild("setpriv", [
          "--reuid=65534",
          "--regid=65534",
          "--clear-groups",
          process.execPath,
          BUNDLE,
          "plan",
          "kc",
          "--config",
          config
        ])
        : Effect.succeed(undefined)
      const [usage, wizard, help, debug, denied] = yield* Effect.all([
        cli(["plan", "--config", config, "--bogus"]),
        cli(["--wizard"], {}, "20 seconds"),
        cli(["plan", "--help"]),
        cli(["plan", "kc", "--config", config, "--log-level", "debug"]),
        asNobody
      ], { concurrency: 5 })
      if (denied !== undefined) {
        expect(denied.code, denied.stderr).toBe(1)
        expect(denied.stderr).toBe(
          `warm-reconcile: cannot read the config file ${config}: permission denied (EACCES): run as root or fix ` +
            `the owner and mode of ${config}\n`
        )
      }
      expect(usage.code).toBe(2)
      expect(usage.stdout).toBe("")
      expect(usage.stderr.trim()).toMatch(/^warm-reconcile: unknown option --bogus for `warm-reconcile plan`/)
      expect(usage.stderr.trim().split("\n")).toHaveLength(1)
      expect(wizard.code).toBe(2)
      expect(wizard.stderr).toContain("--wizard asks its questions on a terminal")
      expect(help.code).toBe(0)
      expect(help.stdout).toContain("\n$ warm-reconcile plan [--all] [--config FILE]")
      expect(help.stdout.includes("\u001b") || help.stdout.includes("\\u001b")).toBe(false)
      // The app has no env file (exit 2); the calls that found it out are debug lines.
      expect(debug.code).toBe(2)
      expect(debug.stderr).toMatch(/level=DEBUG .*message="Apps\.readEnv\(kc\) done in \d+ ms"/)
    }).pipe(Effect.scoped), 60_000)
})
