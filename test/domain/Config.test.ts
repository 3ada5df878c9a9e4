import { describe, expect, it } from "@effect/vitest"
import { Duration, Either } from "effect"
import {
  type AppName,
  appSpec,
  appSpecs,
  type Config,
  ConfigError,
  decodeConfig,
  HealthConfig,
  inheritedApp,
  stackName,
  verifiesTls
} from "../../src/domain/Config.js"

const minimal = { recipe: "keycloak", domain: "id.example.org" }

const decoded = (input: unknown): Config =>
  Either.getOrThrowWith(decodeConfig(input), (e) => new Error(`expected a valid config, got ${e.message}`))

const refused = (input: unknown): ConfigError =>
  Either.match(decodeConfig(input, "warm.json"), {
    onLeft: (e) => e,
    onRight: () => {
      throw new Error("expected the config to be refused")
    }
  })

const withApp = (app: Record<string, unknown>) => ({ apps: { kc: { ...minimal, ...app } } })
const millis = (d: Duration.Duration) => Duration.toMillis(d)

describe("Config.decodeConfig", () => {
  it("decodes the documented example, every field set", () => {
    const config = decoded({
      stateDir: "/srv/warm",
      abraDir: "/home/abra/.abra",
      apps: {
        kc: {
          recipe: "keycloak",
          domain: "id.example.org",
          server: "swarm-1.example.org",
          stateful: false,
          upgrade: "patch",
          deployTimeout: "20 minutes",
          health: {
            path: "/realms/master",
            okStatus: [200, 302],
            connect: "[::1]:8443",
            url: "https://id.example.org/realms/master",
            verifyTls: true,
            timeout: "90 seconds",
            attemptTimeout: 5,
            successes: 3,
            interval: "250 millis",
            failedTasks: 5,
            settle: 30
          }
        }
      }
    })
    expect(config.stateDir).toBe("/srv/warm")
    expect(config.abraDir).toBe("/home/abra/.abra")
    const kc = config.apps["kc" as AppName]!
    expect(kc).toMatchObject({
      recipe: "keycloak",
      domain: "id.example.org",
      server: "swarm-1.example.org",
      stateful: false,
      upgrade: "patch"
    })
    expect(millis(kc.deployTimeout)).toBe(20 * 60_000)
    expect(kc.health).toMatchObject({
      path: "/realms/master",
      okStatus: [200, 302],
      connect: "[::1]:8443",
      url: "https://id.example.org/realms/master",
      verifyTls: true,
      successes: 3,
      failedTasks: 5
    })
    expect(millis(kc.health.timeout)).toBe(90_000)
    expect(millis(kc.health.attemptTimeout)).toBe(5_000)
    expect(millis(kc.health.interval)).toBe(250)
    expect(millis(kc.health.settle)).toBe(30_000)
  })

  it("fills in the defaults", () => {
    const config = decoded({ apps: { kc: minimal } })
    expect(config.stateDir).toBe("/var/lib/warm-reconcile")
    expect(config.abraDir).toBeUndefined()
    const kc = config.apps["kc" as AppName]!
    // Stateful by default: snapshotting by mistake is cheap, not snapshotting by mistake is not.
    expect(kc).toMatchObject({ server: "default", stateful: true, upgrade: "minor" })
    expect(millis(kc.deployTimeout)).toBe(15 * 60_000)
    expect(kc.health).toMatchObject({
      path: "/",
      okStatus: [200],
      connect: "127.0.0.1:443",
      url: null,
      // Decided by the target: the default loopback proxy is not verified (as the original's curl -k).
      verifyTls: null,
      successes: 2,
      failedTasks: 3
    })
    expect(verifiesTls(kc.health)).toBe(false)
    expect(millis(kc.health.timeout)).toBe(15 * 60_000)
    expect(millis(kc.health.attemptTimeout)).toBe(10_000)
    expect(millis(kc.health.interval)).toBe(500)
    expect(millis(kc.health.settle)).toBe(60_000)
  })

  it("fills in the health defaults for a partial health block", () => {
    const kc = decoded(withApp({ health: { path: "/health" } })).apps["kc" as AppName]!
    expect(kc.health.path).toBe("/health")
    expect(kc.health.successes).toBe(2)
    expect(millis(kc.health.timeout)).toBe(15 * 60_000)
  })

  it("accepts an empty apps object and several apps", () => {
    expect(decoded({ apps: {} }).apps).toEqual({})
    const two = decoded({ apps: { kc: minimal, "n8n.prod_2": { recipe: "n8n", domain: "n8n.example.org" } } })
    expect(Object.keys(two.apps).sort()).toEqual(["kc", "n8n.prod_2"])
  })

  it("reads durations as Effect duration strings or as numbers of seconds", () => {
    const cases: ReadonlyArray<readonly [unknown, number]> = [
      ["15 minutes", 900_000],
      ["90 seconds", 90_000],
      ["  90 seconds ", 90_000],
      ["1 hour", 3_600_000],
      ["1.5 minutes", 90_000],
      [90, 90_000],
      [1.5, 1_500],
      [0, 0]
    ]
    for (const [input, expected] of cases) {
      const kc = decoded(withApp({ deployTimeout: input })).apps["kc" as AppName]!
      expect(millis(kc.deployTimeout), String(input)).toBe(expected)
    }
  })

  it("refuses a bad duration, naming the field", () => {
    for (const input of ["soon", "15", "15 mins", "", "Infinity", "NaN seconds", true, null]) {
      const error = refused(withApp({ deployTimeout: input }))
      expect(error.path, String(input)).toBe("apps.kc.deployTimeout")
    }
    expect(refused(withApp({ health: { timeout: "forever" } })).message).toContain("15 minutes")
  })

  it("refuses a negative number of seconds", () => {
    const error = refused(withApp({ deployTimeout: -1 }))
    expect(error.path).toBe("apps.kc.deployTimeout")
    expect(error.message).toContain(">= 0")
  })

  it("refuses a negative duration string", () => {
    expect(refused(withApp({ deployTimeout: "-5 seconds" })).path).toBe("apps.kc.deployTimeout")
  })

  it("refuses a bad upgrade policy", () => {
    const error = refused(withApp({ upgrade: "major" }))
    expect(error.path).toBe("apps.kc.upgrade")
    expect(error.message).toContain("\"major\"")
  })

  it("names every accepted upgrade policy when refusing one", () => {
    const error = refused(withApp({ upgrade: "major" }))
    expect(error.message).toContain("patch")
    expect(error.message).toContain("none")
  })

  it("refuses unknown keys, so a typo is not silently ignored", () => {
    const app = refused(withApp({ stateFul: false }))
    expect(app.path).toBe("apps.kc.stateFul")
    expect(app.message).toContain("stateful")
    expect(refused(withApp({ health: { okstatus: [200] } })).path).toBe("apps.kc.health.okstatus")
    expect(refused({ statedir: "/x", apps: {} }).path).toBe("statedir")
  })

  it("refuses a missing recipe or domain and a missing apps object", () => {
    const recipe = refused({ apps: { kc: { domain: "id.example.org" } } })
    expect(recipe.path).toBe("apps.kc.recipe")
    expect(recipe.message).toContain("missing")
    expect(refused({ apps: { kc: { recipe: "keycloak" } } }).path).toBe("apps.kc.domain")
    expect(refused({}).path).toBe("apps")
  })

  it("refuses app names that could escape the state directory", () => {
    for (const name of ["../x", "a/b", "/abs", "..", ".hidden", "a..b", "", "a b", "__proto__", "x".repeat(129)]) {
      // A computed key makes "__proto__" an own property, as JSON.parse does.
      expect(refused({ apps: { [name]: minimal } }).path, name).toBe(`apps.${name}`)
    }
  })

  it("names the bad field for each kind of invalid value", () => {
    const cases: ReadonlyArray<readonly [unknown, string]> = [
      [withApp({ health: { successes: 0 } }), "apps.kc.health.successes"],
      [withApp({ health: { successes: 1.5 } }), "apps.kc.health.successes"],
      [withApp({ health: { failedTasks: 0 } }), "apps.kc.health.failedTasks"],
      [withApp({ health: { path: "health" } }), "apps.kc.health.path"],
      [withApp({ health: { connect: "nohost" } }), "apps.kc.health.connect"],
      [withApp({ health: { url: "ftp://x" } }), "apps.kc.health.url"],
      [withApp({ health: { verifyTls: "yes" } }), "apps.kc.health.verifyTls"],
      [withApp({ domain: "not a domain" }), "apps.kc.domain"],
      [withApp({ recipe: "Key Cloak" }), "apps.kc.recipe"],
      [withApp({ server: "../x" }), "apps.kc.server"],
      [withApp({ stateful: "true" }), "apps.kc.stateful"],
      [{ stateDir: "relative/dir", apps: {} }, "stateDir"],
      [{ abraDir: "relative", apps: {} }, "abraDir"],
      [{ apps: { kc: "keycloak" } }, "apps.kc"]
    ]
    for (const [input, path] of cases) {
      expect(refused(input).path).toBe(path)
    }
    expect(refused(withApp({ health: { okStatus: [99] } })).path).toMatch(/^apps\.kc\.health\.okStatus/)
  })

  it("reports a top-level value that is not an object", () => {
    for (const input of [null, "config", 1, []]) {
      expect(refused(input).path).toBe("(top level)")
    }
  })

  it("returns a ConfigError whose one-line message starts with the source and the path", () => {
    const error = refused(withApp({ health: { successes: 0 } }))
    expect(error).toBeInstanceOf(ConfigError)
    expect(error._tag).toBe("ConfigError")
    expect(error.source).toBe("warm.json")
    expect(error.path).toBe("apps.kc.health.successes")
    expect(error.message.startsWith("warm.json: apps.kc.health.successes: ")).toBe(true)
    expect(error.message).not.toContain("\n")
    // The message says what is wrong, not only where.
    expect(error.message).toMatch(/between 1 and 100/)
  })

  it("defaults the source to \"config\"", () => {
    const result = decodeConfig({})
    expect(Either.isLeft(result) && result.left.source).toBe("config")
  })
})

describe("Config.stackName and appSpec", () => {
  it("replaces dots with underscores, as abra does", () => {
    expect(stackName("id.example.org")).toBe("id_example_org")
    expect(stackName("localhost")).toBe("localhost")
  })

  it("cuts the stack name to 45 characters", () => {
    const domain = "a-very-long-subdomain-name.for-a-service.example.org"
    expect(stackName(domain)).toBe(domain.replaceAll(".", "_").slice(0, 45))
    expect(stackName(domain)).toHaveLength(45)
    expect(stackName("x".repeat(45))).toBe("x".repeat(45))
  })

  it("appSpec carries the app's config, its name and its stack", () => {
    const config = decoded({ apps: { kc: { ...minimal, upgrade: "patch" } } })
    const spec = appSpec("kc" as AppName, config.apps["kc" as AppName]!)
    expect(spec).toMatchObject({ name: "kc", stack: "id_example_org", recipe: "keycloak", upgrade: "patch" })
    expect(millis(spec.health.timeout)).toBe(15 * 60_000)
  })

  it("appSpecs lists one spec per app", () => {
    const config = decoded({ apps: { kc: minimal, n8n: { recipe: "n8n", domain: "n8n.example.org" } } })
    const specs = appSpecs(config)
    expect(specs.map((s) => [s.name, s.stack]).sort()).toEqual([["kc", "id_example_org"], ["n8n", "n8n_example_org"]])
  })
})

describe("verifiesTls", () => {
  it("verifies a target off this host unless told not to; never the original's loopback proxy unless told to", () => {
    const health = (h: { verifyTls?: boolean | null; url?: string | null; connect?: string }) =>
      HealthConfig.make({ ...h })
    expect(verifiesTls(health({}))).toBe(false)
    expect(verifiesTls(health({ connect: "127.0.0.2:8443" }))).toBe(false)
    expect(verifiesTls(health({ connect: "[::1]:443" }))).toBe(false)
    expect(verifiesTls(health({ connect: "localhost:443" }))).toBe(false)
    expect(verifiesTls(health({ connect: "10.0.0.5:443" }))).toBe(true)
    expect(verifiesTls(health({ connect: "proxy.example.org:443" }))).toBe(true)
    expect(verifiesTls(health({ url: "https://id.example.org/health" }))).toBe(true)
    expect(verifiesTls(health({ url: "https://127.0.0.1:8443/health" }))).toBe(false)
    expect(verifiesTls(health({ url: "https://id.example.org/health", verifyTls: false }))).toBe(false)
    expect(verifiesTls(health({ verifyTls: true }))).toBe(true)
  })
})

describe("defaults, recipes and enabled (issue 13)", () => {
  it("an app inherits defaults, then its recipe's, then its own keys; health merged key by key", () => {
    const config = decoded({
      defaults: { upgrade: "patch", deployTimeout: "20 minutes", health: { connect: "127.0.0.1:8443", successes: 3 } },
      recipes: { keycloak: { health: { path: "/realms/master" }, stateful: false } },
      apps: {
        kc: { ...minimal, health: { successes: 5 } },
        nc: { recipe: "nextcloud", domain: "cloud.example.org", upgrade: "minor" }
      }
    })
    const kc = config.apps["kc" as AppName]!
    expect(kc).toMatchObject({ upgrade: "patch", stateful: false, enabled: true })
    expect(kc.health).toMatchObject({ path: "/realms/master", connect: "127.0.0.1:8443", successes: 5 })
    expect(millis(kc.deployTimeout)).toBe(20 * 60_000)
    const nc = config.apps["nc" as AppName]!
    // Not keycloak: no recipe defaults, and the app's own upgrade wins over the defaults'.
    expect(nc).toMatchObject({ upgrade: "minor", stateful: true })
    expect(nc.health).toMatchObject({ path: "/", connect: "127.0.0.1:8443", successes: 3 })
  })

  it("a bad inherited value or key is refused where it is written, with the closest expected key", () => {
    expect(refused({ defaults: { health: { timeout: "forever" } }, apps: {} }).path).toBe("defaults.health.timeout")
    expect(refused({ defaults: { recipe: "keycloak" }, apps: {} }).path).toBe("defaults.recipe")
    const typo = refused({ recipes: { keycloak: { stateFul: false } }, apps: { kc: minimal } })
    expect(typo.path).toBe("recipes.keycloak.stateFul")
    expect(typo.message).toContain("stateful")
    expect(refused({ recipes: { "Key Cloak": {} }, apps: {} }).path).toBe("recipes.Key Cloak")
  })

  it("enabled defaults to true; false is kept (the app is paused), also when inherited", () => {
    expect(decoded(withApp({})).apps["kc" as AppName]!.enabled).toBe(true)
    expect(decoded(withApp({ enabled: false })).apps["kc" as AppName]!.enabled).toBe(false)
    const all = decoded({ defaults: { enabled: false }, apps: { kc: minimal, on: { ...minimal, enabled: true } } })
    expect(all.apps["kc" as AppName]!.enabled).toBe(false)
    expect(all.apps["on" as AppName]!.enabled).toBe(true)
  })

  it("a listed app keeps the values it always had: built-in recipe defaults are only for discovered apps", () => {
    expect(decoded({ apps: { kc: minimal } }).apps["kc" as AppName]!.health.path).toBe("/")
    const config = decoded({ defaults: { upgrade: "patch" }, recipes: { nextcloud: { stateful: false } }, apps: {} })
    const kc = Either.getOrThrow(inheritedApp(config, { recipe: "keycloak", domain: "id.example.org", server: "s" }))
    expect(kc).toMatchObject({ server: "s", upgrade: "patch", health: { path: "/realms/master" } })
    const nc = Either.getOrThrow(inheritedApp(config, { recipe: "nextcloud", domain: "c.example.org", server: "s" }))
    expect(nc).toMatchObject({ stateful: false, health: { path: "/status.php" } })
    // The config's recipes block overrides the built-in value.
    const own = decoded({ recipes: { keycloak: { health: { path: "/health/ready" } } }, apps: {} })
    const kc2 = Either.getOrThrow(inheritedApp(own, { recipe: "keycloak", domain: "id.example.org", server: "s" }))
    expect(kc2.health.path).toBe("/health/ready")
  })
})

describe("a config an operator can check (issue 13, item 7)", () => {
  it("durations also accept the short forms systemd and Go write", () => {
    const cases: ReadonlyArray<readonly [string, number]> = [
      ["15m", 900_000],
      ["1h30m", 5_400_000],
      ["90s", 90_000],
      ["500ms", 500],
      ["1.5h", 5_400_000],
      ["2d", 172_800_000],
      ["1d12h", 129_600_000]
    ]
    for (const [input, expected] of cases) {
      expect(millis(decoded(withApp({ deployTimeout: input })).apps["kc" as AppName]!.deployTimeout), input)
        .toBe(expected)
    }
    for (const input of ["15", "m", "1x", "15 m", "-15m", "1h 30m"]) {
      expect(refused(withApp({ deployTimeout: input })).path, input).toBe("apps.kc.deployTimeout")
    }
  })

  it("an unexpected key names the closest expected one", () => {
    expect(refused(withApp({ stateFul: false })).message).toMatch(/; did you mean "stateful"\?$/)
    expect(refused({ statedir: "/x", apps: {} }).message).toMatch(/; did you mean "stateDir"\?$/)
    expect(refused(withApp({ health: { okstatus: [200] } })).message).toMatch(/did you mean "okStatus"\?$/)
    // Nothing close: no guess.
    expect(refused(withApp({ zzzzzzzz: 1 })).message).not.toContain("did you mean")
  })
})
