/**
 * The recipe of the whole-stack health gate on the real engine (issue 15): two services, `app`
 * (busybox httpd answering `/health` and `/version`) and `worker` (a loop), both stateless. Every
 * version's `app` keeps serving for a few seconds after SIGTERM (a trap and a `stop_grace_period`),
 * as real apps drain their requests: during an update the old task still answers 200 while the new
 * one waits for the port. Each later version breaks the stack in one way the gate must see.
 */
import { makeRecipeRepo, type RecipeVersion } from "../support/fakeAbra.js"
import { envSample, IMAGE } from "./recipe.js"

export const STACK_RECIPE = "e2e-stack"

export const S = {
  /** Healthy. */
  base: "1.0.0+1.0",
  /** Healthy: answers its own version. */
  next: "1.1.0+1.1",
  /** `/health` is 404 (no file): only the old task's answer, during its grace period, is 200. */
  notFound: "1.2.0+1.2",
  /** `app` answers 200, `worker` exits at start. */
  workerCrashes: "1.3.0+1.3",
  /** `app` answers 200 over HTTP, but its Docker healthcheck never passes. */
  unhealthy: "1.4.0+1.4",
  /** `app` exits at start, and the recipe asks Swarm to roll a failed update back itself. */
  swarmRollsBack: "1.5.0+1.5"
} as const

export type StackTag = (typeof S)[keyof typeof S]

/** Seconds an old `app` task keeps answering after SIGTERM. */
export const GRACE_SECONDS = 6

const version = (tag: StackTag) => tag.split("+")[0]!

/** The `app` entrypoint. No `$` but the port: compose would interpolate it. */
const appScript = (tag: StackTag): ReadonlyArray<string> => {
  if (tag === S.swarmRollsBack) return ["echo '1.5.0: cannot start' >&2", "exit 1"]
  return [
    // Drain: keep serving for a while after SIGTERM, then stop (the container stops with PID 1).
    `trap 'sleep ${GRACE_SECONDS}; exit 0' TERM`,
    "mkdir -p /www",
    ...(tag === S.notFound ? [] : ["echo ok > /www/health"]),
    `echo ${version(tag)} > /www/version`,
    // The previous task may still hold the port (same host network): wait for it, as a real app's
    // second instance would fail and be restarted.
    "until httpd -p 127.0.0.1:${HTTP_PORT} -h /www; do sleep 0.2; done",
    "while true; do sleep 1; done"
  ]
}

const workerScript = (tag: StackTag): ReadonlyArray<string> =>
  tag === S.workerCrashes
    ? ["echo 'worker 1.3.0: cannot reach its queue' >&2", "exit 1"]
    : ["trap 'exit 0' TERM", "while true; do sleep 1; done"]

const indent = (lines: ReadonlyArray<string>, by: string) => lines.map((l) => `${by}${l}`)

const service = (name: string, tag: StackTag, script: ReadonlyArray<string>, extra: ReadonlyArray<string>) => [
  `  ${name}:`,
  `    image: ${IMAGE}`,
  "    entrypoint:",
  "      - /bin/sh",
  "      - -c",
  "      - |",
  ...indent(script, "        "),
  // Swarm's `host` network: see recipe.ts.
  "    networks:",
  "      - hostnet",
  ...extra,
  "    deploy:",
  "      labels:",
  `        - "coop-cloud.\${STACK_NAME}.version=${tag}"`,
  `        - "coop-cloud.\${STACK_NAME}.recipe=${STACK_RECIPE}"`,
  ...(tag === S.swarmRollsBack
    ? [
      "      update_config:",
      "        failure_action: rollback",
      "        monitor: 10s",
      "      rollback_config:",
      "        monitor: 5s"
    ]
    : [])
]

export const stackCompose = (tag: StackTag): string =>
  [
    "---",
    "version: \"3.8\"",
    "services:",
    ...service("app", tag, appScript(tag), [
      `    stop_grace_period: ${GRACE_SECONDS + 10}s`,
      ...(tag === S.unhealthy
        ? [
          "    healthcheck:",
          "      test: [\"CMD\", \"/bin/false\"]",
          "      interval: 1s",
          "      timeout: 1s",
          "      retries: 2"
        ]
        : [])
    ]),
    ...service("worker", tag, workerScript(tag), []),
    "networks:",
    "  hostnet:",
    "    external: true",
    "    name: host",
    ""
  ].join("\n")

const notes: Record<StackTag, string> = {
  [S.base]: "First release.",
  [S.next]: "Faster start-up.",
  [S.notFound]: "Moves the health endpoint.",
  [S.workerCrashes]: "A new queue client in the worker.",
  [S.unhealthy]: "Adds a container healthcheck.",
  [S.swarmRollsBack]: "Lets Swarm roll a failed update back."
}

export const stackVersion = (tag: StackTag, port: number): RecipeVersion => ({
  tag,
  notes: notes[tag],
  envSample: envSample(port, STACK_RECIPE),
  compose: stackCompose(tag)
})

/** Publish versions to the recipe's source repo (created on first use). */
export const publishStack = (recipesSource: string, port: number, tags: ReadonlyArray<StackTag>): string =>
  makeRecipeRepo(recipesSource, STACK_RECIPE, tags.map((tag) => stackVersion(tag, port)))
