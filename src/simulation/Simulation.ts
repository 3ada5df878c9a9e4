/**
 * Every service's in-memory layer over one simulated world.
 */
import { Effect, Layer } from "effect"
import * as Alerts from "./Alerts.js"
import * as Apps from "./Apps.js"
import * as Docker from "./Docker.js"
import * as Health from "./Health.js"
import * as Recipes from "./Recipes.js"
import * as Snapshots from "./Snapshots.js"
import * as State from "./State.js"
import * as World from "./World.js"

/** Every service in memory, over a world the caller already holds (to inspect it afterwards). */
export const layerFor = (world: World.WorldApi) =>
  Layer.mergeAll(
    Apps.layerTest,
    Alerts.layerTest,
    Docker.layerTest,
    Health.layerTest,
    Recipes.layerTest,
    Snapshots.layerTest,
    State.layerTest
  ).pipe(Layer.provideMerge(Layer.succeed(World.SimulatedWorld, world)))

/** Every service in memory over a new world built from `setup` (provided too, for inspection). */
export const layer = (setup: World.WorldSetup) => Layer.unwrapEffect(Effect.map(World.make(setup), layerFor))
