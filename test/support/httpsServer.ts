/**
 * A real local HTTPS (or plain HTTP) server for probing: a self-signed certificate for one
 * domain made by the `openssl` CLI, listening on 127.0.0.1 on a free port. It records each
 * request's SNI and Host header and answers each path with a configurable status and delay.
 */
import { Effect } from "effect"
import { execFile } from "node:child_process"
import * as Fs from "node:fs/promises"
import * as Http from "node:http"
import * as Https from "node:https"
import type { AddressInfo } from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import type { TLSSocket } from "node:tls"

export interface Route {
  readonly status: number
  /** Milliseconds to wait before answering. */
  readonly delay?: number
  readonly body?: string
}

export interface RecordedRequest {
  readonly method: string
  readonly path: string
  readonly host: string | undefined
  /** The TLS server name the client sent; undefined for plain HTTP or no SNI. */
  readonly servername: string | undefined
}

export interface TestServer {
  readonly port: number
  readonly requests: ReadonlyArray<RecordedRequest>
  /** Requests whose connection closed before the answer was sent. */
  readonly aborted: ReadonlyArray<string>
  readonly setRoute: (path: string, route: Route) => void
}

const run = (file: string, args: ReadonlyArray<string>) =>
  Effect.async<void, Error>((resume) => {
    execFile(file, args, (error, _stdout, stderr) => {
      resume(error === null ? Effect.void : Effect.fail(new Error(`${file} failed: ${stderr}`)))
    })
  })

/** A self-signed certificate (EC P-256: quick to make) whose CN and SAN are the domain. */
export const selfSignedCertificate = (domain: string) =>
  Effect.acquireRelease(
    Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "warm-reconcile-cert-"))),
    (dir) => Effect.promise(() => Fs.rm(dir, { recursive: true, force: true }))
  ).pipe(
    Effect.tap((dir) =>
      run("openssl", [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "1",
        "-subj",
        `/CN=${domain}`,
        "-addext",
        `subjectAltName=DNS:${domain}`,
        "-keyout",
        Path.join(dir, "key.pem"),
        "-out",
        Path.join(dir, "cert.pem")
      ])
    ),
    Effect.flatMap((dir) =>
      Effect.promise(async () => ({
        key: await Fs.readFile(Path.join(dir, "key.pem")),
        cert: await Fs.readFile(Path.join(dir, "cert.pem"))
      }))
    )
  )

const serve = (
  make: (handler: Http.RequestListener) => Http.Server,
  routes: Record<string, Route>
) =>
  Effect.gen(function*() {
    const table = new Map(Object.entries(routes))
    const requests: Array<RecordedRequest> = []
    const aborted: Array<string> = []
    const server = make((req, res) => {
      const path = req.url ?? "/"
      requests.push({
        method: req.method ?? "",
        path,
        host: req.headers.host,
        servername: (req.socket as Partial<TLSSocket>).servername || undefined
      })
      const route = table.get(path) ?? { status: 404, body: "no such route" }
      const timer = setTimeout(() => res.writeHead(route.status).end(route.body ?? "ok"), route.delay ?? 0)
      res.on("close", () => {
        if (!res.writableFinished) aborted.push(path)
        clearTimeout(timer)
      })
    })
    yield* Effect.acquireRelease(
      Effect.async<void>((resume) => {
        server.listen(0, "127.0.0.1", () => resume(Effect.void))
      }),
      () =>
        Effect.async<void>((resume) => {
          server.close(() => resume(Effect.void))
          server.closeAllConnections()
        })
    )
    const handle: TestServer = {
      port: (server.address() as AddressInfo).port,
      requests,
      aborted,
      setRoute: (path, route) => table.set(path, route)
    }
    return handle
  })

/** An HTTPS server with a self-signed certificate for `domain`, closed with the scope. */
export const httpsServer = (domain: string, routes: Record<string, Route> = {}) =>
  Effect.flatMap(selfSignedCertificate(domain), (tls) => serve((handler) => Https.createServer(tls, handler), routes))

/** A plain HTTP server, closed with the scope. */
export const httpServer = (routes: Record<string, Route> = {}) => serve((handler) => Http.createServer(handler), routes)

/** A port on 127.0.0.1 that nothing listens on (it was free a moment ago). */
export const closedPort = Effect.async<number>((resume) => {
  const server = Http.createServer()
  server.listen(0, "127.0.0.1", () => {
    const { port } = server.address() as AddressInfo
    server.close(() => resume(Effect.succeed(port)))
  })
})
