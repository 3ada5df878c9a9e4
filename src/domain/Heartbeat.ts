/**
 * The heartbeat, a dead man's switch on a service that is not on this server: a ping when a run
 * starts, and one when it ends, telling success from failure, so that a night that never runs (a
 * broken unit, a dead timer) is noticed. Two conventions: healthchecks.io's (`<url>/start`,
 * `<url>`, `<url>/fail`), and Uptime Kuma's push URL (`...?status=up&msg=OK`), recognised by its
 * `status` parameter, which has no start ping. Pure.
 */
export type HeartbeatEvent = { readonly _tag: "start" } | { readonly _tag: "end"; readonly exitCode: number }

export interface Ping {
  readonly method: "GET" | "POST"
  readonly url: string
  /** healthchecks.io keeps a POST body as the ping's log. */
  readonly body?: string
}

const isKuma = (url: URL) => url.searchParams.has("status")

/** The ping for an event; none where the convention has no such ping. */
export const ping = (base: string, event: HeartbeatEvent): Ping | undefined => {
  const url = new URL(base)
  if (isKuma(url)) {
    if (event._tag === "start") return undefined
    url.searchParams.set("status", event.exitCode === 0 ? "up" : "down")
    url.searchParams.set("msg", event.exitCode === 0 ? "OK" : `exit code ${event.exitCode}`)
    return { method: "GET", url: url.toString() }
  }
  const path = url.pathname.replace(/\/+$/, "")
  const at = (suffix: string) => {
    const u = new URL(url)
    u.pathname = `${path}${suffix}`
    return u.toString()
  }
  if (event._tag === "start") return { method: "GET", url: at("/start") }
  return event.exitCode === 0
    ? { method: "GET", url: at("") }
    : { method: "POST", url: at("/fail"), body: `warm-reconcile exited with code ${event.exitCode}` }
}
