import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Either, Exit, Fiber, Option } from "effect"
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs/promises"
import * as Http from "node:http"
import * as Os from "node:os"
import * as Path from "node:path"
import * as LiveDocker from "../../src/live/Docker.js"
import { Docker, DockerApiError, DockerUnavailable } from "../../src/services/Docker.js"
import { appService, type FakeEngine, fakeEngine, stackLabel, stackVolume } from "../support/fakeEngine.js"
import { GIVES_UP_AT_DEADLINE, timeline } from "../support/virtualTime.js"

const stack = "id_example_org"
const other = "wiki_example_org"
const byStack = (s: string) => ({ label: [`${stackLabel}=${s}`] })

/** Run `f` against the live layer on the fake engine's socket. */
const withDocker = <A, E>(
  engine: FakeEngine,
  f: (docker: Docker["Type"]) => Effect.Effect<A, E>,
  options?: LiveDocker.DockerOptions
) => Effect.flatMap(Docker, f).pipe(Effect.provide(LiveDocker.layerSocket(engine.socket, options)))

const failure = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit) || exit.cause._tag !== "Fail") throw new Error(`expected a failure, got ${exit}`)
  return exit.cause.error
}

const tempDir = Effect.acquireRelease(
  Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "warm-reconcile-docker-test-"))),
  (dir) => Effect.promise(() => Fs.rm(dir, { recursive: true, force: true }))
)

describe("live Docker", () => {
  it.scopedLive("isDeployed asks for the stack's services by namespace label", () =>
    Effect.gen(function*() {
      const engine = yield* fakeEngine({ state: { services: [appService(other, "1.0.0+2.0")] } })
      expect(yield* withDocker(engine, (d) => d.isDeployed(stack))).toBe(false)
      engine.state.services.push({ name: `${stack}_db`, labels: { [stackLabel]: stack } })
      expect(yield* withDocker(engine, (d) => d.isDeployed(stack))).toBe(true)
      expect(engine.requests).toEqual([
        { method: "GET", path: "/services", version: "1.41", filters: byStack(stack) },
        { method: "GET", path: "/services", version: "1.41", filters: byStack(stack) }
      ])
    }))

  it.scopedLive("deployedVersion reads the version label of <stack>_app only", () =>
    Effect.gen(function*() {
      const engine = yield* fakeEngine({
        state: {
          services: [
            // A sibling service with a version label of its own must not be read.
            { name: `${stack}_db`, labels: { [stackLabel]: stack, [`coop-cloud.${stack}.version`]: "9.9.9" } },
            appService(other, "2.0.0+1.0")
          ]
        }
      })
      expect(yield* withDocker(engine, (d) => d.deployedVersion(stack))).toEqual(Option.none())
      engine.state.services.push(appService(stack))
      expect(yield* withDocker(engine, (d) => d.deployedVersion(stack))).toEqual(Option.none())
      engine.state.services.splice(-1, 1, appService(stack, "10.1.0+24.0.1"))
      expect(yield* withDocker(engine, (d) => d.deployedVersion(stack))).toEqual(Option.some("10.1.0+24.0.1"))
      expect(engine.requests.every((r) => r.path === "/services")).toBe(true)
      expect(engine.requests.map((r) => r.filters)).toEqual([byStack(stack), byStack(stack), byStack(stack)])
    }))

  it.scopedLive("stackVolumes lists the stack's volumes with their mountpoints", () =>
    Effect.gen(function*() {
      const engine = yield* fakeEngine({
        state: {
          volumes: [
            stackVolume(stack, "data", "/srv/docker/volumes/data"),
            stackVolume(stack, "config"),
            stackVolume(other, "data"),
            { name: "unlabelled", labels: {}, mountpoint: "/x" }
          ]
        }
      })
      expect(yield* withDocker(engine, (d) => d.stackVolumes(stack))).toEqual([
        { name: `${stack}_data`, mountpoint: "/srv/docker/volumes/data" },
        { name: `${stack}_config`, mountpoint: `/var/lib/docker/volumes/${stack}_config/_data` }
      ])
      // Then Docker's data root, which every mountpoint must be inside.
      expect(engine.requests).toEqual([
        { method: "GET", path: "/volumes", version: "1.41", filters: byStack(stack) },
        { method: "GET", path: "/info", version: "1.41", filters: {} }
      ])
    }))

  it.scopedLive("stackVolumes says why a bind, an NFS mount, another driver or a volume outside the data root cannot be snapshotted", () =>
    Effect.gen(function*() {
      const root = "/var/lib/docker"
      const inRoot = (name: string) => `${root}/volumes/${stack}_${name}/_data`
      const engine = yield* fakeEngine({
        state: {
          dataRoot: root,
          volumes: [
            stackVolume(stack, "data"),
            { ...stackVolume(stack, "bound"), options: { type: "none", o: "bind", device: "/srv/data" } },
            { ...stackVolume(stack, "nfs"), options: { type: "nfs", o: "addr=10.0.0.2,rw", device: ":/export" } },
            { ...stackVolume(stack, "plugin"), driver: "rexray/ebs" },
            stackVolume(stack, "outside", "/srv/elsewhere/_data"),
            stackVolume(stack, "escaping", `${root}/../../srv/x/_data`)
          ]
        }
      })
      const volumes = yield* withDocker(engine, (d) => d.stackVolumes(stack))
      const refused = Object.fromEntries(volumes.map((v) => [v.name.slice(stack.length + 1), v.refused]))
      const leaveOut = "leave it out with the app's snapshot.volumes (and back it up yourself), or set stateful: false"
      expect(refused).toEqual({
        data: undefined,
        bound: `volume ${stack}_bound is a local volume with driver options (type=none, o=bind, device=/srv/data): ` +
          `its data is mounted at ${inRoot("bound")} only while the app runs, so a snapshot would cover nothing: ` +
          leaveOut,
        nfs:
          `volume ${stack}_nfs is a local volume with driver options (type=nfs, o=addr=10.0.0.2,rw, device=:/export): ` +
          `its data is mounted at ${inRoot("nfs")} only while the app runs, so a snapshot would cover nothing: ` +
          leaveOut,
        plugin: `volume ${stack}_plugin uses the rexray/ebs driver, whose data is not a directory to copy: ${leaveOut}`,
        outside: `volume ${stack}_outside: its mountpoint /srv/elsewhere/_data is not inside Docker's data root ` +
          `${root}: refused (Docker's own volumes live there)`,
        escaping: `volume ${stack}_escaping: its mountpoint ${root}/../../srv/x/_data is not inside Docker's data ` +
          `root ${root}: refused (Docker's own volumes live there)`
      })
      // A plain volume carries no `refused` key at all: the in-memory twin's volumes look the same.
      expect(volumes[0]).toEqual({ name: `${stack}_data`, mountpoint: inRoot("data") })
    }))

  it.scopedLive("stackVolumes copes with the engine's null volume list", () =>
    Effect.gen(function*() {
      const engine = yield* fakeEngine()
      engine.override("/volumes", { status: 200, body: { Volumes: null, Warnings: null } })
      expect(yield* withDocker(engine, (d) => d.stackVolumes(stack))).toEqual([])
    }))

  it.scopedLive("secrets lists the stack's secret names", () =>
    Effect.gen(function*() {
      const engine = yield* fakeEngine({
        state: {
          secrets: [
            { name: `${stack}_admin_password_v1`, labels: { [stackLabel]: stack } },
            { name: `${other}_db_password_v2`, labels: { [stackLabel]: other } }
          ]
        }
      })
      expect(yield* withDocker(engine, (d) => d.secrets(stack))).toEqual([`${stack}_admin_password_v1`])
      expect(engine.requests).toEqual([{ method: "GET", path: "/secrets", version: "1.41", filters: byStack(stack) }])
    }))

  it.scopedLive("failedTasks keeps failed, rejected and non-zero exits of <stack>_app since the given time", () =>
    Effect.gen(function*() {
      const since = Date.parse("2026-03-01T12:00:00Z")
      const app = `${stack}_app`
      const engine = yield* fakeEngine({
        state: {
          services: [appService(stack, "1.0.0+1.0"), { name: `${stack}_db`, labels: { [stackLabel]: stack } }],
          tasks: [
            { service: app, state: "failed", createdAt: since + 1_500, exitCode: 1, err: "task: non-zero exit (1)" },
            { service: app, state: "rejected", createdAt: since, err: "No such image: example:2" },
            { service: app, state: "shutdown", createdAt: since + 2_000, exitCode: 137 },
            { service: app, state: "complete", createdAt: since + 3_000, exitCode: 2 },
            // Not failures: a clean stop, a running task, a task still starting.
            { service: app, state: "shutdown", createdAt: since + 4_000, exitCode: 0 },
            { service: app, state: "running", createdAt: since + 5_000 },
            { service: app, state: "shutdown", createdAt: since + 5_500 },
            // Too old: one millisecond before `since`.
            { service: app, state: "failed", createdAt: since - 1, exitCode: 1, err: "old" },
            // Another service of the stack.
            { service: `${stack}_db`, state: "failed", createdAt: since + 6_000, exitCode: 1, err: "db" }
          ]
        }
      })
      const tasks = yield* withDocker(engine, (d) => d.failedTasks(stack, since))
      expect(tasks).toEqual([
        { state: "failed", exitCode: Option.some(1), error: "task: non-zero exit (1)", at: since + 1_500 },
        { state: "rejected", exitCode: Option.none(), error: "No such image: example:2", at: since },
        { state: "shutdown", exitCode: Option.some(137), error: "", at: since + 2_000 },
        { state: "complete", exitCode: Option.some(2), error: "", at: since + 3_000 }
      ])
      expect(engine.requests).toEqual([
        { method: "GET", path: "/tasks", version: "1.41", filters: { service: [app] } }
      ])
    }))

  it.scopedLive("failedTasks of a stack that is not deployed is empty (the engine answers 404)", () =>
    Effect.gen(function*() {
      const engine = yield* fakeEngine()
      expect(yield* withDocker(engine, (d) => d.failedTasks(stack, 0))).toEqual([])
      // Any other 404 is still an error.
      engine.override("/tasks", { status: 404, body: { message: "page not found" } })
      const error = failure(yield* Effect.exit(withDocker(engine, (d) => d.failedTasks(stack, 0))))
      expect(error).toBeInstanceOf(DockerApiError)
    }))

  it.scopedLive("an engine error answer is a DockerApiError with the engine's status and message", () =>
    Effect.gen(function*() {
      const engine = yield* fakeEngine()
      engine.override("/services", {
        status: 500,
        body: { message: "This node is not a swarm manager. Use \"docker swarm init\"." }
      })
      const error = failure(yield* Effect.exit(withDocker(engine, (d) => d.isDeployed(stack))))
      expect(error).toBeInstanceOf(DockerApiError)
      expect(error).toMatchObject({ _tag: "DockerApiError", status: 500 })
      expect(error.message).toContain("This node is not a swarm manager")
    }))

  it.scopedLive("a body that does not decode is a DockerApiError saying so", () =>
    Effect.gen(function*() {
      const engine = yield* fakeEngine()
      engine.override("/secrets", { status: 200, body: [{ Spec: { Labels: {} } }] })
      const wrongShape = failure(yield* Effect.exit(withDocker(engine, (d) => d.secrets(stack))))
      expect(wrongShape).toBeInstanceOf(DockerApiError)
      expect(wrongShape.message).toMatch(/unexpected answer.*\/secrets/)
      expect(wrongShape.message).toContain("[0].Spec.Name: is missing")

      engine.override("/secrets", { status: 200, body: "<html>proxy error</html>" })
      const notJson = failure(yield* Effect.exit(withDocker(engine, (d) => d.secrets(stack))))
      expect(notJson).toBeInstanceOf(DockerApiError)
      expect(notJson.message).toMatch(/unexpected answer.*\/secrets: .*not valid JSON/)
    }))

  it.scopedLive("an answer without end is read up to the cap, then refused: a DockerApiError, memory flat", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const socket = Path.join(dir, "docker.sock")
      // Something on the socket that answers 200 and sends JSON without end (a 512 MiB answer).
      let sent = 0
      const chunk = Buffer.alloc(64 * 1024, " ")
      const server = Http.createServer((_, res) => {
        res.writeHead(200, { "content-type": "application/json" })
        res.write("[")
        const more = () => {
          while (sent < 512 * 1024 * 1024 && !res.destroyed) {
            sent += chunk.length
            if (!res.write(chunk)) return void res.once("drain", more)
          }
          res.end("]")
        }
        more()
      })
      yield* Effect.acquireRelease(
        Effect.async<void>((resume) => void server.listen(socket, () => resume(Effect.void))),
        () => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
      )
      const before = process.memoryUsage().rss
      const error = failure(
        yield* Effect.exit(
          Effect.flatMap(Docker, (d) => d.secrets(stack)).pipe(
            Effect.provide(LiveDocker.layerSocket(socket, { maxAnswerBytes: 4 * 1024 * 1024 }))
          )
        )
      )
      expect(error).toBeInstanceOf(DockerApiError)
      expect(error.message).toBe(
        `the Docker Engine's answer to GET /secrets is larger than ${4 * 1024 * 1024} bytes: not read further; ` +
          "is the socket dockerd's?"
      )
      // The connection was dropped near the cap, not read to its end.
      expect(sent).toBeLessThan(64 * 1024 * 1024)
      expect(process.memoryUsage().rss - before).toBeLessThan(64 * 1024 * 1024)
      expect(LiveDocker.MAX_ANSWER_BYTES).toBe(16 * 1024 * 1024)
    }))

  it.scopedLive("a missing socket is DockerUnavailable naming it", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const socket = Path.join(dir, "docker.sock")
      const exit = yield* Effect.exit(
        Effect.flatMap(Docker, (d) => d.isDeployed(stack)).pipe(Effect.provide(LiveDocker.layerSocket(socket)))
      )
      const error = failure(exit)
      expect(error).toBeInstanceOf(DockerUnavailable)
      expect(error).toMatchObject({ socket })
      expect(error.message).toBe(`cannot reach the Docker socket ${socket} (ENOENT): is dockerd running?`)
    }))

  it.scopedLive("a stale socket nobody listens on is DockerUnavailable (ECONNREFUSED)", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const socket = Path.join(dir, "docker.sock")
      // Bound but never listening, as a crashed dockerd leaves it.
      execFileSync("python3", ["-c", "import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])", socket])
      const error = failure(
        yield* Effect.exit(
          Effect.flatMap(Docker, (d) => d.secrets(stack)).pipe(Effect.provide(LiveDocker.layerSocket(socket)))
        )
      )
      expect(error).toBeInstanceOf(DockerUnavailable)
      expect(error.message).toContain(`${socket} (ECONNREFUSED)`)
    }))

  // On the TestClock: the request gives up at its timeout of Effect's clock, not before, not after.
  it.scoped("an engine that does not answer in time is DockerUnavailable", () =>
    Effect.gen(function*() {
      const engine = yield* fakeEngine()
      engine.override("/services", { status: 200, body: [], delay: 10_000 })
      const asking = yield* Effect.fork(withDocker(engine, (d) => d.isDeployed(stack), { timeout: "200 millis" }))
      expect(yield* timeline(asking, 200)).toEqual(GIVES_UP_AT_DEADLINE)
      const error = failure(yield* Fiber.await(asking))
      expect(error).toBeInstanceOf(DockerUnavailable)
      expect(error.message).toContain("did not answer")
    }))

  describe("layer and DOCKER_HOST", () => {
    const viaEnv = <A, E>(dockerHost: string, f: (docker: Docker["Type"]) => Effect.Effect<A, E>) =>
      Effect.flatMap(Docker, f).pipe(
        Effect.provide(LiveDocker.layer),
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["DOCKER_HOST", dockerHost]])))
      )

    it.scopedLive("uses the unix socket DOCKER_HOST names", () =>
      Effect.gen(function*() {
        const engine = yield* fakeEngine({ state: { services: [appService(stack, "3.0.0+1.0")] } })
        expect(yield* viaEnv(`unix://${engine.socket}`, (d) => d.deployedVersion(stack))).toEqual(
          Option.some("3.0.0+1.0")
        )
        expect(engine.requests).toHaveLength(1)
      }))

    it.scopedLive("refuses other schemes with a clear DockerUnavailable", () =>
      Effect.gen(function*() {
        const error = failure(yield* Effect.exit(viaEnv("tcp://127.0.0.1:2375", (d) => d.isDeployed(stack))))
        expect(error).toBeInstanceOf(DockerUnavailable)
        expect(error).toMatchObject({ socket: "tcp://127.0.0.1:2375" })
        expect(error.message).toContain("only a unix socket")
      }))

    it("defaults to /var/run/docker.sock", () => {
      expect(LiveDocker.socketFromDockerHost(undefined)).toEqual(Either.right("/var/run/docker.sock"))
      expect(LiveDocker.socketFromDockerHost("")).toEqual(Either.right("/var/run/docker.sock"))
      expect(LiveDocker.socketFromDockerHost("unix:///run/user/1000/docker.sock")).toEqual(
        Either.right("/run/user/1000/docker.sock")
      )
      expect(Either.isLeft(LiveDocker.socketFromDockerHost("ssh://me@host"))).toBe(true)
    })
  })

  it.scopedLive("follows the fake abra's state file, reread on every request", () =>
    Effect.gen(function*() {
      const abraDir = yield* tempDir
      const domain = "id.example.org"
      const writeState = (state: unknown) =>
        Effect.promise(async () => {
          await Fs.mkdir(Path.join(abraDir, ".fake-abra"), { recursive: true })
          await Fs.writeFile(Path.join(abraDir, ".fake-abra", "state.json"), JSON.stringify(state))
        })
      const engine = yield* fakeEngine({ abraDir, state: { volumes: [stackVolume(stack, "data")] } })
      // No state file yet: nothing deployed.
      expect(yield* withDocker(engine, (d) => d.isDeployed(stack))).toBe(false)

      yield* writeState({
        deployed: { [domain]: { version: "1.2.0+3.4", at: 1 } },
        secrets: { [domain]: ["admin_password_v1"] }
      })
      const seen = yield* withDocker(engine, (d) =>
        Effect.all({
          deployed: d.isDeployed(stack),
          version: d.deployedVersion(stack),
          secrets: d.secrets(stack),
          volumes: d.stackVolumes(stack),
          tasks: d.failedTasks(stack, 0)
        }))
      expect(seen).toEqual({
        deployed: true,
        version: Option.some("1.2.0+3.4"),
        secrets: [`${stack}_admin_password_v1`],
        volumes: [{ name: `${stack}_data`, mountpoint: `/var/lib/docker/volumes/${stack}_data/_data` }],
        tasks: []
      })

      yield* writeState({ deployed: {}, secrets: { [domain]: ["admin_password_v1"] } })
      expect(yield* withDocker(engine, (d) => d.isDeployed(stack))).toBe(false)
      expect(yield* withDocker(engine, (d) => d.deployedVersion(stack))).toEqual(Option.none())
    }))

  describe("the fake engine", () => {
    const get = (socket: string, path: string) =>
      Effect.async<{ status: number; body: string }>((resume) => {
        Http.get({ socketPath: socket, path }, (res) => {
          let body = ""
          res.on("data", (chunk) => body += chunk)
          res.on("end", () => resume(Effect.succeed({ status: res.statusCode ?? 0, body })))
        })
      })

    it.scopedLive("validates filters and paths like the engine", () =>
      Effect.gen(function*() {
        const engine = yield* fakeEngine({ state: { services: [appService(stack, "1.0.0")] } })
        const q = (filters: string) => `/v1.41/services?filters=${encodeURIComponent(filters)}`
        expect(yield* get(engine.socket, q("{not json"))).toMatchObject({ status: 400 })
        const badKey = yield* get(engine.socket, q(`{"colour":["red"]}`))
        expect(badKey.status).toBe(400)
        expect(JSON.parse(badKey.body)).toEqual({ message: "invalid filter 'colour'" })
        // The legacy map form is still accepted.
        const legacy = yield* get(engine.socket, q(`{"label":{"${stackLabel}=${stack}":true}}`))
        expect(JSON.parse(legacy.body)).toHaveLength(1)
        const unknown = yield* get(engine.socket, "/v1.41/containers/json")
        expect(unknown.status).toBe(404)
        expect(JSON.parse(unknown.body)).toEqual({ message: "page not found" })
      }))
  })
})
