/**
 * Observe: gather the facts about one app (recipe tags, env file, secrets, what runs, the notes of
 * every version being skipped, its health when the plan depends on it) and plan. Read-only when
 * asked: nothing is created and no secret generated.
 */
import { Clock, Duration, Effect, Option, Order } from "effect"
import type { AppSpec } from "../domain/Config.js"
import { held } from "../domain/Hold.js"
import type { Outcome } from "../domain/Outcome.js"
import * as Plan from "../domain/Plan.js"
import { missingSecrets } from "../domain/Secrets.js"
import { type Soaking, soaking } from "../domain/Soak.js"
import { closest } from "../domain/Suggest.js"
import * as Version from "../domain/Version.js"
import { AbraError, Apps } from "../services/Apps.js"
import { Docker } from "../services/Docker.js"
import { Recipes } from "../services/Recipes.js"
import { State } from "../services/State.js"
import { ConfigMismatch } from "./Errors.js"
import { settled, SHORT_STEP, within } from "./Steps.js"

export interface ReconcileOptions {
  /** Use the recipe clone as it is (`--skip-fetch`): lets a rehearsal stage a fake latest tag. */
  readonly skipFetch?: boolean
  /** Called when the run is interrupted, after any rollback has finished, with what it ended as. */
  readonly onInterrupted?: (outcome: Outcome) => Effect.Effect<void>
  /** The IANA zone maintenance windows are read in; this machine's when absent. */
  readonly timeZone?: string
}

/** What a reconcile saw before acting: the facts, the stage, the notes read, and the plan. */
export interface Observation {
  readonly facts: Plan.Facts
  /** Absent when a person's work decided the plan before any version was looked at. */
  readonly stage?: Plan.Stage
  readonly notes: ReadonlyMap<string, string>
  /** Did the running app answer healthy (only probed when the plan depends on it)? */
  readonly healthy: boolean
  readonly plan: Plan.Plan
  /** Whether the app's env file existed (a read-only look does not create it). */
  readonly envExists: boolean
  readonly missingSecrets: ReadonlyArray<string>
  /** Releases newer than the running one that are still soaking (`minReleaseAge`), oldest first. */
  readonly soaking: ReadonlyArray<Soaking>
}

/** No env file, and the config does not say `create`: exit 2 naming the path and the likeliest domain. */
const missingEnvFile = (app: AppSpec) =>
  Effect.gen(function*() {
    const apps = yield* Apps
    const known = yield* apps.domains(app.server).pipe(within(app, "app list", SHORT_STEP))
    const hint = Option.match(closest(app.domain, known), {
      onSome: (domain) => `; did you mean ${domain}?`,
      onNone: () =>
        known.length === 0
          ? `; abra knows no app on server ${app.server}`
          : `; no domain on server ${app.server} is close`
    })
    return yield* new ConfigMismatch({
      app: app.name,
      message: `${app.name}: no env file at ${apps.envPath(app)}${hint} (set "create": true to create the app)`
    })
  })

/**
 * Does abra know the app's server (a directory under `servers/`, as `abra server ls` lists them)?
 * The read-only twin of `ensureServer` (which asks abra, and may add the local server): `plan`, a
 * run outside its window and `config check` look, write nothing and run no abra command.
 */
export const knownServer = (app: AppSpec) =>
  Effect.gen(function*() {
    const servers = yield* (yield* Apps).servers().pipe(within(app, "server", SHORT_STEP))
    if (servers.includes(app.server)) return
    return yield* new AbraError({
      app: app.server,
      operation: "server ls",
      message: `abra does not know the server ${app.server}: add it with \`abra server add\` first`
    })
  })

/** The env file must be the app's recipe's: another recipe's file means the config names the wrong app. */
const sameRecipe = (app: AppSpec) =>
  Effect.gen(function*() {
    const apps = yield* Apps
    const settings = yield* apps.readSettings(app).pipe(within(app, "env read", SHORT_STEP))
    const recipe = Option.flatMap(settings, (s) => s.recipe)
    if (Option.isNone(recipe) || recipe.value === app.recipe) return
    return yield* new ConfigMismatch({
      app: app.name,
      message: `${app.name}: the env file ${apps.envPath(app)} is for the recipe ${recipe.value}, the config says ` +
        `${app.recipe}: fix the recipe or the domain in the config`
    })
  })

/**
 * The env file, checked as every run checks it before anything is fetched or written: none is a
 * typo or an app not set up (exit 2, naming the likeliest domain) unless the config says `create`;
 * one for another recipe means the config names the wrong app.
 */
export const checkedEnv = (app: AppSpec) =>
  Effect.gen(function*() {
    const env = yield* (yield* Apps).readEnv(app).pipe(within(app, "env read", SHORT_STEP))
    if (Option.isNone(env) && !app.create) return yield* missingEnvFile(app)
    if (Option.isSome(env)) yield* sameRecipe(app)
    return env
  })

/**
 * The releases newer than the running version still soaking (`minReleaseAge`); none without a
 * soak time or a running version (a fresh deploy is not held back): the tag dates are read only then.
 */
const soakingReleases = (app: AppSpec, tags: ReadonlyArray<string>, current: Option.Option<string>) =>
  Effect.gen(function*() {
    const running = Option.flatMap(current, Version.parse)
    if (app.minReleaseAge === undefined || Duration.toMillis(app.minReleaseAge) <= 0 || Option.isNone(running)) {
      return []
    }
    const newer = Version.sortTags(tags).filter((v) => Order.greaterThan(Version.order)(v, running.value))
    if (newer.length === 0) return []
    const dates = yield* (yield* Recipes).tagDates(app.recipe).pipe(within(app, "tag dates", SHORT_STEP))
    return soaking(newer.map((v) => v.tag), dates, app.minReleaseAge, yield* Clock.currentTimeMillis)
  })

/**
 * Gather the facts and plan. With `readOnly`, nothing is changed: no server is added, no env file
 * is created and no secret generated (what would be done is reported instead).
 */
export const observe = (app: AppSpec, options: ReconcileOptions & { readonly readOnly?: boolean } = {}) =>
  Effect.gen(function*() {
    const apps = yield* Apps
    const recipes = yield* Recipes
    const docker = yield* Docker
    const readOnly = options.readOnly ?? false

    // The server is only looked up (added only for an app the config lets create), then the env
    // file, before anything is fetched or written: what a person set up decides what a run may touch.
    // No env file is a typo or an app not set up, unless the config says create.
    // Read-only (plan, outside the window): only looked at; an app to create may get the local
    // server added by the run, so it is not required yet.
    if (!readOnly) yield* apps.ensureServer(app.server, app.create).pipe(within(app, "server", SHORT_STEP))
    else if (!app.create) yield* knownServer(app)
    let env = yield* checkedEnv(app)
    const envExists = Option.isSome(env)

    // A person's chaos deploy, or an app a person took down, is left as it is.
    const deployed = yield* docker.isDeployed(app.stack).pipe(within(app, "deployed check", SHORT_STEP))
    if (Option.isSome(env)) {
      const pinned = env.value.pinned
      const chaosVersion = deployed
        ? yield* docker.chaosVersion(app.stack).pipe(within(app, "chaos labels", SHORT_STEP))
        : Option.none<string>()
      const aside = Plan.beside({
        deployed,
        chaosVersion,
        keepDeployed: app.keepDeployed,
        pinned,
        policy: app.upgrade
      })
      if (Option.isSome(aside)) {
        yield* Effect.logInfo(`plan: ${aside.value._tag} (left as a person left it)`)
        return {
          facts: { deployed, current: Option.orElse(chaosVersion, () => pinned), tags: [], policy: app.upgrade },
          notes: new Map(),
          healthy: false,
          plan: aside.value,
          envExists,
          missingSecrets: [],
          soaking: []
        } satisfies Observation
      }
    }

    if (options.skipFetch) yield* Effect.logInfo(`skip fetch: using the local ${app.recipe} recipe clone as it is`)
    else yield* recipes.fetch(app.recipe).pipe(within(app, "fetch", SHORT_STEP))
    const tags = yield* recipes.tags(app.recipe).pipe(within(app, "tags", SHORT_STEP))

    // The env file: created at the latest version when the config says so (`create`).
    if (Option.isNone(env) && !readOnly) {
      const first = Plan.classify({ deployed: false, current: Option.none(), tags, policy: app.upgrade })
      if (first._tag === "FreshDeploy") {
        yield* apps.create(app, first.version.tag).pipe(within(app, "app new", SHORT_STEP))
        env = yield* apps.readEnv(app).pipe(within(app, "env read", SHORT_STEP))
        if (Option.isNone(env)) {
          return yield* new AbraError({
            app: app.name,
            operation: "app new",
            message: `abra app new left no env file for ${app.domain}`
          })
        }
      }
    }
    const appEnv = Option.getOrElse(
      env,
      () => ({ pinned: Option.none<string>(), secrets: [] as ReadonlyArray<string> })
    )

    const present = yield* docker.secrets(app.stack).pipe(within(app, "secret list", SHORT_STEP))
    const missing = missingSecrets(app.stack, appEnv.secrets, present)
    if (missing.length > 0 && !readOnly) {
      yield* Effect.logInfo(`generate missing secrets: ${missing.join(", ")}`)
      yield* apps.generateSecrets(app).pipe(within(app, "secret generate", SHORT_STEP))
    }

    const current = Option.isSome(appEnv.pinned) || !deployed
      ? appEnv.pinned
      : yield* docker.deployedVersion(app.stack).pipe(within(app, "deployed version", SHORT_STEP))
    const soaking = yield* soakingReleases(app, tags, deployed ? current : Option.none())
    const facts: Plan.Facts = { deployed, current, tags, policy: app.upgrade, soaking: soaking.map((s) => s.tag) }
    const stage = Plan.classify(facts)

    // Read the notes of every version being skipped, not only the target's.
    const notes = new Map<string, string>()
    if (stage._tag === "Candidate") {
      for (const v of stage.skipped) {
        const text = yield* recipes.releaseNotes(app.recipe, v.tag).pipe(within(app, "release notes", SHORT_STEP))
        if (Option.isSome(text)) notes.set(v.tag, text.value)
      }
    }
    const previousHold = yield* (yield* State).hold(app.name).pipe(within(app, "hold read", SHORT_STEP))
    const failedRelease = Option.getOrUndefined(
      Option.flatMap(previousHold, (h) => h.reason === held("failed-release") ? Option.some(h.to) : Option.none())
    )
    const healthy = Plan.needsHealth(facts, stage, notes, failedRelease)
      ? yield* settled(app, Option.getOrElse(current, () => "unknown"))
      : false
    const plan = Plan.plan(facts, stage, { healthy, notes, failedRelease })
    // A plan that checks the clone out must find it clean now, before anything is undeployed: a
    // person's edit there is found here, not after the undeploy and the snapshot.
    if (plan._tag === "Upgrade" || plan._tag === "Redeploy" || plan._tag === "FreshDeploy") {
      yield* recipes.checkClean(app.recipe).pipe(within(app, "clone status", SHORT_STEP))
    }
    yield* Effect.logInfo(`plan: ${plan._tag}`)
    return { facts, stage, notes, healthy, plan, envExists, missingSecrets: missing, soaking } satisfies Observation
  })
