/**
 * Live Docker: read-only queries to the Docker Engine API over its unix socket.
 *
 * HTTP over the socket goes through the Effect HttpClient on an undici Agent with
 * `connect: { socketPath }` (the same client stack as the Health probe): interruption aborts the
 * request, and bodies are decoded with Schema, with no hand-written HTTP framing.
 */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import type { HttpClientError, HttpClientResponse } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import * as Undici from "@effect/platform-node/Undici"
import { Config, Duration, Effect, Either, Layer, Option, ParseResult, Schema, Stream } from "effect"
import * as NodePath from "node:path"
import {
  type ContainerHealth,
  Docker,
  DockerApiError,
  DockerUnavailable,
  type FailedTask,
  type ServiceFacts,
  type ServiceFailedTask,
  type StackVolume,
  type UpdateState
} from "../services/Docker.js"
import { errnoOf } from "./FileChecks.js"

export const defaultSocket = "/var/run/docker.sock"

/** Engine 20.10 speaks 1.41; newer engines still accept it. */
const apiVersion = "v1.41"

export interface DockerOptions {
  /** Per-request limit; 30 seconds by default. */
  readonly timeout?: Duration.DurationInput
  /** The largest answer read; {@link MAX_ANSWER_BYTES} by default. */
  readonly maxAnswerBytes?: number
}

/**
 * Engine API answers are read up to this size, then the connection is dropped: a stack's services
 * and tasks are a few hundred KiB, and an engine (or what answers on its socket) that sends without
 * end must not fill a root job's memory.
 */
export const MAX_ANSWER_BYTES = 16 * 1024 * 1024

/** The socket path a `DOCKER_HOST` value names, or why it cannot be used. */
export const socketFromDockerHost = (dockerHost: string | undefined): Either.Either<string, DockerUnavailable> => {
  const value = dockerHost?.trim() ?? ""
  if (value === "") return Either.right(defaultSocket)
  if (value.startsWith("unix://") && value.length > "unix://".length) {
    return Either.right(value.slice("unix://".length))
  }
  return Either.left(
    new DockerUnavailable({
      socket: value,
      message: `DOCKER_HOST=${value} is not supported: only a unix socket (unix:///path/to/docker.sock) ` +
        `can be used; unset DOCKER_HOST to use ${defaultSocket}`
    })
  )
}

const StackLabel = "com.docker.stack.namespace"

const Services = Schema.Array(Schema.Struct({
  Spec: Schema.Struct({
    Name: Schema.String,
    Labels: Schema.optional(Schema.NullOr(Schema.Record({ key: Schema.String, value: Schema.String })))
  })
}))

/** A service with what the health gate reads: its mode, its task template and its update. */
const FullServices = Schema.Array(Schema.Struct({
  ID: Schema.String,
  Spec: Schema.Struct({
    Name: Schema.String,
    Labels: Schema.optional(Schema.NullOr(Schema.Record({ key: Schema.String, value: Schema.String }))),
    Mode: Schema.optional(Schema.NullOr(Schema.Struct({
      Replicated: Schema.optional(Schema.NullOr(Schema.Struct({ Replicas: Schema.optional(Schema.Number) })))
    }))),
    TaskTemplate: Schema.optional(Schema.Unknown)
  }),
  UpdateStatus: Schema.optional(Schema.NullOr(Schema.Struct({
    State: Schema.optional(Schema.String),
    StartedAt: Schema.optional(Schema.NullOr(Schema.Date)),
    Message: Schema.optional(Schema.NullOr(Schema.String))
  })))
}))

const FullTasks = Schema.Array(Schema.Struct({
  ServiceID: Schema.String,
  CreatedAt: Schema.Date,
  DesiredState: Schema.optional(Schema.String),
  Spec: Schema.optional(Schema.Unknown),
  Status: Schema.Struct({
    State: Schema.String,
    Message: Schema.optional(Schema.NullOr(Schema.String)),
    Err: Schema.optional(Schema.NullOr(Schema.String)),
    ContainerStatus: Schema.optional(Schema.NullOr(Schema.Struct({
      ContainerID: Schema.optional(Schema.NullOr(Schema.String)),
      ExitCode: Schema.optional(Schema.NullOr(Schema.Number))
    })))
  })
}))

const Container = Schema.Struct({
  State: Schema.optional(Schema.NullOr(Schema.Struct({
    Health: Schema.optional(Schema.NullOr(Schema.Struct({
      Status: Schema.String,
      Log: Schema.optional(Schema.NullOr(Schema.Array(Schema.Struct({ Output: Schema.optional(Schema.String) }))))
    })))
  })))
})

/** Containers inspected per look at a stack at most: a stack with more replicas is judged on these. */
const MAX_INSPECTED = 32

const UPDATE_STATES: ReadonlyArray<UpdateState> = [
  "updating",
  "paused",
  "completed",
  "rollback_started",
  "rollback_paused",
  "rollback_completed"
]
const updateState = (state: string | undefined): UpdateState => UPDATE_STATES.find((s) => s === state) ?? "none"

const HEALTH_STATES: ReadonlyArray<ContainerHealth> = ["healthy", "unhealthy", "starting"]
const containerHealth = (status: string | undefined): ContainerHealth =>
  HEALTH_STATES.find((s) => s === status) ?? "none"

/** JSON with sorted keys: a task's spec equals its service's template when they print the same. */
/**
 * What makes a task one of the current release: the container's image (its digest dropped: the
 * engine pins one into the task, or not, depending on `--resolve-image`), command, arguments,
 * environment and labels, and the force-update counter. A whole-spec comparison is not usable: on a
 * real engine a task's spec carries defaults its service's template lacks (found by the e2e run).
 */
const releaseKey = (spec: unknown): string => {
  const s = (spec ?? {}) as {
    readonly ContainerSpec?: {
      readonly Image?: string
      readonly Command?: unknown
      readonly Args?: unknown
      readonly Env?: unknown
      readonly Labels?: unknown
    }
    readonly ForceUpdate?: number
  }
  const c = s.ContainerSpec ?? {}
  return canonical({
    image: (c.Image ?? "").replace(/@sha256:[0-9a-f]+$/, ""),
    command: c.Command ?? null,
    args: c.Args ?? null,
    env: c.Env ?? null,
    labels: c.Labels ?? null,
    forceUpdate: s.ForceUpdate ?? 0
  })
}

const canonical = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) =>
    typeof v === "object" && v !== null && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)))
      : v)

const Volumes = Schema.Struct({
  Volumes: Schema.NullOr(Schema.Array(Schema.Struct({
    Name: Schema.String,
    Mountpoint: Schema.String,
    Driver: Schema.optional(Schema.String),
    Options: Schema.optional(Schema.NullOr(Schema.Record({ key: Schema.String, value: Schema.String })))
  })))
})

const Info = Schema.Struct({ DockerRootDir: Schema.String })

/**
 * Why a volume's data cannot be taken from its mountpoint, or undefined for a plain local volume
 * inside Docker's data root. A local volume with driver options (`o=bind`, `type=nfs`) mounts its
 * data there only while a container uses it: undeployed, the mountpoint is empty, and a snapshot
 * of it would silently cover nothing.
 */
export const volumeProblem = (
  volume: {
    readonly name: string
    readonly mountpoint: string
    readonly driver: string
    readonly options: Readonly<Record<string, string>>
  },
  dataRoot: string
): string | undefined => {
  const leaveOut = "leave it out with the app's snapshot.volumes (and back it up yourself), or set stateful: false"
  if (volume.driver !== "local") {
    return `volume ${volume.name} uses the ${volume.driver} driver, whose data is not a directory to copy: ${leaveOut}`
  }
  const options = Object.entries(volume.options)
  if (options.length > 0) {
    const said = options.map(([k, v]) => `${k}=${v}`).join(", ")
    return `volume ${volume.name} is a local volume with driver options (${said}): its data is mounted at ` +
      `${volume.mountpoint} only while the app runs, so a snapshot would cover nothing: ${leaveOut}`
  }
  const inside = NodePath.relative(NodePath.resolve(dataRoot), NodePath.resolve(volume.mountpoint))
  if (inside === "" || inside.startsWith("..") || NodePath.isAbsolute(inside)) {
    return `volume ${volume.name}: its mountpoint ${volume.mountpoint} is not inside Docker's data root ${dataRoot}: ` +
      "refused (Docker's own volumes live there)"
  }
  return undefined
}

const Secrets = Schema.Array(Schema.Struct({ Spec: Schema.Struct({ Name: Schema.String }) }))

const Tasks = Schema.Array(Schema.Struct({
  /** RFC 3339 with nanoseconds; milliseconds are enough here. */
  CreatedAt: Schema.Date,
  Status: Schema.Struct({
    State: Schema.String,
    Err: Schema.optional(Schema.NullOr(Schema.String)),
    ContainerStatus: Schema.optional(Schema.NullOr(Schema.Struct({
      ExitCode: Schema.optional(Schema.NullOr(Schema.Number))
    })))
  })
}))

const ErrorBody = Schema.parseJson(Schema.Struct({ message: Schema.String }))

/** A task that ended badly: failed or rejected, or stopped with a non-zero exit code. */
const isFailed = (state: string, exitCode: Option.Option<number>): boolean =>
  state === "failed" || state === "rejected" ||
  ((state === "shutdown" || state === "complete") && Option.exists(exitCode, (code) => code !== 0))

/** The first few decoding issues on one line, e.g. `[0].Spec.Name: is missing`. */
const describeParseError = (error: ParseResult.ParseError): string =>
  ParseResult.ArrayFormatter.formatErrorSync(error).slice(0, 3).map((issue) => {
    const path = issue.path.map((key) => typeof key === "number" ? `[${key}]` : `.${String(key)}`).join("")
    return path === "" ? issue.message : `${path}: ${issue.message}`
  }).join("; ")

/** The innermost error code (`ENOENT`, `ECONNREFUSED`, ...) of a transport failure, else its message. */
const transportCode = (cause: unknown): string => {
  const { code, message } = errnoOf(cause)
  return code ?? message
}

const describeCause = (cause: unknown): string => cause instanceof Error ? cause.message : String(cause)

const unreachableHint = (code: string): string =>
  code === "EACCES" || code === "EPERM"
    ? "may this user use Docker (root or the docker group)?"
    : "is dockerd running?"

export const make = (socketPath: string, options: DockerOptions = {}) =>
  Effect.gen(function*() {
    const requestTimeout = Duration.decode(options.timeout ?? Duration.seconds(30))
    const maxAnswer = options.maxAnswerBytes ?? MAX_ANSWER_BYTES
    const agent = yield* Effect.acquireRelease(
      Effect.sync(() => new Undici.Agent({ connect: { socketPath } })),
      (agent) => Effect.promise(() => agent.destroy())
    )
    const client = NodeHttpClient.makeUndici(agent).pipe(HttpClient.withTracerPropagation(false))

    const unavailable = (error: HttpClientError.RequestError) => {
      const code = transportCode(error.cause)
      return new DockerUnavailable({
        socket: socketPath,
        message: `cannot reach the Docker socket ${socketPath} (${code}): ${unreachableHint(code)}`
      })
    }

    const apiError = (response: HttpClientResponse.HttpClientResponse, path: string) =>
      response.text.pipe(
        Effect.orElseSucceed(() => ""),
        Effect.map((text) =>
          new DockerApiError({
            status: response.status,
            message: `Docker Engine API GET ${path} answered ${response.status}: ${
              Option.match(Schema.decodeUnknownOption(ErrorBody)(text), {
                onNone: () => text.trim() === "" ? "(no message)" : text.trim().slice(0, 500),
                onSome: (body) => body.message
              })
            }`
          })
        ),
        Effect.flatMap(Effect.fail)
      )

    /** GET one Engine API list with `filters` (none: a single object), decoded with `schema`. */
    const list = <A, I>(
      path: string,
      filters: Record<string, ReadonlyArray<string>> | undefined,
      schema: Schema.Schema<A, I>
    ) =>
      Effect.gen(function*() {
        const request = HttpClientRequest.get(`http://docker/${apiVersion}${path}`, {
          urlParams: filters === undefined ? {} : { filters: JSON.stringify(filters) }
        })
        const response = yield* client.execute(request)
        if (response.status >= 400) return yield* apiError(response, path)
        const chunks: Array<Uint8Array> = []
        let size = 0
        yield* Stream.runForEachWhile(response.stream, (chunk) =>
          Effect.sync(() => {
            size += chunk.length
            if (size <= maxAnswer) chunks.push(chunk)
            return size <= maxAnswer
          }))
        if (size > maxAnswer) {
          return yield* new DockerApiError({
            status: response.status,
            message: `the Docker Engine's answer to GET ${path} is larger than ${maxAnswer} bytes: ` +
              "not read further; is the socket dockerd's?"
          })
        }
        const text = Buffer.concat(chunks).toString("utf8")
        return yield* Schema.decodeUnknown(Schema.parseJson(schema))(text).pipe(
          Effect.mapError((error) =>
            new DockerApiError({
              status: response.status,
              message: `unexpected answer from the Docker Engine to GET ${path}: ${describeParseError(error)}`
            })
          )
        )
      }).pipe(
        Effect.timeoutFail({
          duration: requestTimeout,
          onTimeout: () =>
            new DockerUnavailable({
              socket: socketPath,
              message: `the Docker Engine on ${socketPath} did not answer GET ${path} within ${
                Duration.format(requestTimeout)
              }: is dockerd overloaded or stuck?`
            })
        }),
        Effect.catchTags({
          RequestError: (error) => Effect.fail(unavailable(error)),
          ResponseError: (error) =>
            Effect.fail(
              new DockerApiError({
                status: error.response.status,
                message: `reading the Docker Engine's answer to GET ${path} failed: ${describeCause(error.cause)}`
              })
            )
        })
      )

    const byStack = (stack: string) => ({ label: [`${StackLabel}=${stack}`] })

    const isDeployed = Effect.fn("Docker.isDeployed")(function*(stack: string) {
      const services = yield* list("/services", byStack(stack), Services)
      return services.length > 0
    })

    const deployedVersion = Effect.fn("Docker.deployedVersion")(function*(stack: string) {
      const services = yield* list("/services", byStack(stack), Services)
      return Option.fromNullable(
        services.find((s) => s.Spec.Name === `${stack}_app`)?.Spec.Labels?.[`coop-cloud.${stack}.version`]
      )
    })

    const chaosVersion = Effect.fn("Docker.chaosVersion")(function*(stack: string) {
      const services = yield* list("/services", byStack(stack), Services)
      const labels = services.find((s) => s.Spec.Name === `${stack}_app`)?.Spec.Labels ?? {}
      return labels[`coop-cloud.${stack}.chaos`] === "true"
        ? Option.some(labels[`coop-cloud.${stack}.chaos-version`] ?? "unknown")
        : Option.none()
    })

    const stackVolumes = Effect.fn("Docker.stackVolumes")(function*(stack: string) {
      const { Volumes: volumes } = yield* list("/volumes", byStack(stack), Volumes)
      if (volumes === null || volumes.length === 0) return []
      const { DockerRootDir: dataRoot } = yield* list("/info", undefined, Info)
      return volumes.map((v): StackVolume => {
        const refused = volumeProblem(
          { name: v.Name, mountpoint: v.Mountpoint, driver: v.Driver ?? "local", options: v.Options ?? {} },
          dataRoot
        )
        return { name: v.Name, mountpoint: v.Mountpoint, ...(refused === undefined ? {} : { refused }) }
      })
    })

    const secrets = Effect.fn("Docker.secrets")(function*(stack: string) {
      const found = yield* list("/secrets", byStack(stack), Secrets)
      return found.map((s) => s.Spec.Name)
    })

    const failedTasks = Effect.fn("Docker.failedTasks")(function*(stack: string, since: number) {
      const service = `${stack}_app`
      const tasks = yield* list("/tasks", { service: [service] }, Tasks).pipe(
        // The engine resolves the service filter first: a stack that is not deployed has no tasks.
        Effect.catchIf(
          (error) => error._tag === "DockerApiError" && error.status === 404 && error.message.includes(service),
          () => Effect.succeed([])
        )
      )
      return tasks.flatMap((task): Array<FailedTask> => {
        const exitCode = Option.fromNullable(task.Status.ContainerStatus?.ExitCode)
        const at = task.CreatedAt.getTime()
        return isFailed(task.Status.State, exitCode) && at >= since
          ? [{ state: task.Status.State, exitCode, error: task.Status.Err ?? "", at }]
          : []
      })
    })

    /** One container's health; a container gone meanwhile (or on another node) has none. */
    const inspectHealth = (id: string) =>
      list(`/containers/${encodeURIComponent(id)}/json`, undefined, Container).pipe(
        Effect.map((c) => ({
          status: containerHealth(c.State?.Health?.Status),
          lastLog: (c.State?.Health?.Log?.at(-1)?.Output ?? "").trim().slice(-300)
        })),
        Effect.catchIf(
          (error) => error._tag === "DockerApiError" && error.status === 404,
          () => Effect.succeed({ status: "none" as const, lastLog: "" })
        )
      )

    const stackFacts = Effect.fn("Docker.stackFacts")(function*(stack: string, since: number) {
      const services = yield* list("/services", byStack(stack), FullServices)
      if (services.length === 0) return { services: [], failed: [] }
      const tasks = yield* list("/tasks", { service: services.map((s) => s.ID) }, FullTasks)
      let inspected = 0
      const facts: Array<ServiceFacts> = []
      const failed: Array<ServiceFailedTask> = []
      for (const service of services) {
        const own = tasks.filter((t) => t.ServiceID === service.ID)
        const running = own.filter((t) => t.Status.State === "running")
        const template = releaseKey(service.Spec.TaskTemplate)
        const health = []
        for (const task of running) {
          const id = task.Status.ContainerStatus?.ContainerID
          if (id === undefined || id === null || id === "" || inspected >= MAX_INSPECTED) continue
          inspected++
          const found = yield* inspectHealth(id)
          if (found.status !== "none") health.push(found)
        }
        const replicated = service.Spec.Mode?.Replicated
        const newestOther = own.filter((t) => t.Status.State !== "running")
          .sort((a, b) => b.CreatedAt.getTime() - a.CreatedAt.getTime())[0]
        const update = service.UpdateStatus
        facts.push({
          name: service.Spec.Name,
          version: Option.fromNullable(service.Spec.Labels?.[`coop-cloud.${stack}.version`]),
          update: updateState(update?.State),
          updateStartedAt: Option.map(Option.fromNullable(update?.StartedAt), (d) => d.getTime()),
          updateMessage: update?.Message ?? "",
          desired: replicated === undefined || replicated === null
            ? own.filter((t) => t.DesiredState === "running").length
            : replicated.Replicas ?? 1,
          running: running.length,
          current: running.filter((t) => releaseKey(t.Spec) === template).length,
          health,
          lastTaskMessage: newestOther === undefined
            ? ""
            : `${newestOther.Status.State}: ${newestOther.Status.Err ?? newestOther.Status.Message ?? ""}`.trim()
        })
        for (const task of own) {
          const exitCode = Option.fromNullable(task.Status.ContainerStatus?.ExitCode)
          const at = task.CreatedAt.getTime()
          if (isFailed(task.Status.State, exitCode) && at >= since) {
            failed.push({
              service: service.Spec.Name,
              state: task.Status.State,
              exitCode,
              error: task.Status.Err ?? "",
              at
            })
          }
        }
      }
      return { services: facts, failed: failed.sort((a, b) => a.at - b.at) }
    })

    return Docker.of({ isDeployed, deployedVersion, chaosVersion, stackVolumes, secrets, failedTasks, stackFacts })
  })

/** Docker on the Engine API at `socketPath`. */
export const layerSocket = (socketPath: string, options?: DockerOptions): Layer.Layer<Docker> =>
  Layer.scoped(Docker, make(socketPath, options))

/** Every method fails with the same error: the configuration names no usable socket. */
const unusable = (error: DockerUnavailable) =>
  Docker.of({
    isDeployed: () => Effect.fail(error),
    deployedVersion: () => Effect.fail(error),
    chaosVersion: () => Effect.fail(error),
    stackVolumes: () => Effect.fail(error),
    secrets: () => Effect.fail(error),
    failedTasks: () => Effect.fail(error),
    stackFacts: () => Effect.fail(error)
  })

/** Docker on the socket `DOCKER_HOST` names (`unix:///path`), else `/var/run/docker.sock`. */
export const makeFromEnvironment = Effect.gen(function*() {
  const dockerHost = yield* Config.option(Config.string("DOCKER_HOST")).pipe(Effect.orDie)
  return yield* Either.match(socketFromDockerHost(Option.getOrUndefined(dockerHost)), {
    onLeft: (error) => Effect.succeed(unusable(error)),
    onRight: (socket) => make(socket)
  })
})

/** {@link makeFromEnvironment} as a layer; the Agent is closed when its scope closes. */
export const layer: Layer.Layer<Docker> = Layer.scoped(Docker, makeFromEnvironment)
