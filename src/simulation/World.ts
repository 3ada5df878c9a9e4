// Over 300 lines: one world record and the pure updates every simulated service shares.
/**
 * The simulated world: recipes with tags and notes, deployments, volumes with contents, health
 * per version over time, task failures, snapshots, alerts and state, and a trace of every side
 * effect. The in-memory `layerTest` of each service reads and writes this one world, so a
 * rehearsal sees the same consequences a real server would: a release that migrates the volume
 * really changes the bytes a later restore must bring back.
 *
 * Time is Effect's Clock, so rehearsals run on the TestClock.
 */
import { Clock, Context, Duration, Effect, HashMap, Layer, Option, Ref } from "effect"
import type { Alert } from "../domain/Alert.js"
import type { AppSpec } from "../domain/Config.js"
import type { HoldRecord, InFlight, RunRecord, StateRecord } from "../services/State.js"

/** Files of one volume: path to content. */
export type Files = ReadonlyMap<string, string>

export interface ReleaseSpec {
  /**
   * How the release answers once deployed: `healthy` after `startup`, `never` (answers 500),
   * `crash-loop` (exits at start: no answer, a failed task every `restartEvery`), healthy only
   * after some time, or a timeline that flaps (healthy, then 500, then healthy again...).
   */
  readonly health?:
    | "healthy"
    | "never"
    | "crash-loop"
    | { readonly healthyAfter: Duration.DurationInput }
    | { readonly timeline: Timeline }
  readonly startup?: Duration.DurationInput
  readonly restartEvery?: Duration.DurationInput
  /** A forward migration: rewrites the volumes when the release starts. */
  readonly migrate?: (volume: string, files: Files) => Files
  /**
   * Deployed over a running version (a stateless upgrade), the old task keeps serving through its
   * stop grace period for this long: it answers as the old version, and Swarm has not converged.
   */
  readonly oldTaskServes?: Duration.DurationInput
  /** Other services of the stack (`db`, `worker`) and how they behave; absent: `app` alone. */
  readonly services?: Readonly<Record<string, ServiceBehaviour>>
  /** The app's container has a Docker healthcheck: `starting` until `startup`, then this. */
  readonly healthcheck?: "healthy" | "unhealthy"
  /**
   * `update_config.failure_action: rollback`: this long after an update over a running version,
   * Swarm rolls the service back by itself; the old version answers again.
   */
  readonly swarmRollbackAfter?: Duration.DurationInput
}

/** A service besides `app`: runs, crash-loops (a failed task every `restartEvery`), or never gets a node. */
export type ServiceBehaviour = "healthy" | "crash-loop" | "pending"

/**
 * What a release answers over its age: from each entry's `from` (time since its deploy) on, its
 * `status` (`null`: no answer) until the next entry. Before the first entry it is starting: no answer.
 */
export type Timeline = ReadonlyArray<{ readonly from: Duration.DurationInput; readonly status: number | null }>

export interface RecipeSpec {
  readonly tags: ReadonlyArray<string>
  /** Release notes by version (as in `release/<version>`). */
  readonly notes?: Readonly<Record<string, string>>
  /** Behaviour by version; a version not listed is healthy. */
  readonly releases?: Readonly<Record<string, ReleaseSpec>>
  /** When each tag was made (epoch ms); a tag not listed was made at 0, long aged. */
  readonly dates?: Readonly<Record<string, number>>
  /** `git status --porcelain` of the clone: uncommitted or untracked changes a person left there. */
  readonly localChanges?: string
  /** Secrets its `.env.sample` declares, as `<name>_<version>`: what `app new` puts in the env file. */
  readonly secrets?: ReadonlyArray<string>
}

export interface AppSetup {
  readonly spec: AppSpec
  /** Is there an env file? */
  readonly env?: boolean
  /** The version pinned in the env file (`TYPE=<recipe>:<version>`). */
  readonly pinned?: string
  /** The recipe the env file names (`TYPE=`); default: the spec's. */
  readonly envRecipe?: string
  /** The env file sets `ENABLE_AUTO_UPDATE=true` (discovery's opt-in). */
  readonly autoUpdate?: boolean
  /** The version running now; absent when not deployed. */
  readonly deployed?: string
  /** Volumes (without the stack prefix) and their files. */
  readonly volumes?: Readonly<Record<string, Readonly<Record<string, string>>>>
  /** Secrets the env file declares (`SECRET_<NAME>_VERSION=v1`), as `<name>_v1`. */
  readonly secrets?: ReadonlyArray<string>
  /** Are the declared secrets already generated? */
  readonly secretsGenerated?: boolean
  /** The running deployment is a person's chaos deploy (`abra app deploy -C`) of this chaos version. */
  readonly chaos?: string
  /** The running deployment is broken (say a stuck container) until it is redeployed. */
  readonly brokenUntilRedeploy?: boolean
  readonly lastGood?: string
  /** State records of the app that exist but do not decode (torn, or edited by hand). */
  readonly unreadable?: ReadonlyArray<StateRecord>
}

/** Every side-effect step a fault can be injected into. */
export type Step =
  | "server"
  | "fetch"
  | "tags"
  | "notes"
  | "checkout"
  | "clone-status"
  | "env-read"
  | "app-new"
  | "secrets-list"
  | "secrets-generate"
  | "deployed-check"
  | "deployed-version"
  | "volumes"
  | "tasks"
  | "undeploy"
  | "snapshot-precopy"
  | "snapshot"
  | "snapshot-show"
  | "deploy"
  | "health"
  | "last-good-read"
  | "last-good-write"
  | "hold-read"
  | "hold-write"
  | "history"
  | "in-flight-read"
  | "in-flight-write"
  | "alert"
  | "restore"
  | "notify"

export interface Fault {
  /** The step to hit; `any` counts every side effect (with `after`: the n-th one of the run). */
  readonly step: Step | "any"
  /**
   * `fail`: the step fails. `hang`: it never returns. `crash`: the process dies just before the
   * step (SIGKILL, power cut): neither it nor anything after it happens, finalizers included,
   * until the world is restarted with {@link restart}.
   */
  readonly kind: "fail" | "hang" | "crash"
  /** Only when the step concerns this version (deploy, checkout, snapshot). */
  readonly version?: string
  /** Let this many matching calls through first. */
  readonly after?: number
  /** Fire this many times (default: every time). */
  readonly times?: number
}

export interface TraceEntry {
  readonly at: number
  readonly step: Step
  readonly app: string
  readonly detail: string
}

export interface Deployment {
  readonly version: string
  readonly at: number
  readonly broken: boolean
  /** A chaos deploy's `chaos-version` label (absent: a release's deploy). */
  readonly chaos?: string
  /** The deployment this one updated in place (a deploy over a running stack): Swarm's previous spec. */
  readonly replaced?: { readonly version: string; readonly at: number }
}

/** The env file: its pin, its declared secrets, the recipe it names (absent: the spec's). */
export interface SimEnv {
  readonly pinned: Option.Option<string>
  readonly secrets: ReadonlyArray<string>
  readonly recipe?: string
  /** `ENABLE_AUTO_UPDATE=true` */
  readonly autoUpdate?: boolean
}

export interface SimApp {
  readonly spec: AppSpec
  readonly env: Option.Option<SimEnv>
  readonly deployment: Option.Option<Deployment>
  readonly volumes: ReadonlyMap<string, Files>
  readonly secretsGenerated: boolean
  /** The tag the recipe clone's work tree is at (the clone is shared by the apps of one recipe). */
  readonly checkout: Option.Option<string>
}

export interface SimSnapshot {
  readonly version: string
  readonly at: number
  readonly volumes: ReadonlyMap<string, Files>
  /** The exclude patterns the take left out, by volume (`snapshot.exclude`); absent: none. */
  readonly exclude?: ReadonlyMap<string, ReadonlyArray<string>>
  /** Older snapshots kept (`snapshot.keep`), newest first; absent: none. */
  readonly older?: ReadonlyArray<SimSnapshot>
}

export interface WorldState {
  readonly recipes: ReadonlyMap<string, RecipeSpec>
  readonly servers: ReadonlySet<string>
  readonly apps: ReadonlyMap<string, SimApp>
  readonly snapshots: ReadonlyMap<string, SimSnapshot>
  readonly diskFree: number
  readonly lastGood: ReadonlyMap<string, string>
  readonly holds: ReadonlyMap<string, HoldRecord>
  readonly history: ReadonlyArray<RunRecord>
  readonly inFlight: ReadonlyMap<string, InFlight>
  /** Per app, the records that exist but do not decode; writing a record makes it readable again. */
  readonly unreadable: ReadonlyMap<string, ReadonlySet<StateRecord>>
  /** Set by a `crash` fault: every later step fails without effect, as in a dead process. */
  readonly crashed: boolean
  readonly alerts: ReadonlyArray<Alert>
  readonly trace: ReadonlyArray<TraceEntry>
  readonly faults: ReadonlyArray<Fault>
  /** How many calls each fault has matched so far (index into `faults`). */
  readonly faultHits: HashMap.HashMap<number, number>
}

export interface WorldSetup {
  readonly recipes: Readonly<Record<string, RecipeSpec>>
  readonly apps: ReadonlyArray<AppSetup>
  readonly servers?: ReadonlyArray<string>
  readonly faults?: ReadonlyArray<Fault>
  /** Bytes free where snapshots go (default: unlimited); a volume's file counts its length. */
  readonly diskFree?: number
}

/** A fault the world injected: each service turns it into its own typed error. */
export class InjectedFault {
  readonly _tag = "InjectedFault"
  constructor(readonly step: Step, readonly detail: string) {}
  get message() {
    return `simulated failure of ${this.step} (${this.detail})`
  }
}

export const DEFAULT_STARTUP = Duration.seconds(2)
export const DEFAULT_RESTART_EVERY = Duration.seconds(5)

const toFiles = (record: Readonly<Record<string, string>>): Files => new Map(Object.entries(record))

export const initialState = (setup: WorldSetup): WorldState => ({
  recipes: new Map(Object.entries(setup.recipes)),
  servers: new Set(setup.servers ?? []),
  apps: new Map(setup.apps.map((a) => [a.spec.name, {
    spec: a.spec,
    env: a.env === false || (a.env === undefined && a.deployed === undefined && a.pinned === undefined)
      ? Option.none()
      : Option.some({
        pinned: Option.fromNullable(a.pinned),
        secrets: a.secrets ?? [],
        ...(a.envRecipe === undefined ? {} : { recipe: a.envRecipe }),
        ...(a.autoUpdate === undefined ? {} : { autoUpdate: a.autoUpdate })
      }),
    deployment: a.deployed === undefined
      ? Option.none()
      : Option.some({
        version: a.deployed,
        at: Number.NEGATIVE_INFINITY,
        broken: a.brokenUntilRedeploy ?? false,
        ...(a.chaos === undefined ? {} : { chaos: a.chaos })
      }),
    volumes: new Map(Object.entries(a.volumes ?? {}).map(([name, files]) => [name, toFiles(files)])),
    secretsGenerated: a.secretsGenerated ?? a.deployed !== undefined,
    checkout: Option.fromNullable(a.deployed)
  }])),
  snapshots: new Map(),
  diskFree: setup.diskFree ?? Number.POSITIVE_INFINITY,
  lastGood: new Map(setup.apps.flatMap((a) => a.lastGood === undefined ? [] : [[a.spec.name, a.lastGood]])),
  holds: new Map(),
  history: [],
  inFlight: new Map(),
  unreadable: new Map(setup.apps.flatMap((a) => a.unreadable?.length ? [[a.spec.name, new Set(a.unreadable)]] : [])),
  crashed: false,
  alerts: [],
  trace: [],
  faults: setup.faults ?? [],
  faultHits: HashMap.empty()
})

/** Has Swarm rolled this deployment back by itself by `now`? */
export const swarmRolledBack = (release: ReleaseSpec, deployment: Deployment, now: number): boolean =>
  deployment.replaced !== undefined && release.swarmRollbackAfter !== undefined &&
  now - deployment.at >= Duration.toMillis(release.swarmRollbackAfter)

/** Is the old task still serving through its grace period at `now`? */
export const oldTaskServing = (release: ReleaseSpec, deployment: Deployment, now: number): boolean =>
  deployment.replaced !== undefined && release.oldTaskServes !== undefined &&
  now - deployment.at < Duration.toMillis(release.oldTaskServes)

/**
 * The task that answers at `now`: the old one during its grace period or after Swarm's rollback
 * (its version and deployment), else the deployment itself.
 */
export const answeringAt = (release: ReleaseSpec, deployment: Deployment, now: number): Deployment =>
  deployment.replaced !== undefined &&
    (oldTaskServing(release, deployment, now) || swarmRolledBack(release, deployment, now))
    ? { version: deployment.replaced.version, at: deployment.replaced.at, broken: false }
    : deployment

/** The health a deployment shows at `now`: an HTTP status, or `undefined` for no answer. */
export const statusAt = (release: ReleaseSpec, deployment: Deployment, now: number): number | undefined => {
  if (deployment.broken) return 500
  const age = now - deployment.at
  const health = release.health ?? "healthy"
  if (health === "never") return age < Duration.toMillis(release.startup ?? DEFAULT_STARTUP) ? undefined : 500
  if (health === "crash-loop") return undefined
  if (typeof health === "object" && "timeline" in health) {
    const entry = health.timeline.findLast((e) => age >= Duration.toMillis(e.from))
    return entry?.status ?? undefined
  }
  const readyAfter = health === "healthy" ? release.startup ?? DEFAULT_STARTUP : health.healthyAfter
  return age >= Duration.toMillis(readyAfter) ? 200 : 503
}

/** Start times of the failed tasks a crash-looping deployment has produced by `now`. */
export const failedTasksAt = (release: ReleaseSpec, deployment: Deployment, now: number): Array<number> => {
  if (release.health !== "crash-loop" || !Number.isFinite(deployment.at)) return []
  const every = Duration.toMillis(release.restartEvery ?? DEFAULT_RESTART_EVERY)
  const count = Math.max(0, Math.floor((now - deployment.at) / every))
  return Array.from({ length: Math.min(count, 1000) }, (_, i) => deployment.at + (i + 1) * every)
}

export interface WorldApi {
  readonly state: Ref.Ref<WorldState>
  /**
   * Records a side effect in the trace and applies any fault injected into it: a failure, or a
   * hang that only a timeout or an interruption ends.
   */
  readonly step: (step: Step, app: string, detail: string, version?: string) => Effect.Effect<void, InjectedFault>
  readonly app: (name: string) => Effect.Effect<SimApp>
  readonly updateApp: (name: string, f: (app: SimApp) => SimApp) => Effect.Effect<void>
  readonly release: (recipe: string, version: string) => Effect.Effect<ReleaseSpec>
  readonly appByDomain: (domain: string) => Effect.Effect<Option.Option<SimApp>>
}

export class SimulatedWorld extends Context.Tag("warm-reconcile/SimulatedWorld")<SimulatedWorld, WorldApi>() {}

const matches = (fault: Fault, step: Step, version: string | undefined) =>
  (fault.step === "any" || fault.step === step) && (fault.version === undefined || fault.version === version)

export const make = (setup: WorldSetup): Effect.Effect<WorldApi> =>
  Effect.gen(function*() {
    const state = yield* Ref.make(initialState(setup))

    const step: WorldApi["step"] = (step, app, detail, version) =>
      Effect.gen(function*() {
        const at = yield* Clock.currentTimeMillis
        const fault = yield* Ref.modify(state, (s): [Fault | "dead" | undefined, WorldState] => {
          if (s.crashed) return ["dead", s]
          let hits = s.faultHits
          let fired: Fault | undefined
          s.faults.forEach((fault, i) => {
            if (fired !== undefined || !matches(fault, step, version)) return
            const seen = Option.getOrElse(HashMap.get(hits, i), () => 0)
            hits = HashMap.set(hits, i, seen + 1)
            const after = fault.after ?? 0
            if (seen >= after && (fault.times === undefined || seen < after + fault.times)) fired = fault
          })
          const entry: TraceEntry = {
            at,
            step,
            app,
            detail: fired ? `${detail} [${fired.kind === "crash" ? "crash before it" : `${fired.kind}s`}]` : detail
          }
          return [fired, { ...s, faultHits: hits, trace: [...s.trace, entry], crashed: fired?.kind === "crash" }]
        })
        if (fault === undefined) return
        if (fault === "dead") return yield* Effect.fail(new InjectedFault(step, "the process is dead"))
        if (fault.kind === "crash") return yield* Effect.fail(new InjectedFault(step, "the process was killed"))
        if (fault.kind === "hang") return yield* Effect.never
        return yield* Effect.fail(new InjectedFault(step, detail))
      })

    const app = (name: string) =>
      Ref.get(state).pipe(Effect.flatMap((s) => {
        const found = s.apps.get(name)
        return found ? Effect.succeed(found) : Effect.dieMessage(`the simulated world has no app ${name}`)
      }))

    const updateApp = (name: string, f: (app: SimApp) => SimApp) =>
      Ref.update(state, (s) => {
        const found = s.apps.get(name)
        if (!found) return s
        const apps = new Map(s.apps)
        apps.set(name, f(found))
        return { ...s, apps }
      })

    const release = (recipe: string, version: string) =>
      Ref.get(state).pipe(Effect.map((s) => s.recipes.get(recipe)?.releases?.[version] ?? {}))

    const appByDomain = (domain: string) =>
      Ref.get(state).pipe(
        Effect.map((s) => Option.fromNullable([...s.apps.values()].find((a) => a.spec.domain === domain)))
      )

    return { state, step, app, updateApp, release, appByDomain }
  })

/**
 * Boot again after a `crash`: the world keeps its state (disks, deployments) and runs again, with
 * the faults replaced (none by default).
 */
export const restart = (world: WorldApi, faults: ReadonlyArray<Fault> = []): Effect.Effect<void> =>
  Ref.update(world.state, (s) => ({ ...s, crashed: false, faults, faultHits: HashMap.empty() }))

export const layer = (setup: WorldSetup): Layer.Layer<SimulatedWorld> => Layer.effect(SimulatedWorld, make(setup))
