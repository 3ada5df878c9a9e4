/**
 * Which apps a run manages (issue 13): every app listed in the config, then, with `discover`, every
 * app abra knows whose env file opts in with `ENABLE_AUTO_UPDATE=true` (kadabra's convention). A
 * listed app wins over one found on the same server at the same domain. Pure: the env files are
 * read by the Apps service.
 */
import { Either, Option, Schema } from "effect"
import { AppName, type AppSpec, appSpec, appSpecs, type Config, inheritedApp } from "./Config.js"

/** An env file found under `<abraDir>/servers/<server>/`. */
export interface FoundApp {
  readonly server: string
  readonly domain: string
  /** `RECIPE=` or `TYPE=` (none: the file names no recipe). */
  readonly recipe: Option.Option<string>
  /** `ENABLE_AUTO_UPDATE=true`. */
  readonly autoUpdate: boolean
  /** The env file could not be read or parsed: why (whether it opts in is unknown). */
  readonly unreadable?: string
}

export interface Managed {
  /** Listed apps in the config's order, then the opted-in ones by server and domain. */
  readonly apps: ReadonlyArray<AppSpec>
  /** Opted-in apps that cannot be managed, one line each saying why and what to do. */
  readonly problems: ReadonlyArray<string>
}

/** Whether discovery looks at `server`: its own `servers.<server>.discover`, else the top-level `discover`. */
export const discovers = (config: Config, server: string): boolean =>
  (config.servers !== undefined && Object.hasOwn(config.servers, server)
    ? config.servers[server]!.discover
    : undefined) ?? config.discover

/** Whether discovery is on for any server: only then are abra's env files listed. */
export const discoveryOn = (config: Config): boolean =>
  config.discover || Object.values(config.servers ?? {}).some((s) => s.discover === true)

const isAppName = Schema.is(AppName)

export const managedApps = (config: Config, found: ReadonlyArray<FoundApp>): Managed => {
  const listed = appSpecs(config).map((app): AppSpec => ({ ...app, managedBy: "listed" }))
  const listedAt = new Set(listed.map((a) => `${a.server}/${a.domain}`))
  const names = new Set<string>(listed.map((a) => a.name))
  const problems: Array<string> = []
  const opted: Array<AppSpec> = []
  const sorted = [...found].sort((a, b) => `${a.server}/${a.domain}`.localeCompare(`${b.server}/${b.domain}`))
  for (const f of sorted) {
    if (f.unreadable !== undefined && discovers(config, f.server)) {
      problems.push(`${f.domain} on server ${f.server}: not discovered: ${f.unreadable}`)
      continue
    }
    if (!f.autoUpdate || !discovers(config, f.server) || listedAt.has(`${f.server}/${f.domain}`)) continue
    const where = `${f.domain} on server ${f.server}`
    if (Option.isNone(f.recipe)) {
      problems.push(`${where} opts in (ENABLE_AUTO_UPDATE=true) but its env file names no recipe (RECIPE= or TYPE=)`)
      continue
    }
    // The domain is the app's name here: its directory under stateDir.
    if (!isAppName(f.domain) || names.has(f.domain)) {
      problems.push(
        `${where} opts in but its name ${f.domain} is ${
          names.has(f.domain) ? "already an app's" : "not a valid app name"
        }: list it in the config's apps under another name`
      )
      continue
    }
    const decoded = inheritedApp(config, { recipe: f.recipe.value, domain: f.domain, server: f.server })
    if (Either.isLeft(decoded)) {
      problems.push(`${where} opts in but cannot be managed: ${decoded.left.message}`)
      continue
    }
    names.add(f.domain)
    opted.push({ ...appSpec(f.domain, decoded.right), managedBy: "opted-in" })
  }
  return { apps: [...listed, ...opted], problems }
}

/** Why an app is managed, as plan, status and reconcile --all print it. */
export const why = (app: AppSpec): string =>
  app.managedBy === "opted-in" ? "opted in (ENABLE_AUTO_UPDATE=true)" : "listed"
