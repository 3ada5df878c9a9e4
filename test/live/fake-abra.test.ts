/**
 * The fake `abra` that the live layers' tests drive: each behaviour the abra contract names,
 * through the same PATH lookup the live layers use.
 */
import { afterEach, beforeEach, describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import type { AbraResult, AbraWorld } from "../support/fakeAbra.js"
import { defaultEnvSample, git, makeAbraWorld, makeRecipeRepo, runAbra, spawnAbra } from "../support/fakeAbra.js"

const domain = "id.example.org"
const v1 = "1.0.0+1.0"
const v2 = "1.1.0+1.1"
const v3 = "1.2.0+1.2"
// Each version's sample differs, so a copy taken at the wrong version shows.
const sampleAt = (tag: string) => defaultEnvSample("keycloak") + `RELEASED_AS=${tag}\n`

const succeeded = (r: AbraResult) => {
  expect(r.stderr).not.toContain("FATA")
  expect(r.code).toBe(0)
}
const failed = (r: AbraResult, reason: string) => {
  expect(r.code).toBe(1)
  expect(r.stderr).toContain(`FATA ${reason}`)
}

let world: AbraWorld
const abra = (...args: Array<string>) => runAbra(world, args)

beforeEach(() => {
  world = makeAbraWorld()
  makeRecipeRepo(world.recipesSource, "keycloak", [v1, v2, v3].map((tag) => ({ tag, envSample: sampleAt(tag) })))
})
afterEach(() => world.cleanup())

/**
 * A local server, the keycloak recipe cloned, and the app created at `version`. The first two
 * are made directly (their commands have their own tests): each abra call costs a node start.
 */
const withApp = (version = v1) => {
  fs.mkdirSync(path.join(world.abraDir, "servers", "default"), { recursive: true })
  fs.mkdirSync(path.join(world.abraDir, "recipes"), { recursive: true })
  git(world.abraDir, ["clone", "--quiet", path.join(world.recipesSource, "keycloak"), "recipes/keycloak"])
  succeeded(abra("app", "new", "keycloak", version, "-s", "default", "-D", domain, "-o", "-n"))
  return world.envFile(domain)
}

describe("fake abra: servers and calls.jsonl", () => {
  it("lists no servers, adds the local one, lists it, and records every call", () => {
    const empty = abra("server", "ls", "-m", "-n")
    succeeded(empty)
    expect(JSON.parse(empty.stdout)).toEqual([])
    succeeded(abra("server", "add", "--local", "-n"))
    expect(fs.statSync(path.join(world.abraDir, "servers", "default")).isDirectory()).toBe(true)
    const one = abra("server", "ls", "-m")
    succeeded(one)
    expect(JSON.parse(one.stdout)).toEqual([{ name: "default", host: "local" }])
    failed(abra("server", "rm", "default"), "unknown command")

    const calls = world.readCalls()
    expect(calls.map((c) => [c.argv, c.exitCode])).toEqual([
      [["server", "ls", "-m", "-n"], 0],
      [["server", "add", "--local", "-n"], 0],
      [["server", "ls", "-m"], 0],
      [["server", "rm", "default"], 1]
    ])
    for (const call of calls) expect(call.endedAt).toBeGreaterThanOrEqual(call.at)
  })

  it("refuses unknown commands and flags", () => {
    failed(abra("app", "frobnicate", domain, "-n"), "unknown command")
    failed(abra("app", "deploy", domain, "-n", "--bogus"), "unknown command flag --bogus")
  })

  it("refuses every command that changes something when -n is missing, before doing anything", () => {
    const attempts = [
      ["server", "add", "--local"],
      ["recipe", "fetch", "keycloak"],
      ["app", "new", "keycloak", v1, "-s", "default", "-D", domain, "-o"],
      ["app", "deploy", domain, v1, "-o", "-f"],
      ["app", "undeploy", domain],
      ["app", "secret", "generate", domain, "--all"]
    ]
    for (const args of attempts) {
      const r = abra(...args)
      expect(r.code).toBe(1)
      expect(r.stderr).toMatch(/^FATA "abra [a-z ]+" would prompt for input: pass -n/m)
    }
    expect(fs.existsSync(path.join(world.abraDir, "servers"))).toBe(false)
    expect(fs.existsSync(path.join(world.abraDir, "recipes"))).toBe(false)
    expect(world.readState()).toEqual({ deployed: {}, secrets: {} })
  })
})

describe("fake abra: recipe fetch", () => {
  it("clones from FAKE_ABRA_RECIPES, then fetches new and moved tags; an unknown recipe is fatal", () => {
    failed(abra("recipe", "fetch", "nope", "-n"), "unable to fetch recipe nope")
    expect(fs.existsSync(path.join(world.abraDir, "recipes", "nope"))).toBe(false)

    succeeded(abra("recipe", "fetch", "keycloak", "-n"))
    const clone = path.join(world.abraDir, "recipes", "keycloak")
    const tags = () => git(clone, ["tag", "-l"]).split("\n").filter((t) => t.length > 0).sort()
    expect(tags()).toEqual([v1, v2, v3])

    // A new version, and a tag moved to another commit (only --force brings that one over).
    const source = makeRecipeRepo(world.recipesSource, "keycloak", [{ tag: "1.3.0+1.3" }])
    git(source, ["tag", "-f", "-a", v1, "-m", "retagged", "HEAD"])
    succeeded(abra("recipe", "fetch", "keycloak", "-n"))
    expect(tags()).toEqual([v1, v2, v3, "1.3.0+1.3"])
    const commitOf = (repo: string) => git(repo, ["rev-parse", `${v1}^{commit}`]).trim()
    expect(commitOf(clone)).toBe(commitOf(source))
  })
})

describe("fake abra: app new", () => {
  it("copies .env.sample as of the version, with the domain and a pinned TYPE line, once", () => {
    const envFile = withApp(v2)
    const written = fs.readFileSync(envFile, "utf8").split("\n")
    const sample = sampleAt(v2).split("\n")
    expect(written).toHaveLength(sample.length)
    expect(written[0]).toBe(`TYPE=keycloak:${v2}`)
    expect(written).toContain(`RELEASED_AS=${v2}`)
    expect(written).toContain(`DOMAIN=${domain}`)
    expect(written).toContain(`#EXTRA_DOMAINS=', \`www.${domain}\`'`)
    expect(written).toContain("SECRET_ADMIN_PASSWORD_VERSION=v1 # length=32")
    // Every other line: the sample's, with only the domain replaced.
    for (let i = 1; i < sample.length; i++) {
      expect(written[i]).toBe(sample[i]!.split("keycloak.example.com").join(domain))
    }

    const before = fs.readFileSync(envFile, "utf8")
    failed(
      abra("app", "new", "keycloak", v1, "-s", "default", "-D", domain, "-o", "-n"),
      `${domain}.env already exists`
    )
    expect(fs.readFileSync(envFile, "utf8")).toBe(before)

    failed(
      abra("app", "new", "keycloak", v1, "-s", "elsewhere", "-D", "other.example.org", "-o", "-n"),
      "server elsewhere"
    )
    expect(fs.existsSync(world.envFile("other.example.org", "elsewhere"))).toBe(false)
    failed(
      abra("app", "new", "keycloak", "9.9.9+9", "-s", "default", "-D", "x.example.org", "-o", "-n"),
      "9.9.9+9 is not a published version"
    )
  })

  it("pins a RECIPE= line, keeping its comment and CRLF, and takes the work tree when no version is given", () => {
    const sample = "# custom html\r\nRECIPE=custom-html # the recipe\r\nDOMAIN=custom-html.example.com\r\n"
    makeRecipeRepo(world.recipesSource, "custom-html", [{ tag: "1.0.0+1.0" }, { tag: "1.1.0+1.1", envSample: sample }])
    succeeded(abra("server", "add", "--local", "-n"))
    succeeded(abra("recipe", "fetch", "custom-html", "-n"))
    succeeded(abra("app", "new", "custom-html", "-s", "default", "-D", "site.example.org", "-o", "-n"))
    expect(fs.readFileSync(world.envFile("site.example.org"), "utf8")).toBe(
      "# custom html\r\nRECIPE=custom-html:1.1.0+1.1 # the recipe\r\nDOMAIN=site.example.org\r\n"
    )
  })
})

describe("fake abra: deploy and undeploy", () => {
  it("deploys the pinned version, refuses a redeploy without -f and unknown versions, pins on -f", () => {
    const envFile = withApp(v1)
    // Lines abra must leave alone, including one it did not write.
    fs.appendFileSync(envFile, "EXTRA='single $quoted' # keep me\n")
    const before = fs.readFileSync(envFile, "utf8")

    const start = Date.now()
    succeeded(abra("app", "deploy", domain, "-o", "-n"))
    const first = world.readState().deployed[domain]
    expect(first?.version).toBe(v1)
    expect(first?.at).toBeGreaterThanOrEqual(start)
    expect(first?.at).toBeLessThanOrEqual(Date.now())
    expect(fs.readFileSync(envFile, "utf8")).toBe(before)

    failed(abra("app", "deploy", domain, v2, "-o", "-n"), `${domain} is already deployed`)
    failed(abra("app", "deploy", domain, "9.9.9+9", "-o", "-n", "-f"), "9.9.9+9 is not a published version")
    failed(abra("app", "deploy", "ghost.example.org", v1, "-o", "-n", "-f"), "unable to find app ghost.example.org")
    expect(world.readState().deployed[domain]).toEqual(first)
    expect(fs.readFileSync(envFile, "utf8")).toBe(before)

    succeeded(abra("app", "deploy", domain, v2, "-o", "-n", "-f", "-c"))
    expect(world.readState().deployed[domain]?.version).toBe(v2)
    const beforeLines = before.split("\n")
    const afterLines = fs.readFileSync(envFile, "utf8").split("\n")
    expect(afterLines[0]).toBe(`TYPE=keycloak:${v2}`)
    expect(afterLines.slice(1)).toEqual(beforeLines.slice(1))

    const ls = abra("app", "ls", "-m")
    succeeded(ls)
    expect(JSON.parse(ls.stdout).default.apps).toEqual([{
      server: "default",
      recipe: "keycloak",
      appName: domain,
      domain,
      status: "deployed",
      chaos: "false",
      chaosVersion: "unknown",
      version: v2,
      upgrade: v3
    }])
  })

  it("undeploys a deployed app and says when it is not deployed", () => {
    withApp()
    failed(abra("app", "undeploy", domain, "-n"), `${domain} is not deployed?`)
    succeeded(abra("app", "deploy", domain, "-o", "-n"))
    expect(Object.keys(world.readState().deployed)).toEqual([domain])
    succeeded(abra("app", "undeploy", domain, "-n"))
    expect(world.readState().deployed).toEqual({})
    failed(abra("app", "undeploy", domain, "-n"), `${domain} is not deployed?`)
  })
})

describe("fake abra: secrets", () => {
  it("generates each declared secret once and fails as abra does when some already exist", () => {
    const envFile = withApp()
    fs.appendFileSync(
      envFile,
      "SECRET_DB_PASSWORD_VERSION=v2\nSECRET_SMTP_PASSWORD_VERSION=v1 # generate=false\n"
    )
    succeeded(abra("app", "secret", "generate", domain, "--all", "-n"))
    const generated = ["admin_password_v1", "db_password_v2"]
    expect(world.readState().secrets[domain]).toEqual(generated)

    // Nothing missing: nothing to do.
    succeeded(abra("app", "secret", "generate", domain, "--all", "-n"))
    expect(world.readState().secrets[domain]).toEqual(generated)

    // A new secret version next to existing ones: abra trips over the existing one.
    fs.writeFileSync(
      envFile,
      fs.readFileSync(envFile, "utf8").replace("SECRET_DB_PASSWORD_VERSION=v2", "SECRET_DB_PASSWORD_VERSION=v3")
    )
    failed(
      abra("app", "secret", "generate", domain, "--all", "-n"),
      "secret not generated: admin_password already exists"
    )
    expect(world.readState().secrets[domain]).toEqual(generated)
  })
})

describe("fake abra: knobs", () => {
  it("FAKE_ABRA_FAIL fails only the matching call, with a fatal error and no state change", () => {
    const envFile = withApp()
    const before = fs.readFileSync(envFile, "utf8")
    const fail = { FAKE_ABRA_FAIL: `fetch,deploy:${v3}` }

    const r = runAbra(world, ["app", "deploy", domain, v3, "-o", "-n"], fail)
    failed(r, "deploy failed: converge timeout: services did not settle")
    expect(world.readState().deployed).toEqual({})
    expect(fs.readFileSync(envFile, "utf8")).toBe(before)

    failed(runAbra(world, ["recipe", "fetch", "keycloak", "-n"], fail), "unable to fetch recipe keycloak")
    // Another version is not named by the knob.
    succeeded(runAbra(world, ["app", "deploy", domain, v2, "-o", "-n"], fail))
    expect(world.readState().deployed[domain]?.version).toBe(v2)
  })

  it("FAKE_ABRA_DEPLOY_DELAY_MS holds the deploy back", () => {
    withApp()
    const start = Date.now()
    succeeded(runAbra(world, ["app", "deploy", domain, "-o", "-n"], { FAKE_ABRA_DEPLOY_DELAY_MS: "400" }))
    expect(world.readState().deployed[domain]!.at - start).toBeGreaterThanOrEqual(400)
  })

  it("FAKE_ABRA_HANG ignores SIGTERM until SIGKILL, and the call is recorded", async () => {
    withApp()
    const child = spawnAbra(world, ["app", "deploy", domain, v2, "-o", "-n"], { FAKE_ABRA_HANG: `deploy:${v2}` })
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.once("exit", (_code, signal) => resolve(signal))
    )
    try {
      // The fake says it hangs only once its SIGTERM handler is installed.
      await new Promise<void>((resolve, reject) => {
        let stderr = ""
        child.stderr!.on("data", (chunk: Buffer) => {
          stderr += chunk.toString()
          if (stderr.includes("hanging")) resolve()
        })
        child.once("exit", () => reject(new Error(`fake abra exited instead of hanging: ${stderr}`)))
      })
      child.kill("SIGTERM")
      await new Promise((resolve) => setTimeout(resolve, 300))
      expect(child.exitCode).toBeNull()
      expect(child.signalCode).toBeNull()
    } finally {
      child.kill("SIGKILL")
    }
    expect(await exited).toBe("SIGKILL")
    expect(world.readState().deployed).toEqual({})
    expect(world.readCalls().at(-1)).toMatchObject({ argv: ["app", "deploy", domain, v2, "-o", "-n"], exitCode: null })
  })
})
