/**
 * The NixOS module and the Nix package, without NixOS: nix/test/eval.nix evaluates nix/module.nix
 * with a stand-in for nixpkgs' lib and renders the units as NixOS does; systemd-analyze checks the
 * rendered units. Needs `nix-instantiate` (Debian: nix-bin) and `systemd-analyze` (systemd).
 */
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { decodeConfig } from "../../src/domain/Config.js"
import { BOOT_TARGETS, verifyRewritten, wantsAfterEnable } from "./units.js"

const root = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../..")
const evalFile = Path.join(root, "nix/test/eval.nix")

const onPath = (command: string) => spawnSync("sh", ["-c", `command -v ${command}`]).status === 0
const nixMissing = !onPath("nix-instantiate")

interface Unit {
  readonly wantedBy: ReadonlyArray<string>
  readonly after: ReadonlyArray<string>
  readonly wants: ReadonlyArray<string>
  readonly path: ReadonlyArray<string>
  readonly environment: Record<string, string>
  readonly restartIfChanged: boolean
  readonly serviceConfig: Record<string, unknown>
  readonly timerConfig: Record<string, unknown>
}
interface Evaluation {
  readonly services: Record<string, Unit>
  readonly timers: Record<string, Unit>
  readonly units: Record<string, string>
  readonly etc: Record<string, { readonly source: string; readonly text: string | null }>
  readonly tmpfiles: ReadonlyArray<string>
  readonly systemPackages: ReadonlyArray<string>
  readonly warnings: ReadonlyArray<string>
  readonly settings: Record<string, unknown> | null
  readonly package: {
    readonly name: string
    readonly storePath: string
    readonly npmDepsHash: string
    readonly npmBuildScript: string
    readonly dontNpmInstall: boolean
    readonly nodejs: string
    readonly nativeBuildInputs: ReadonlyArray<string>
    readonly installPhase: string
    readonly srcFiles: ReadonlyArray<string>
    readonly mainProgram: string
  } | null
}
interface Case {
  readonly config: Record<string, unknown>
  readonly abra?: boolean
}

const nixEval = (cases?: Record<string, Case>) =>
  // The dummy store: nothing is built or copied, and no daemon or root is needed.
  spawnSync("nix-instantiate", ["--store", "dummy://", "--eval", "--strict", "--json", evalFile], {
    encoding: "utf8",
    env: { ...process.env, WARM_RECONCILE_NIX_CASES: cases === undefined ? "" : JSON.stringify(cases) }
  })

const evaluate = <K extends string>(cases: Record<K, Case>): Record<K, Evaluation> => {
  const result = nixEval(cases)
  if (result.status !== 0) throw new Error(`nix-instantiate failed (${result.status}):\n${result.stderr}`)
  return JSON.parse(result.stdout)
}

/** The error of an evaluation that must fail: nix-instantiate's stderr. */
const evalError = (config: Record<string, unknown>, abra = true) => {
  const result = nixEval({ only: { config, abra } })
  expect(result.status, `expected the evaluation to fail, got:\n${result.stdout}`).not.toBe(0)
  return result.stderr
}

/** `systemd-analyze verify` on unit texts written to a temp dir; the package's binary becomes a stub. */
const verify = (units: Record<string, string>, binary: string) => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "warm-reconcile-nix-stub-"))
  try {
    const stub = Path.join(dir, "warm-reconcile-stub")
    Fs.writeFileSync(stub, "#!/bin/sh\nexit 0\n", { mode: 0o755 })
    return verifyRewritten(units, (text) =>
      text.replaceAll(binary, stub)
        // The stand-in store paths of the shell and systemctl the notify and switch units run.
        .replaceAll(/\/nix\/store\/[^/\s]+-bash-[^/\s]+\/bin\/bash/g, "/bin/sh")
        .replaceAll(/\/nix\/store\/[^/\s]+-systemd-[^/\s]+\/bin\/systemctl/g, "/bin/systemctl"))
  } finally {
    Fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** [Section] -> key -> values, from unit file text (repeated keys accumulate). */
const parseUnit = (text: string) => {
  const sections: Record<string, Record<string, Array<string>>> = {}
  let current: Record<string, Array<string>> | undefined
  for (const raw of text.split("\n")) {
    const line = raw.trim()
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue
    const header = /^\[(.+)\]$/.exec(line)
    if (header) {
      current = sections[header[1]!] ??= {}
      continue
    }
    const eq = line.indexOf("=")
    if (current === undefined || eq < 0) throw new Error(`not a unit file line: ${line}`)
    ;(current[line.slice(0, eq)] ??= []).push(line.slice(eq + 1))
  }
  return sections
}

/** Evaluates on first use, inside a test, so that a failure is that test's. */
const once = <A>(f: () => A) => {
  let value: { readonly a: A } | undefined
  return () => (value ??= { a: f() }).a
}

const packageVersion = JSON.parse(Fs.readFileSync(Path.join(root, "package.json"), "utf8")).version as string

const APPS = {
  keycloak: {
    recipe: "keycloak",
    domain: "id.example.org",
    server: "default",
    stateful: true,
    upgrade: "minor",
    deployTimeout: "15 minutes",
    health: {
      path: "/realms/master",
      okStatus: [200, 204],
      connect: "127.0.0.1:443",
      url: null,
      verifyTls: false,
      timeout: "15 minutes",
      attemptTimeout: 10,
      successes: 2
    }
  },
  "wiki.example": { recipe: "mediawiki", domain: "wiki.example.org", stateful: false, upgrade: "patch" }
}

describe.skipIf(nixMissing)(
  nixMissing
    ? "NixOS module (SKIPPED: nix-instantiate is not on PATH; apt-get install -y nix-bin)"
    : "NixOS module",
  () => {
    it("parses every .nix file", () => {
      for (const file of ["nix/package.nix", "nix/module.nix", "nix/test/lib-stub.nix", "nix/test/eval.nix"]) {
        const result = spawnSync("nix-instantiate", ["--store", "dummy://", "--parse", Path.join(root, file)], {
          encoding: "utf8"
        })
        expect(result.status, `${file}: ${result.stderr}`).toBe(0)
      }
    })

    it("eval.nix on its own gives the sample (two apps) and, disabled, nothing", () => {
      const result = nixEval()
      expect(result.status, result.stderr).toBe(0)
      const out = JSON.parse(result.stdout) as Record<string, Evaluation>
      expect(Object.keys(out).sort()).toEqual(["disabled", "enabled"])
      const config = JSON.parse(out.enabled!.etc["warm-reconcile/config.json"]!.text!)
      expect(Object.keys(config.apps).length).toBe(2)
      expect(Object.keys(out.enabled!.units).sort()).toEqual([
        "warm-reconcile-notify.service",
        "warm-reconcile-notify.timer",
        "warm-reconcile-on-switch.service",
        "warm-reconcile.service",
        "warm-reconcile.timer"
      ])
      expect(out.disabled!.units).toEqual({})
    })

    describe("enabled with two apps, defaults otherwise", () => {
      const evaluated = once(() =>
        evaluate({
          main: { config: { enable: true, settings: { abraDir: "/root/.abra" }, apps: APPS } },
          disabled: { config: { enable: false, apps: APPS } }
        })
      )
      const main = () => evaluated().main!
      const disabled = () => evaluated().disabled!

      it("writes the apps, stateDir and abraDir to the config file, and the CLI's decoder accepts it", () => {
        const etc = main().etc["warm-reconcile/config.json"]!
        const config = JSON.parse(etc.text!)
        expect(config).toEqual({ stateDir: "/var/lib/warm-reconcile", abraDir: "/root/.abra", apps: APPS })
        // Unknown keys are an error for the CLI (exit 2): nothing the module adds may be one.
        const decoded = decodeConfig(config, "nix")
        expect(Either.isRight(decoded), Either.isLeft(decoded) ? decoded.left.message : "").toBe(true)
      })

      it("runs `reconcile --all` on that file with the package's binary, as a oneshot", () => {
        const service = main().services["warm-reconcile"]!
        const configPath = main().etc["warm-reconcile/config.json"]!.source
        expect(configPath).toMatch(/^\/nix\/store\/.+-warm-reconcile\.json$/)
        expect(service.serviceConfig.ExecStart).toBe(
          `${main().package!.storePath}/bin/warm-reconcile reconcile --all --config ${configPath} --concurrency 1`
        )
        expect(service.serviceConfig.Type).toBe("oneshot")
        expect(service.serviceConfig.RemainAfterExit).toBe(false)
        expect(main().systemPackages).toContain(main().package!.storePath)
      })

      it("starts after Docker and the network, from timers and the switch hook only, and is not restarted by a switch", () => {
        const service = main().services["warm-reconcile"]!
        for (const dep of ["docker.service", "network-online.target"]) {
          expect(service.after).toContain(dep)
          expect(service.wants).toContain(dep)
        }
        expect(service.wantedBy).toEqual([])
        expect(service.restartIfChanged).toBe(false)
        expect(main().units["warm-reconcile.service"]).not.toContain("[Install]")
        expect(main().timers["warm-reconcile"]!.timerConfig.OnBootSec).toBe("5min")
        // The switch starts the run without waiting for it.
        const onSwitch = main().services["warm-reconcile-on-switch"]!
        expect(onSwitch.wantedBy).toEqual(["sysinit-reactivation.target"])
        expect(onSwitch.serviceConfig.ExecStart).toMatch(
          /^\/nix\/store\/[^/]+-systemd-[^/]+\/bin\/systemctl start --no-block warm-reconcile\.service$/
        )
        expect(main().units["warm-reconcile.service"]).toContain("\nX-RestartIfChanged=false\n")
        expect(main().warnings).toEqual([])
      })

      it("gives a stop time for the rollback, SIGTERM to node alone, and 1 and 2 stay failures", () => {
        const sc = main().services["warm-reconcile"]!.serviceConfig
        expect(sc.KillMode).toBe("mixed")
        // keycloak's deployTimeout and health timeout (15 minutes each) and 15 for the restore.
        expect(sc.TimeoutStopSec).toBe("45min")
        const success = String(sc.SuccessExitStatus).split(/\s+/)
        expect(success).toContain("143")
        expect(success).not.toContain("1")
        expect(success).not.toContain("2")
      })

      it("keeps state in /var/lib/warm-reconcile (0700) and puts abra, git and tar on PATH", () => {
        const service = main().services["warm-reconcile"]!
        expect(service.serviceConfig.StateDirectory).toBe("warm-reconcile")
        expect(service.serviceConfig.StateDirectoryMode).toBe("0700")
        expect(service.serviceConfig.ReadWritePaths).toEqual(["-/var/lib/docker", "-/root/.abra", "-/root/.docker"])
        expect(main().tmpfiles).toEqual([])
        const names = service.path.map((p) => p.replace(/^\/nix\/store\/[^-]+-/, ""))
        expect(names.some((n) => n.startsWith("abra-"))).toBe(true)
        expect(names.some((n) => n.startsWith("git-"))).toBe(true)
        expect(names.some((n) => n.startsWith("gnutar-"))).toBe(true)
        expect(main().units["warm-reconcile.service"]).toMatch(/\nEnvironment="PATH=[^"\n]*-abra-[^/"]*\/bin:/)
        expect(service.environment).toEqual({ HOME: "/root" })
      })

      it("schedules the timer daily, randomized by 900 s, 5 minutes after boot, wanted by timers.target", () => {
        const timer = main().timers["warm-reconcile"]!
        expect(timer.timerConfig).toEqual({
          OnCalendar: "daily",
          OnBootSec: "5min",
          RandomizedDelaySec: 900,
          Persistent: false
        })
        expect(timer.wantedBy).toEqual(["timers.target"])
        const sections = parseUnit(main().units["warm-reconcile.timer"]!)
        expect(sections.Timer).toEqual({
          OnCalendar: ["daily"],
          OnBootSec: ["5min"],
          RandomizedDelaySec: ["900"],
          Persistent: ["false"]
        })
      })

      it("renders units that systemd-analyze verifies without a warning", () => {
        const result = verify(main().units, `${main().package!.storePath}/bin/warm-reconcile`)
        expect(result.status, result.stderr).toBe(0)
        expect(result.warnings).toEqual([])
      })

      it("has a schedule that systemd-analyze calendar accepts", () => {
        const calendar = String(main().timers["warm-reconcile"]!.timerConfig.OnCalendar)
        const result = spawnSync("systemd-analyze", ["calendar", calendar], { encoding: "utf8" })
        expect(result.status, result.stderr).toBe(0)
        expect(result.stdout).toContain("Normalized form: *-*-* 00:00:00")
      })

      it("disabled, defines no unit, no file, no package", () => {
        expect(disabled().services).toEqual({})
        expect(disabled().timers).toEqual({})
        expect(disabled().units).toEqual({})
        expect(disabled().etc).toEqual({})
        expect(disabled().systemPackages).toEqual([])
        expect(disabled().tmpfiles).toEqual([])
      })

      it("agrees with contrib/systemd on every [Service] setting but the paths", () => {
        const plain = parseUnit(Fs.readFileSync(Path.join(root, "contrib/systemd/warm-reconcile.service"), "utf8"))
        const nixos = parseUnit(main().units["warm-reconcile.service"]!)
        // NixOS writes booleans as true/false, plain units here as yes/no; X- keys are NixOS's own.
        const normal = (section: Record<string, Array<string>>) =>
          Object.fromEntries(
            Object.entries(section)
              .filter(([key]) => !["ExecStart", "Environment"].includes(key) && !key.startsWith("X-"))
              .map(([key, values]) => [
                key,
                values.flatMap((v) => v.split(/\s+/)).map((v) => v === "yes" ? "true" : v === "no" ? "false" : v)
              ])
          )
        expect(normal(nixos.Service!)).toEqual(normal(plain.Service!))
        expect(nixos.Unit!.Wants).toEqual(plain.Unit!.Wants)
        expect(nixos.Unit!.After).toEqual(plain.Unit!.After)
        expect(nixos.Install).toEqual(plain.Install)
        const plainTimer = parseUnit(Fs.readFileSync(Path.join(root, "contrib/systemd/warm-reconcile.timer"), "utf8"))
        const nixosTimer = parseUnit(main().units["warm-reconcile.timer"]!)
        expect(normal(nixosTimer.Timer!)).toEqual(normal(plainTimer.Timer!))
        expect(nixosTimer.Install).toEqual(plainTimer.Install)
        expect(nixos.Unit!.OnFailure).toEqual(plain.Unit!.OnFailure)
        // The notify units, but for the store paths of the shell and systemctl of its condition.
        for (const name of ["warm-reconcile-notify.service", "warm-reconcile-notify.timer"]) {
          const plainUnit = parseUnit(Fs.readFileSync(Path.join(root, "contrib/systemd", name), "utf8"))
          const nixosUnit = parseUnit(main().units[name]!)
          const section = name.endsWith(".timer") ? "Timer" : "Service"
          const withoutCondition = (s: Record<string, Array<string>>) => normal({ ...s, ExecCondition: [] })
          expect(withoutCondition(nixosUnit[section]!), name).toEqual(withoutCondition(plainUnit[section]!))
          expect(nixosUnit.Install, name).toEqual(plainUnit.Install)
        }
        const condition = (text: string) => parseUnit(text).Service!.ExecCondition![0]!.replace(/^\S+ /, "")
        expect(condition(main().units["warm-reconcile-notify.service"]!).replace(/\/nix\/store\/\S+\/bin\//, ""))
          .toBe(condition(Fs.readFileSync(Path.join(root, "contrib/systemd/warm-reconcile-notify.service"), "utf8")))
      })

      it("enabled in a fresh root, no unit of ours is wanted by or ordered before a boot target", () => {
        for (const [name, e] of Object.entries({ main: main() })) {
          expect(wantsAfterEnable(e.units), name).toEqual([
            "sysinit-reactivation.target.wants: warm-reconcile-on-switch.service",
            "timers.target.wants: warm-reconcile-notify.timer warm-reconcile.timer"
          ])
          for (const [unit, text] of Object.entries(e.units)) {
            for (const key of ["Before", "RequiredBy", "WantedBy"]) {
              expect((parseUnit(text).Unit?.[key] ?? []).join(" "), `${unit} ${key}`).not.toMatch(BOOT_TARGETS)
            }
          }
        }
      })
    })

    describe("options", () => {
      const variants = once(() =>
        evaluate({
          custom: {
            config: {
              enable: true,
              apps: { keycloak: APPS.keycloak },
              settings: { apps: { other: { recipe: "gitea", domain: "git.example.org" } } },
              schedule: "Mon..Fri *-*-* 03:30:00",
              randomizedDelaySec: 60,
              persistent: false,
              concurrency: 3,
              metricsFile: "/var/lib/node-exporter/warm-reconcile.prom",
              stateDir: "/srv/warm-reconcile",
              stopTimeout: "45min",
              environment: { ABRA_DIR: "/srv/abra", HOME: "/srv/home" }
            }
          },
          bootOnly: { config: { enable: true, runOnActivation: false } },
          activationOnly: { config: { enable: true, runAtBoot: false } },
          timerOnly: { config: { enable: true, runAtBoot: false, runOnActivation: false } }
        })
      )

      it("merge apps from `apps` and `settings.apps` and pass concurrency, metrics file, schedule and stop time", () => {
        const custom = variants().custom!
        const config = JSON.parse(custom.etc["warm-reconcile/config.json"]!.text!)
        expect(config).toEqual({
          stateDir: "/srv/warm-reconcile",
          apps: { keycloak: APPS.keycloak, other: { recipe: "gitea", domain: "git.example.org" } }
        })
        const sc = custom.services["warm-reconcile"]!.serviceConfig
        expect(String(sc.ExecStart)).toMatch(
          / reconcile --all --config \S+ --concurrency 3 --metrics-file \/var\/lib\/node-exporter\/warm-reconcile\.prom$/
        )
        expect(sc.TimeoutStopSec).toBe("45min")
        expect(custom.timers["warm-reconcile"]!.timerConfig).toEqual({
          OnCalendar: "Mon..Fri *-*-* 03:30:00",
          OnBootSec: "5min",
          RandomizedDelaySec: 60,
          Persistent: false
        })
        const calendar = spawnSync("systemd-analyze", ["calendar", "Mon..Fri *-*-* 03:30:00"], { encoding: "utf8" })
        expect(calendar.status, calendar.stderr).toBe(0)
      })

      it("a state directory outside /var/lib is made by tmpfiles and left writable", () => {
        const custom = variants().custom!
        const sc = custom.services["warm-reconcile"]!.serviceConfig
        expect(sc.StateDirectory).toBeUndefined()
        expect(sc.ReadWritePaths).toContain("/srv/warm-reconcile")
        expect(custom.services["warm-reconcile-notify"]!.serviceConfig.ReadWritePaths).toEqual(["/srv/warm-reconcile"])
        expect(custom.tmpfiles).toEqual(["d /srv/warm-reconcile 0700 root root -"])
      })

      it("extra environment lands in the unit and may replace HOME", () => {
        const custom = variants().custom!
        expect(custom.services["warm-reconcile"]!.environment).toEqual({ ABRA_DIR: "/srv/abra", HOME: "/srv/home" })
        const env = parseUnit(custom.units["warm-reconcile.service"]!).Service!.Environment!
        expect(env).toContain("\"ABRA_DIR=/srv/abra\"")
        expect(env).toContain("\"HOME=/srv/home\"")
      })

      it("runAtBoot and runOnActivation pick what starts the unit", () => {
        const wantedBy = (e: Evaluation) => e.services["warm-reconcile"]!.wantedBy
        const onBoot = (e: Evaluation) => e.timers["warm-reconcile"]!.timerConfig.OnBootSec
        const onSwitch = (e: Evaluation) => e.services["warm-reconcile-on-switch"]?.wantedBy
        // Boot only: the timer fires 5 minutes after boot; nothing a switch starts wants a unit.
        expect(wantedBy(variants().bootOnly!)).toEqual([])
        expect(onBoot(variants().bootOnly!)).toBe("5min")
        expect(onSwitch(variants().bootOnly!)).toBeUndefined()
        // Switch only: sysinit-reactivation.target is restarted by every switch, not reached at
        // boot; what it wants is the hook that starts the run with --no-block, not the run.
        expect(wantedBy(variants().activationOnly!)).toEqual([])
        expect(onSwitch(variants().activationOnly!)).toEqual(["sysinit-reactivation.target"])
        expect(onBoot(variants().activationOnly!)).toBeUndefined()
        expect(variants().activationOnly!.warnings.join("\n")).toContain("sysinit-reactivation.target")
        expect(wantedBy(variants().timerOnly!)).toEqual([])
        expect(onSwitch(variants().timerOnly!)).toBeUndefined()
        expect(onBoot(variants().timerOnly!)).toBeUndefined()
        expect(variants().timerOnly!.units["warm-reconcile.service"]).not.toContain("[Install]")
      })

      it("renders units that systemd-analyze verifies in each variant", () => {
        for (const [name, e] of Object.entries(variants())) {
          const result = verify(e.units, `${e.package!.storePath}/bin/warm-reconcile`)
          expect(result.status, `${name}: ${result.stderr}`).toBe(0)
          expect(result.warnings, name).toEqual([])
        }
      })

      it("systemd-analyze verify, as run here, catches an unknown key and a missing binary", () => {
        const { main } = evaluate({ main: { config: { enable: true } } })
        const binary = `${main!.package!.storePath}/bin/warm-reconcile`
        const service = main!.units["warm-reconcile.service"]!
        const unknownKey = verify({ ...main!.units, "warm-reconcile.service": `${service}ProtectSystm=full\n` }, binary)
        expect(unknownKey.warnings.join("\n")).toContain("ProtectSystm")
        const missingBinary = verify(main!.units, "/nonexistent/binary/that/is/not/replaced")
        expect(missingBinary.status).not.toBe(0)
      })
    })

    describe("errors at evaluation, before anything is built or started", () => {
      it("without an abra package", () => {
        expect(evalError({ enable: true }, false)).toContain("services.warm-reconcile.abraPackage is null")
      })

      it("on an app name the CLI would refuse", () => {
        expect(evalError({ enable: true, apps: { "../etc": { recipe: "x", domain: "x.org" } } })).toContain(
          "bad app name(s) [\"../etc\"]"
        )
      })

      it("on an app without recipe or domain", () => {
        expect(evalError({ enable: true, apps: { wiki: { recipe: "mediawiki" } } })).toContain(
          "every app needs a string `recipe` and `domain`; missing in [\"wiki\"]"
        )
      })

      it("on a bad option value or an option that does not exist", () => {
        expect(evalError({ enable: true, concurrency: 0 })).toContain(
          "services.warm-reconcile.concurrency' is not of type `positive integer"
        )
        expect(evalError({ enable: true, schedul: "daily" })).toContain(
          "The option `services.warm-reconcile.schedul' does not exist"
        )
      })

      it("when settings.stateDir disagrees with stateDir", () => {
        expect(evalError({ enable: true, stateDir: "/srv/a", settings: { stateDir: "/srv/b" } })).toContain(
          "services.warm-reconcile.settings.stateDir' has conflicting definition values"
        )
      })
    })

    describe("typed apps, defaults and recipes", () => {
      /** Ten apps as a small co-op runs them: a login, files, a chat, sites, a forge. */
      const TEN_APPS = {
        keycloak: { recipe: "keycloak", domain: "id.example.org", upgrade: "minor" },
        nextcloud: { recipe: "nextcloud", domain: "cloud.example.org", deployTimeout: "20 minutes" },
        synapse: { recipe: "matrix-synapse", domain: "matrix.example.org", health: { path: "/health" } },
        element: { recipe: "element-web", domain: "chat.example.org", stateful: false },
        gitea: { recipe: "gitea", domain: "git.example.org", upgrade: "patch" },
        wiki: { recipe: "mediawiki", domain: "wiki.example.org", enabled: false },
        pad: { recipe: "hedgedoc", domain: "pad.example.org", keepDeployed: true },
        site: { recipe: "custom-html", domain: "www.example.org", stateful: false, upgrade: "none" },
        blog: {
          recipe: "wordpress",
          domain: "blog.example.org",
          health: { timeout: "90 minutes", okStatus: [200, 301] }
        },
        forum: { recipe: "discourse", domain: "forum.example.org", server: "default", create: false }
      }
      const TEN = {
        enable: true,
        settings: { abraDir: "/root/.abra" },
        discover: true,
        defaults: { upgrade: "minor", health: { timeout: "20 minutes", connect: "127.0.0.1:443" } },
        recipes: {
          keycloak: { health: { path: "/realms/master" } },
          nextcloud: { health: { path: "/status.php", timeout: 2700 } }
        },
        apps: TEN_APPS
      }
      const ten = once(() => evaluate({ ten: { config: TEN } }).ten!)
      const written = () => JSON.parse(ten().etc["warm-reconcile/config.json"]!.text!)

      it("a ten-app config evaluates and is written as given, nothing unset added", () => {
        expect(written()).toEqual({
          stateDir: "/var/lib/warm-reconcile",
          abraDir: "/root/.abra",
          discover: true,
          defaults: {
            upgrade: "minor",
            health: { timeout: "20 minutes", connect: "127.0.0.1:443", url: null, verifyTls: null }
          },
          recipes: {
            keycloak: { health: { path: "/realms/master", url: null, verifyTls: null } },
            nextcloud: { health: { path: "/status.php", timeout: 2700, url: null, verifyTls: null } }
          },
          apps: Object.fromEntries(
            Object.entries(TEN_APPS).map(([name, app]) => [
              name,
              "health" in app ? { ...app, health: { ...app.health, url: null, verifyTls: null } } : app
            ])
          )
        })
        // Every app's own keys (the part of the file the CLI on this branch already reads) decode.
        const appsOnly = Object.fromEntries(
          Object.entries(written().apps as Record<string, Record<string, unknown>>).map(([name, app]) => {
            const { enabled: _enabled, ...rest } = app
            return [name, rest]
          })
        )
        const decoded = decodeConfig({ apps: appsOnly }, "nix")
        expect(Either.isRight(decoded), Either.isLeft(decoded) ? decoded.left.message : "").toBe(true)
      })

      // Runs once the CLI reads `discover`, `defaults`, `recipes` and `enabled` (issue 13 item 2).
      it.skipIf(Either.isLeft(decodeConfig({ apps: {}, discover: true, defaults: {}, recipes: {} }, "probe")))(
        "the CLI's decoder accepts the whole ten-app file",
        () => {
          const decoded = decodeConfig(written(), "nix")
          expect(Either.isRight(decoded), Either.isLeft(decoded) ? decoded.left.message : "").toBe(true)
        }
      )

      it("sizes the stop timeout for the slowest rollback: blog's 15 minutes' deploy, 90 minutes' health and 15 for the restore", () => {
        expect(ten().services["warm-reconcile"]!.serviceConfig.TimeoutStopSec).toBe("120min")
        const sized = evaluate({
          nextcloudFromRecipe: { config: { ...TEN, apps: { nextcloud: TEN_APPS.nextcloud } } },
          fromDefaults: {
            config: { enable: true, defaults: { deployTimeout: 1800 }, apps: { keycloak: TEN_APPS.keycloak } }
          },
          allowance: { config: { enable: true, restoreAllowance: 3601, apps: { keycloak: TEN_APPS.keycloak } } },
          set: { config: { enable: true, stopTimeout: "3h", apps: TEN_APPS } }
        })
        const timeout = (e: Evaluation) => e.services["warm-reconcile"]!.serviceConfig.TimeoutStopSec
        // 20 minutes' deploy (the app), 45 minutes' health (its recipe's block), 15 for the restore.
        expect(timeout(sized.nextcloudFromRecipe!)).toBe("80min")
        // 30 minutes' deploy (defaults), 15 minutes' health (built in), 15.
        expect(timeout(sized.fromDefaults!)).toBe("60min")
        expect(timeout(sized.allowance!)).toBe("5401s")
        expect(timeout(sized.set!)).toBe("3h")
      })

      it("fails evaluation on a misspelt key, in an app, in defaults and in a recipe's block", () => {
        const bad = (config: Record<string, unknown>) => evalError({ enable: true, ...config })
        expect(bad({ apps: { keycloak: { ...TEN_APPS.keycloak, statefull: true } } })).toContain(
          "The option `services.warm-reconcile.apps.keycloak.statefull' does not exist"
        )
        expect(bad({ defaults: { helth: { path: "/" } } })).toContain(
          "The option `services.warm-reconcile.defaults.helth' does not exist"
        )
        expect(bad({ recipes: { keycloak: { health: { pth: "/realms/master" } } } })).toContain(
          "The option `services.warm-reconcile.recipes.keycloak.health.pth' does not exist"
        )
      })

      it("fails evaluation on a bad enum, a bad boolean and a bad duration, naming the option", () => {
        const bad = (app: Record<string, unknown>) =>
          evalError({ enable: true, apps: { keycloak: { ...TEN_APPS.keycloak, ...app } } })
        expect(bad({ upgrade: "major" })).toContain(
          "A definition for option `services.warm-reconcile.apps.keycloak.upgrade' is not of type `null or one of \"minor\", \"patch\", \"none\"'. Definition value: \"major\""
        )
        expect(bad({ stateful: "yes" })).toContain(
          "`services.warm-reconcile.apps.keycloak.stateful' is not of type `null or boolean'"
        )
        expect(bad({ deployTimeout: "15 minuts" })).toContain(
          "`services.warm-reconcile.apps.keycloak.deployTimeout' is not of type `null or duration"
        )
        expect(bad({ health: { timeout: "-5 minutes" } })).toContain(
          "`services.warm-reconcile.apps.keycloak.health.timeout' is not of type `null or duration"
        )
        expect(evalError({ enable: true, defaults: { deployTimeout: "soon" } })).toContain(
          "`services.warm-reconcile.defaults.deployTimeout' is not of type `null or duration"
        )
        expect(evalError({ enable: true, discover: "yes" })).toContain(
          "`services.warm-reconcile.discover' is not of type `null or boolean'"
        )
      })

      /** Durations: what the module takes, case by case, against what the CLI's decoder takes. */
      const GOOD: ReadonlyArray<string | number> = [
        "15 minutes",
        "1 minute",
        "90 seconds",
        " 2 hours ",
        "1.5 hours",
        "0 seconds",
        "3 days",
        "1 week",
        "500 millis",
        "015 minutes",
        "10 nanos",
        "2\tweeks",
        0,
        90,
        1.5
      ]
      const BAD: ReadonlyArray<string | number> = [
        "15minutes",
        "-5 minutes",
        "fifteen minutes",
        "15 mins",
        "15 Minutes",
        "",
        "15",
        "1e3 seconds",
        "Infinity",
        "15 minutes ago",
        -1
      ]
      const SHORT: ReadonlyArray<string> = ["15m", "1h30m", "90s", "2d", "500ms"]
      const cliTakes = (value: string | number) =>
        Either.isRight(decodeConfig({ apps: { a: { recipe: "r", domain: "a.org", deployTimeout: value } } }, "probe"))
      const nixTakes = (values: ReadonlyArray<string | number>) => {
        const cases = Object.fromEntries(values.map((value, i) => [
          `d${i}`,
          { config: { enable: true, apps: { a: { recipe: "r", domain: "a.org", deployTimeout: value } } } }
        ]))
        return values.map((value, i) => {
          const result = nixEval({ [`d${i}`]: cases[`d${i}`]! })
          return { value, takes: result.status === 0 }
        })
      }

      it("takes every duration the CLI takes, and refuses every one it refuses", () => {
        for (const value of GOOD) expect(cliTakes(value), `the CLI on ${JSON.stringify(value)}`).toBe(true)
        for (const value of BAD) expect(cliTakes(value), `the CLI on ${JSON.stringify(value)}`).toBe(false)
        const taken = nixTakes([...GOOD, ...BAD])
        expect(taken.filter((t) => t.takes).map((t) => t.value)).toEqual(GOOD)
      })

      it("takes the short forms people type (issue 13 item 7) and counts them right", () => {
        expect(nixTakes(SHORT).filter((t) => !t.takes)).toEqual([])
        const { a } = evaluate({
          a: {
            config: {
              enable: true,
              apps: { a: { recipe: "r", domain: "a.org", deployTimeout: "1h30m", health: { timeout: "500ms" } } }
            }
          }
        })
        // 5400 s + 0.5 s + 900 s for the restore, rounded up.
        expect(a!.services["warm-reconcile"]!.serviceConfig.TimeoutStopSec).toBe("6301s")
      })

      /** Windows: what the module takes against what the CLI's decoder takes, one evaluation each. */
      const WINDOWS_GOOD: ReadonlyArray<unknown> = [
        "02:00-05:00",
        "22:00-02:00",
        "00:00-24:00",
        " 02:00-05:00 ",
        "Mon-Fri 02:00-05:00",
        "sat,sun 01:00-06:00",
        "Mon,Wed-Fri 23:30-00:30",
        ["Mon-Fri 02:00-05:00", "Sat,Sun 22:00-02:00"]
      ]
      const WINDOWS_BAD: ReadonlyArray<unknown> = [
        "02:00-02:00",
        "24:00-02:00",
        "25:00-03:00",
        "2:00-5:00",
        "02:00",
        "Mon-Fry 02:00-05:00",
        "Mon Fri 02:00-05:00",
        "",
        [],
        ["02:00-05:00", "soon"]
      ]
      const windowCase = (window: unknown) => ({ apps: { a: { recipe: "r", domain: "a.org", window } } })

      it("takes every window the CLI takes, and refuses every one it refuses", () => {
        const cli = (w: unknown) => Either.isRight(decodeConfig(windowCase(w), "probe"))
        expect(WINDOWS_GOOD.filter((w) => !cli(w))).toEqual([])
        expect(WINDOWS_BAD.filter(cli)).toEqual([])
        const nix = (w: unknown) => nixEval({ w: { config: { enable: true, ...windowCase(w) } } }).status === 0
        expect([...WINDOWS_GOOD, ...WINDOWS_BAD].filter(nix)).toEqual(WINDOWS_GOOD)
        expect(evalError({ enable: true, ...windowCase("25:00-03:00") })).toContain(
          "`services.warm-reconcile.apps.a.window' is not of type `null or maintenance window"
        )
      })

      it("writes window, soak time and snapshot settings where the CLI reads them, and the CLI takes the file", () => {
        // As options, and as the file must say them (beside the state directory).
        const settings = {
          window: ["Mon-Fri 02:00-05:00", "Sat,Sun 22:00-02:00"],
          minReleaseAge: "3 days",
          defaults: { window: "01:00-04:00", snapshot: { keep: 3 } },
          recipes: {
            keycloak: { minReleaseAge: "7 days" },
            nextcloud: { snapshot: { exclude: { app_data: ["appdata_*/preview"] } } }
          },
          apps: {
            kc: { recipe: "keycloak", domain: "id.example.org", window: "00:00-24:00", snapshot: { volumes: ["db"] } },
            cloud: { recipe: "nextcloud", domain: "cloud.example.org", minReleaseAge: "1d" }
          }
        }
        const { w } = evaluate({ w: { config: { enable: true, ...settings } } })
        const file = JSON.parse(w!.etc["warm-reconcile/config.json"]!.text!)
        expect(file).toEqual({ stateDir: "/var/lib/warm-reconcile", ...settings })
        const decoded = decodeConfig(file, "nix")
        expect(Either.isRight(decoded), Either.isLeft(decoded) ? decoded.left.message : "").toBe(true)
        expect(evalError({ enable: true, apps: { a: { recipe: "r", domain: "a.org", snapshot: { volumes: [] } } } }))
          .toContain("`services.warm-reconcile.apps.a.snapshot.volumes' is not of type `null or non-empty list")
        expect(evalError({ enable: true, minReleaseAge: "3 dais" })).toContain(
          "`services.warm-reconcile.minReleaseAge' is not of type `null or duration"
        )
      })

      // Runs once the CLI reads the short forms too (issue 13 item 7).
      it.skipIf(!cliTakes("15m"))("the CLI takes the same short forms", () => {
        for (const value of SHORT) expect(cliTakes(value), value).toBe(true)
      })
    })

    describe("docs/coop-cloud.md", () => {
      const page = Fs.readFileSync(Path.join(root, "docs/coop-cloud.md"), "utf8")
      const example = () => {
        const block = /## Ten apps on Debian[^]*?```json\n([^]*?)```/.exec(page)
        expect(block).not.toBeNull()
        return JSON.parse(block![1]!) as {
          readonly abraDir: string
          readonly defaults: Record<string, unknown>
          readonly recipes: Record<string, unknown>
          readonly apps: Record<string, Record<string, unknown>>
        }
      }

      it("the Debian example has ten apps, and as NixOS options it evaluates with the stop timeout the page names", () => {
        const { abraDir, apps, defaults, recipes } = example()
        expect(Object.keys(apps)).toHaveLength(10)
        const { nixos } = evaluate({
          nixos: { config: { enable: true, settings: { abraDir }, defaults, recipes, apps } }
        })
        // The page: "here 30 + 15 + 15 = 60 minutes, from nextcloud's recipe block".
        expect(page).toContain("30 + 15 + 15 = 60 minutes")
        expect(nixos!.services["warm-reconcile"]!.serviceConfig.TimeoutStopSec).toBe("60min")
        // The NixOS example on the page holds the same apps.
        const nixBlock = /## Ten apps on NixOS[^]*?```nix\n([^]*?)```/.exec(page)![1]!
        for (const [name, app] of Object.entries(apps)) {
          expect(nixBlock).toContain(
            `${name} = { recipe = "${String(app["recipe"])}"; domain = "${String(app["domain"])}";`
          )
        }
        const parsed = spawnSync("nix-instantiate", ["--store", "dummy://", "--parse", "-"], {
          input: nixBlock,
          encoding: "utf8"
        })
        expect(parsed.status, parsed.stderr).toBe(0)
      })

      // Runs once the CLI reads `defaults`, `recipes` and `enabled` (issue 13 item 2).
      it.skipIf(Either.isLeft(decodeConfig({ apps: {}, defaults: {}, recipes: {} }, "probe")))(
        "the CLI's decoder accepts the Debian example",
        () => {
          const decoded = decodeConfig(example(), "docs/coop-cloud.md")
          expect(Either.isRight(decoded), Either.isLeft(decoded) ? decoded.left.message : "").toBe(true)
        }
      )
    })

    describe("package.nix", () => {
      const pkg = once(() => evaluate({ main: { config: { enable: true } } }).main!.package!)

      it("builds with `npm run build` on Node 20, from the sources the build reads", () => {
        expect(pkg().name).toBe(`warm-reconcile-${packageVersion}`)
        expect(pkg().npmBuildScript).toBe("build")
        expect(pkg().nodejs).toMatch(/^nodejs-20\./)
        expect([...pkg().srcFiles].sort()).toEqual([
          "package-lock.json",
          "package.json",
          "scripts",
          "src",
          "tsconfig.json"
        ])
        for (const file of pkg().srcFiles) expect(Fs.existsSync(Path.join(root, file)), file).toBe(true)
      })

      it("installs the bundle and a bin/warm-reconcile wrapper that runs it with Node 20's node", () => {
        expect(pkg().dontNpmInstall).toBe(true)
        expect(pkg().nativeBuildInputs).toContain("make-shell-wrapper-hook")
        expect(pkg().installPhase).toContain("install -Dm644 dist/warm-reconcile.mjs \"$out/lib/warm-reconcile/")
        expect(pkg().installPhase).toMatch(
          /makeWrapper \/nix\/store\/[^/]+-nodejs-20\.[^/]*\/bin\/node "\$out\/bin\/warm-reconcile"[^]*--add-flags "\$out\/lib\/warm-reconcile\/warm-reconcile\.mjs"/
        )
        expect(pkg().mainProgram).toBe("warm-reconcile")
        // The bundle the install step copies is what `npm run build` writes.
        expect(Fs.readFileSync(Path.join(root, "scripts/build.mjs"), "utf8")).toContain(
          "const outfile = \"dist/warm-reconcile.mjs\""
        )
      })

      it("leaves npmDepsHash as lib.fakeHash for the operator to fill in", () => {
        expect(pkg().npmDepsHash).toBe("sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
        expect(Fs.readFileSync(Path.join(root, "nix/package.nix"), "utf8")).toMatch(/npmDepsHash \? lib\.fakeHash/)
      })
    })
  }
)
