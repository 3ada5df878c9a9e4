/**
 * The contract suite's harness: one set of cases per service, run against each twin of it: the
 * live layer on its real parts (files in temp dirs, git, tar, the fake abra, the fake Engine API, a
 * local HTTPS server) and the in-memory layer over a simulated world.
 *
 * A twin is a fixture: how to build a fresh world for one case (and the layer over it), in the
 * vocabulary the cases of that service speak ("an app deployed at X", "a recipe with tags A, B"),
 * and how its time runs. The cases only speak that vocabulary and the service's contract, so a
 * case that passes on one twin and fails on the other is a divergence between the twins.
 */
import { NodeContext } from "@effect/platform-node"
import { describe, it } from "@effect/vitest"
import { Effect, Exit, Layer } from "effect"
import type { Scope } from "effect"
import { AppConfig, AppName, appSpec, HealthConfig } from "../../src/domain/Config.js"
import { runOnVirtualClock } from "../../src/simulation/VirtualClock.js"
import * as World from "../../src/simulation/World.js"
import type { AbraWorld } from "../support/fakeAbra.js"
import { makeAbraWorld } from "../support/fakeAbra.js"
import { tempDir } from "../support/files.js"

export type TwinName = "live" | "simulated"

export interface Twin<W> {
  readonly name: TwinName
  /** A fresh world for one case, and the layer over it; torn down with the case's scope. */
  readonly world: Effect.Effect<W, unknown, Scope.Scope>
  /** How the case's time runs: real time for the live twin, virtual time for the simulated one. */
  readonly run: <A, E>(effect: Effect.Effect<A, E, Scope.Scope>) => Effect.Effect<A, E, Scope.Scope>
}

export type Case<W> = (name: string, body: (world: W) => Effect.Effect<void, unknown, Scope.Scope>) => void

/** Real time: the live layers talk to real processes, files and servers. */
export const realTime = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>) => effect

/** Virtual time: a case that waits (a lock, a timeout) takes no real time in the simulation. */
export const virtualTime = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>) =>
  Effect.flatMap(runOnVirtualClock(effect), (exit): Effect.Effect<A, E> => exit)

/** The live twin: real time, over the world `world` builds. */
export const live = <W>(world: Twin<W>["world"]): Twin<W> => ({ name: "live", run: realTime, world })

/** The simulated twin: virtual time, over the world `world` builds. */
export const simulated = <W>(world: Twin<W>["world"]): Twin<W> => ({ name: "simulated", run: virtualTime, world })

/** Register the same cases, once per twin: `<service> contract › <twin> › <case>`. */
export const suite = <W>(service: string, twins: ReadonlyArray<Twin<W>>, cases: (test: Case<W>) => void) =>
  describe(`${service} contract`, () => {
    for (const twin of twins) {
      describe(twin.name, () => {
        cases((name, body) => it.scopedLive(name, () => twin.run(Effect.flatMap(twin.world, body))))
      })
    }
  })

/** A temp dir of the live world, removed with the case's scope. */
export const scratchDir = (prefix: string) => tempDir(prefix).pipe(Effect.provide(NodeContext.layer))

/** A simulated world from `setup`, the in-memory layer over it, and the world to look at afterwards. */
export const simulatedWorld = <ROut, E>(
  setup: World.WorldSetup,
  layer: Layer.Layer<ROut, E, World.SimulatedWorld>
) =>
  Effect.gen(function*() {
    const world = yield* World.make(setup)
    const context = yield* Layer.build(layer.pipe(Layer.provide(Layer.succeed(World.SimulatedWorld, world))))
    return { world, context }
  })

/** Build a layer that needs at most the Node platform (given here) for one case's scope. */
export const layerContext = <ROut, E, RIn extends NodeContext.NodeContext>(layer: Layer.Layer<ROut, E, RIn>) =>
  Layer.build(layer.pipe(Layer.provide(NodeContext.layer)) as Layer.Layer<ROut, E>)

/** The typed error of an effect that must fail; a success or a defect fails the case. */
export const failureOf = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Effect.exit(effect), (exit) =>
    Exit.isFailure(exit) && exit.cause._tag === "Fail"
      ? Effect.succeed(exit.cause.error)
      : Effect.dieMessage(`expected a typed failure, got ${Exit.isSuccess(exit) ? "a success" : String(exit.cause)}`))

/** The app every contract case is about (stack `id_example_org`). */
export const contractApp = (health: ConstructorParameters<typeof HealthConfig>[0] = {}) =>
  appSpec(
    AppName.make("keycloak"),
    new AppConfig({ recipe: "keycloak", domain: "id.example.org", health: HealthConfig.make(health) })
  )

/** A world with only the contract app in it. */
export const appOnly: World.WorldSetup = { recipes: {}, apps: [{ spec: contractApp() }] }

/**
 * The fake abra first on PATH for the whole file (its processes inherit the environment), with no
 * knob from outside. Call at the top of a test file; answers the shared fake-abra world.
 */
export const fakeAbraOnPath = (hooks: {
  readonly beforeAll: (f: () => void) => void
  readonly afterAll: (f: () => void) => void
}): { readonly get: () => AbraWorld } => {
  const names = [
    "PATH",
    "FAKE_ABRA_RECIPES",
    "FAKE_ABRA_FAIL",
    "FAKE_ABRA_HANG",
    "FAKE_ABRA_DEPLOY_DELAY_MS",
    "FAKE_ABRA_PAUSE_DIR"
  ]
  const saved = new Map<string, string | undefined>()
  let shared: AbraWorld | undefined
  hooks.beforeAll(() => {
    shared = makeAbraWorld()
    for (const name of names) {
      saved.set(name, process.env[name])
      delete process.env[name]
    }
    process.env.PATH = shared.env.PATH!
    process.env.FAKE_ABRA_RECIPES = shared.recipesSource
  })
  hooks.afterAll(() => {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name]
      else process.env[name] = value
    }
    shared?.cleanup()
  })
  return {
    get: () => {
      if (shared === undefined) throw new Error("the fake abra is set up in beforeAll")
      return shared
    }
  }
}
