/**
 * A fake Docker Engine API on a unix socket in a temp dir: the list endpoints the reconciler
 * reads (`/services`, `/volumes`, `/secrets`, `/tasks`, versioned or not) and
 * `/containers/{id}/json` (a container's health), with the engine's
 * `filters` validation and `{"message": ...}` errors. State is set by the test and, when an
 * `abraDir` is given, also derived from the fake abra's state file, reread on every request.
 */
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as FsP from "node:fs/promises"
import * as Http from "node:http"
import * as Os from "node:os"
import * as Path from "node:path"

export const stackLabel = "com.docker.stack.namespace"

export interface FakeService {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  /** The task template's image; `example:1` by default. */
  readonly image?: string
  /** Replicated with this many replicas (default 1). */
  readonly replicas?: number
  /** Swarm's `UpdateStatus`; absent: never updated. */
  readonly update?: { readonly state: string; readonly startedAt: number; readonly message?: string }
}
/** A container `/containers/{id}/json` answers for; `health` absent: no healthcheck. */
export interface FakeContainer {
  readonly id: string
  readonly health?: "starting" | "healthy" | "unhealthy"
  /** The output of the healthcheck's last run. */
  readonly lastLog?: string
}
export interface FakeVolume {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly mountpoint: string
  /** `local` by default. */
  readonly driver?: string
  /** The driver's options (`{type: "none", o: "bind", device: "/srv/data"}` for a bind); none by default. */
  readonly options?: Readonly<Record<string, string>>
}
export interface FakeSecret {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
}
export interface FakeTask {
  /** The service's name. */
  readonly service: string
  readonly state: string
  /** Epoch milliseconds; served as RFC 3339 with nanoseconds, as the engine does. */
  readonly createdAt: number
  readonly exitCode?: number
  readonly err?: string
  /** The image of the spec the task was created for; its service's by default. */
  readonly image?: string
  /** The container of a running task. */
  readonly containerId?: string
}

export interface FakeEngineState {
  /** `/info`'s DockerRootDir: `/` by default, so that a test's volumes in a temp dir are inside it. */
  dataRoot: string
  services: Array<FakeService>
  volumes: Array<FakeVolume>
  secrets: Array<FakeSecret>
  tasks: Array<FakeTask>
  containers: Array<FakeContainer>
}

export interface RecordedEngineRequest {
  readonly method: string
  /** The path without the `/v1.xx` prefix or the query, e.g. `/services`. */
  readonly path: string
  /** The API version of the path, e.g. `1.41`; undefined for an unversioned path. */
  readonly version: string | undefined
  /** The decoded `filters` parameter, undefined when absent or invalid. */
  readonly filters: Record<string, Array<string>> | undefined
}

export interface Override {
  readonly status: number
  /** Sent as is when a string, as JSON otherwise. */
  readonly body: unknown
  /** Milliseconds to wait before answering. */
  readonly delay?: number
}

export interface FakeEngine {
  readonly socket: string
  /** Mutable: tests set services, volumes, secrets and tasks here. */
  readonly state: FakeEngineState
  readonly requests: ReadonlyArray<RecordedEngineRequest>
  /** Answer every request to `path` (unversioned, e.g. `/services`) with this instead. */
  readonly override: (path: string, answer: Override) => void
  readonly clearOverrides: () => void
}

export interface FakeEngineOptions {
  /** Derive deployed services and secrets from `<abraDir>/.fake-abra/state.json`. */
  readonly abraDir?: string
  readonly state?: Partial<FakeEngineState>
}

/** Stack name as abra makes it from a domain. */
export const stackOf = (domain: string): string => domain.replaceAll(".", "_").slice(0, 45)

/** A volume of `stack`, labelled as `docker stack deploy` labels it. */
export const stackVolume = (stack: string, volume: string, mountpoint?: string): FakeVolume => ({
  name: `${stack}_${volume}`,
  labels: { [stackLabel]: stack },
  mountpoint: mountpoint ?? `/var/lib/docker/volumes/${stack}_${volume}/_data`
})

/** The `<stack>_app` service with abra's version label. */
export const appService = (stack: string, version?: string): FakeService => ({
  name: `${stack}_app`,
  labels: version === undefined
    ? { [stackLabel]: stack }
    : { [stackLabel]: stack, [`coop-cloud.${stack}.version`]: version }
})

interface AbraState {
  readonly deployed?: Record<string, { readonly version: string; readonly at?: number; readonly chaosVersion?: string }>
  readonly secrets?: Record<string, ReadonlyArray<string>>
}

const readAbraState = (abraDir: string): AbraState => {
  try {
    return JSON.parse(Fs.readFileSync(Path.join(abraDir, ".fake-abra", "state.json"), "utf8")) as AbraState
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return {}
    throw error
  }
}

const fromAbra = (abraDir: string): Pick<FakeEngineState, "services" | "secrets" | "tasks"> => {
  const abra = readAbraState(abraDir)
  const services = Object.entries(abra.deployed ?? {}).map(([domain, d]) => {
    const service = appService(stackOf(domain), d.version)
    const stack = stackOf(domain)
    // A chaos deploy (`abra app deploy -C`) carries abra's chaos labels.
    return d.chaosVersion === undefined ? service : {
      ...service,
      labels: {
        ...service.labels,
        [`coop-cloud.${stack}.chaos`]: "true",
        [`coop-cloud.${stack}.chaos-version`]: d.chaosVersion
      }
    }
  })
  const secrets = Object.entries(abra.secrets ?? {}).flatMap(([domain, names]) => {
    const stack = stackOf(domain)
    return names.map((name) => ({ name: `${stack}_${name}`, labels: { [stackLabel]: stack } }))
  })
  // As Swarm: a deployed service runs one task, created by the deploy for its current spec.
  const tasks = Object.entries(abra.deployed ?? {}).map(([domain, d]): FakeTask => ({
    service: `${stackOf(domain)}_app`,
    state: "running",
    createdAt: d.at ?? 0
  }))
  return { services, secrets, tasks }
}

class EngineError extends Error {
  constructor(readonly status: number, message: string) {
    super(message)
  }
}

/** The engine's filter keys per endpoint (an unknown key is a 400, as in dockerd). */
const acceptedFilters: Record<string, ReadonlyArray<string>> = {
  "/services": ["id", "label", "mode", "name"],
  "/volumes": ["dangling", "driver", "label", "name"],
  "/secrets": ["id", "label", "name", "names"],
  "/tasks": ["desired-state", "id", "label", "name", "node", "service"],
  "/nodes": ["id", "label", "membership", "name", "node.label", "role"]
}

/** Parse `filters` as dockerd does: `{"key": ["v", ...]}` or the legacy `{"key": {"v": true}}`. */
const parseFilters = (raw: string | null, path: string): Record<string, Array<string>> => {
  if (raw === null || raw === "") return {}
  let json: unknown
  try {
    json = JSON.parse(raw)
  } catch (error) {
    throw new EngineError(400, `invalid filter: ${(error as Error).message}`)
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new EngineError(400, "invalid filter: expected a JSON object")
  }
  const filters: Record<string, Array<string>> = {}
  for (const [key, value] of Object.entries(json)) {
    if (!(acceptedFilters[path] ?? []).includes(key)) throw new EngineError(400, `invalid filter '${key}'`)
    if (Array.isArray(value) && value.every((v) => typeof v === "string")) {
      filters[key] = value
    } else if (typeof value === "object" && value !== null && Object.values(value).every((v) => v === true)) {
      filters[key] = Object.keys(value)
    } else {
      throw new EngineError(400, `invalid filter: the values of '${key}' must be a list of strings`)
    }
  }
  return filters
}

/** Every `label` filter must match: `key` (present) or `key=value`. */
const matchesLabels = (labels: Readonly<Record<string, string>>, wanted: ReadonlyArray<string> = []) =>
  wanted.every((w) => {
    const i = w.indexOf("=")
    return i === -1 ? w in labels : labels[w.slice(0, i)] === w.slice(i + 1)
  })

const matchesNames = (name: string, wanted: ReadonlyArray<string> | undefined) =>
  wanted === undefined || wanted.some((w) => name.includes(w))

const template = (image: string | undefined) => ({
  ContainerSpec: { Image: image ?? "example:1" },
  ForceUpdate: 0
})

/** Go prints RFC 3339 timestamps with nanoseconds. */
const goTime = (ms: number) => new Date(ms).toISOString().replace(/Z$/, "456789Z")

const answer = (state: FakeEngineState, path: string, filters: Record<string, Array<string>>): unknown => {
  switch (path) {
    case "/services":
      return state.services
        .filter((s) => matchesLabels(s.labels, filters.label) && matchesNames(s.name, filters.name))
        .map((s) => ({
          ID: `id-${s.name}`,
          Version: { Index: 1 },
          CreatedAt: goTime(0),
          Spec: {
            Name: s.name,
            Labels: s.labels,
            TaskTemplate: template(s.image),
            Mode: { Replicated: { Replicas: s.replicas ?? 1 } }
          },
          ...(s.update === undefined ? {} : {
            UpdateStatus: {
              State: s.update.state,
              StartedAt: goTime(s.update.startedAt),
              ...(s.update.message === undefined ? {} : { Message: s.update.message })
            }
          })
        }))
    // One ready manager: the docker CLI lists the nodes to count a service's replicas.
    case "/nodes":
      return [{ ID: "node1", Spec: { Availability: "active", Role: "manager" }, Status: { State: "ready" } }]
    case "/info":
      return { DockerRootDir: state.dataRoot, ServerVersion: "fake" }
    case "/volumes":
      return {
        Volumes: state.volumes
          .filter((v) => matchesLabels(v.labels, filters.label) && matchesNames(v.name, filters.name))
          .map((v) => ({
            Name: v.name,
            Driver: v.driver ?? "local",
            Mountpoint: v.mountpoint,
            Labels: v.labels,
            Scope: "local",
            Options: v.options ?? null
          })),
        Warnings: null
      }
    case "/secrets":
      return state.secrets
        .filter((s) => matchesLabels(s.labels, filters.label) && matchesNames(s.name, filters.name))
        .map((s) => ({ ID: `id-${s.name}`, Version: { Index: 1 }, Spec: { Name: s.name, Labels: s.labels } }))
    case "/tasks": {
      // dockerd resolves each service filter to a service first: an unknown one is a 404.
      for (const service of filters.service ?? []) {
        if (!state.services.some((s) => s.name === service || `id-${s.name}` === service)) {
          throw new EngineError(404, `service ${service} not found`)
        }
      }
      return state.tasks
        .filter((t) =>
          filters.service === undefined || filters.service.some((f) => f === t.service || f === `id-${t.service}`)
        )
        .map((t, i) => ({
          ID: `task-${i}`,
          ServiceID: `id-${t.service}`,
          CreatedAt: goTime(t.createdAt),
          UpdatedAt: goTime(t.createdAt),
          DesiredState: t.state === "running" ? "running" : "shutdown",
          Spec: template(t.image ?? state.services.find((s) => s.name === t.service)?.image),
          Status: {
            Timestamp: goTime(t.createdAt),
            State: t.state,
            Message: t.state,
            ...(t.err === undefined ? {} : { Err: t.err }),
            ...(t.exitCode === undefined && t.containerId === undefined
              ? {}
              : { ContainerStatus: { ContainerID: t.containerId ?? `c${i}`, PID: 0, ExitCode: t.exitCode ?? 0 } })
          }
        }))
    }
    default: {
      const id = /^\/containers\/([^/]+)\/json$/.exec(path)?.[1]
      const container = state.containers.find((c) => c.id === id)
      if (id === undefined) throw new EngineError(404, "page not found")
      if (container === undefined) throw new EngineError(404, `No such container: ${id}`)
      return {
        Id: container.id,
        State: {
          Status: "running",
          ...(container.health === undefined ? {} : {
            Health: {
              Status: container.health,
              FailingStreak: container.health === "unhealthy" ? 3 : 0,
              Log: container.lastLog === undefined ? [] : [{ ExitCode: 1, Output: container.lastLog }]
            }
          })
        }
      }
    }
  }
}

/** A fake Engine API on `<tmp>/docker.sock`; closed and removed with the scope. */
export const fakeEngine = (options: FakeEngineOptions = {}) =>
  Effect.gen(function*() {
    const dir = yield* Effect.acquireRelease(
      Effect.promise(() => FsP.mkdtemp(Path.join(Os.tmpdir(), "warm-reconcile-engine-"))),
      (dir) => Effect.promise(() => FsP.rm(dir, { recursive: true, force: true }))
    )
    const socket = Path.join(dir, "docker.sock")
    const state: FakeEngineState = {
      dataRoot: options.state?.dataRoot ?? "/",
      services: [...options.state?.services ?? []],
      volumes: [...options.state?.volumes ?? []],
      secrets: [...options.state?.secrets ?? []],
      tasks: [...options.state?.tasks ?? []],
      containers: [...options.state?.containers ?? []]
    }
    const requests: Array<RecordedEngineRequest> = []
    const overrides = new Map<string, Override>()

    const server = Http.createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://docker")
      const versioned = /^\/v(\d+\.\d+)(\/.*)$/.exec(url.pathname)
      const path = versioned?.[2] ?? url.pathname
      const send = (status: number, body: unknown, delay = 0) => {
        const timer = setTimeout(() => {
          res.writeHead(status, { "content-type": "application/json", "api-version": "1.41" })
          res.end(typeof body === "string" ? body : JSON.stringify(body))
        }, delay)
        res.on("close", () => clearTimeout(timer))
      }
      let filters: Record<string, Array<string>> | undefined
      try {
        filters = parseFilters(url.searchParams.get("filters"), path)
      } catch {
        filters = undefined
      }
      requests.push({ method: req.method ?? "", path, version: versioned?.[1], filters })
      const override = overrides.get(path)
      if (override !== undefined) return send(override.status, override.body, override.delay)
      try {
        if (req.method !== "GET") throw new EngineError(404, "page not found")
        const derived = options.abraDir === undefined ? undefined : fromAbra(options.abraDir)
        const current = derived === undefined ? state : {
          ...state,
          services: [...state.services, ...derived.services],
          secrets: [...state.secrets, ...derived.secrets],
          // A test that arranges a service's tasks itself (a crash loop) decides them alone.
          tasks: [...state.tasks, ...derived.tasks.filter((t) => !state.tasks.some((x) => x.service === t.service))]
        }
        send(200, answer(current, path, parseFilters(url.searchParams.get("filters"), path)))
      } catch (error) {
        send(error instanceof EngineError ? error.status : 500, { message: (error as Error).message })
      }
    })
    yield* Effect.acquireRelease(
      Effect.async<void, Error>((resume) => {
        server.once("error", (error) => resume(Effect.fail(error)))
        server.listen(socket, () => resume(Effect.void))
      }),
      () =>
        Effect.async<void>((resume) => {
          server.close(() => resume(Effect.void))
          server.closeAllConnections()
        })
    )
    const engine: FakeEngine = {
      socket,
      state,
      requests,
      override: (path, answer) => overrides.set(path, answer),
      clearOverrides: () => overrides.clear()
    }
    return engine
  })
