/** Which apps a run manages (issue 13): listed ones, then with `discover` the opted-in ones. */
import { describe, expect, it } from "@effect/vitest"
import { Either, Option } from "effect"
import { type Config, decodeConfig } from "../../src/domain/Config.js"
import { discovers, type FoundApp, managedApps, why } from "../../src/domain/Discovery.js"

const config = (input: Record<string, unknown>): Config => Either.getOrThrow(decodeConfig({ apps: {}, ...input }))
const found = (domain: string, more: Partial<FoundApp> = {}): FoundApp => ({
  server: "default",
  domain,
  recipe: Option.some("keycloak"),
  autoUpdate: true,
  ...more
})

describe("managedApps", () => {
  const env = [
    found("id.example.org"),
    found("cloud.example.org", { recipe: Option.some("nextcloud") }),
    found("wiki.example.org", { autoUpdate: false }),
    found("far.example.org", { server: "remote" })
  ]

  it("without discover: only the listed apps, whatever the env files say", () => {
    const managed = managedApps(config({ apps: { kc: { recipe: "keycloak", domain: "kc.example.org" } } }), env)
    expect(managed.apps.map((a) => [a.name, why(a)])).toEqual([["kc", "listed"]])
    expect(managed.problems).toEqual([])
  })

  it("discover: every opted-in app, named by its domain, with recipe defaults; the others are not touched", () => {
    const managed = managedApps(config({ discover: true, defaults: { upgrade: "patch" } }), env)
    expect(managed.apps.map((a) => a.name)).toEqual(["cloud.example.org", "id.example.org", "far.example.org"])
    expect(managed.apps.every((a) => a.managedBy === "opted-in" && a.upgrade === "patch")).toBe(true)
    expect(managed.apps.map((a) => a.health.path)).toEqual(["/status.php", "/realms/master", "/realms/master"])
    expect(why(managed.apps[0]!)).toBe("opted in (ENABLE_AUTO_UPDATE=true)")
  })

  it("a listed app overrides the one discovery finds at the same server and domain", () => {
    const managed = managedApps(
      config({ discover: true, apps: { kc: { recipe: "keycloak", domain: "id.example.org", upgrade: "none" } } }),
      env
    )
    expect(managed.apps.map((a) => a.name)).toEqual(["kc", "cloud.example.org", "far.example.org"])
    expect(managed.apps[0]).toMatchObject({ managedBy: "listed", upgrade: "none" })
  })

  it("per server: servers.<name>.discover decides over the top level", () => {
    const only = config({ servers: { remote: { discover: true } } })
    expect(discovers(only, "remote")).toBe(true)
    expect(discovers(only, "default")).toBe(false)
    expect(managedApps(only, env).apps.map((a) => a.name)).toEqual(["far.example.org"])
    const notRemote = config({ discover: true, servers: { remote: { discover: false } } })
    expect(managedApps(notRemote, env).apps.map((a) => a.name)).toEqual(["cloud.example.org", "id.example.org"])
  })

  it("an opted-in app without a recipe, with a taken name or an unreadable env file is a problem, not managed", () => {
    const managed = managedApps(
      config({ discover: true, apps: { "id.example.org": { recipe: "keycloak", domain: "other.example.org" } } }),
      [
        found("id.example.org"),
        found("norecipe.example.org", { recipe: Option.none() }),
        found("broken.example.org", { autoUpdate: false, unreadable: "line 3: not KEY=value" })
      ]
    )
    expect(managed.apps.map((a) => a.name)).toEqual(["id.example.org"])
    expect(managed.apps[0]!.domain).toBe("other.example.org")
    expect(managed.problems).toHaveLength(3)
    expect(managed.problems.join("\n")).toMatch(/broken\.example\.org.*line 3/)
    expect(managed.problems.join("\n")).toMatch(/norecipe\.example\.org.*names no recipe/)
    expect(managed.problems.join("\n")).toMatch(/id\.example\.org.*already an app's/)
  })
})
