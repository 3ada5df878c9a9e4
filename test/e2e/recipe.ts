/**
 * The end-to-end test recipe: a real git repo whose versions run busybox httpd on a real Swarm.
 * Each version is a small shell entrypoint that behaves like an app release would: healthy, a
 * data migration, a broken forward migration, a crash loop, a major bump, a manual-migration note.
 */
import { makeRecipeRepo, type RecipeVersion } from "../support/fakeAbra.js"

export const RECIPE = "e2e-app"
export const IMAGE = "local/busybox:latest"

/** The versions, by what they do. */
export const V = {
  /** Healthy; seeds `/data/db.txt` on first start. */
  base: "1.0.0+1.0",
  /** Healthy; writes a migration marker into `/data` on its first start. */
  migrates: "1.1.0+1.1",
  /** Healthy, but its notes ask for a manual migration. */
  manual: "1.1.1+1.1.1",
  /** Broken: rewrites `/data/db.txt` (a forward migration), then `/health` is 404. */
  broken: "1.2.0+1.2",
  /** Crash-loops: exits 1 at start. */
  crashes: "1.3.0+1.3",
  /** Healthy, a major bump. */
  major: "2.0.0+2.0"
} as const

export type VersionTag = (typeof V)[keyof typeof V]

export const SEED = "schema=1\nalice\nbob\n"

const healthy = ["mkdir -p /www", "echo ok > /www/health"]

/** The shell lines of each version, before httpd starts. No `$`: compose would interpolate it. */
const startup: Record<VersionTag, ReadonlyArray<string>> = {
  [V.base]: [...healthy, `[ -f /data/db.txt ] || printf '${SEED.replaceAll("\n", "\\n")}' > /data/db.txt`],
  [V.migrates]: [...healthy, "[ -f /data/migrated-1.1 ] || echo 'migrated by 1.1.0' > /data/migrated-1.1"],
  [V.manual]: [...healthy],
  [V.broken]: [
    "mkdir -p /www",
    "sed -i 's/schema=1/schema=2/' /data/db.txt",
    "echo 'rewritten by 1.2.0' >> /data/db.txt",
    "echo 'migrated by 1.2.0' > /data/migrated-1.2"
  ],
  [V.crashes]: ["echo '1.3.0: cannot start' >&2", "exit 1"],
  [V.major]: [...healthy]
}

const notes: Record<VersionTag, string> = {
  [V.base]: "First release.",
  [V.migrates]: "Adds a migration marker to the data volume.",
  [V.manual]: "ACTION REQUIRED: run the schema migration by hand before upgrading to this version.",
  [V.broken]: "Schema 2 (migrates /data/db.txt forward).",
  [V.crashes]: "New start-up code.",
  [V.major]: "Major release: a new data format."
}

const indent = (lines: ReadonlyArray<string>, by: string) => lines.map((l) => `${by}${l}`)

/**
 * `compose.yml` of one version: one `app` service on the host's network namespace whose httpd
 * listens on 127.0.0.1:HTTP_PORT only, with a `data` volume.
 */
export const compose = (tag: VersionTag): string => {
  const script = [
    // Without the trap, PID 1 ignores SIGTERM and every `stack rm` waits out the grace period.
    "trap 'exit 0' TERM",
    ...startup[tag],
    // Loopback only: on the host network this is the host's own 127.0.0.1.
    "httpd -f -p 127.0.0.1:${HTTP_PORT} -h /www &",
    "wait"
  ]
  return [
    "---",
    "version: \"3.8\"",
    "services:",
    "  app:",
    `    image: ${IMAGE}`,
    "    entrypoint:",
    "      - /bin/sh",
    "      - -c",
    "      - |",
    ...indent(script, "        "),
    // Swarm's predefined `host` network, not published ports: ingress ports do not open here
    // (no IPVS in the kernel), and a host-mode port is bound by docker-proxy on 0.0.0.0 and [::].
    "    networks:",
    "      - hostnet",
    "    volumes:",
    "      - data:/data",
    "    deploy:",
    "      labels:",
    `        - "coop-cloud.\${STACK_NAME}.version=${tag}"`,
    `        - "coop-cloud.\${STACK_NAME}.recipe=${RECIPE}"`,
    "networks:",
    "  hostnet:",
    "    external: true",
    "    name: host",
    "volumes:",
    "  data:",
    ""
  ].join("\n")
}

/** `.env.sample`: no secrets; the host port is the recipe's, as a real recipe's defaults are. */
export const envSample = (port: number, recipe: string = RECIPE): string =>
  [
    `TYPE=${recipe}`,
    "",
    `DOMAIN=${recipe}.example.com`,
    "LETS_ENCRYPT_ENV=production",
    "",
    `HTTP_PORT=${port}`,
    ""
  ].join("\n")

export const recipeVersion = (tag: VersionTag, port: number): RecipeVersion => ({
  tag,
  notes: notes[tag],
  envSample: envSample(port),
  compose: compose(tag)
})

/**
 * Publish versions to the recipe's source repo `<recipesSource>/e2e-app` (created on first use),
 * one commit and tag each; `abra recipe fetch` then brings them into the clone.
 */
export const publish = (recipesSource: string, port: number, tags: ReadonlyArray<VersionTag>): string =>
  makeRecipeRepo(recipesSource, RECIPE, tags.map((tag) => recipeVersion(tag, port)))
