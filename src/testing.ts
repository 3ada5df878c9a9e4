/**
 * `warm-reconcile/testing`: the simulated world, so that other ops scripts can rehearse broken
 * releases against the real program without touching a server.
 */
export * as SimulatedAlerts from "./simulation/Alerts.js"
export * as SimulatedApps from "./simulation/Apps.js"
export * as SimulatedDocker from "./simulation/Docker.js"
export * as SimulatedHealth from "./simulation/Health.js"
export * as SimulatedRecipes from "./simulation/Recipes.js"
export * as Rehearsal from "./simulation/Rehearsal.js"
export * as Scenarios from "./simulation/Scenarios.js"
export * as Simulation from "./simulation/Simulation.js"
export * as SimulatedSnapshots from "./simulation/Snapshots.js"
export * as SimulatedState from "./simulation/State.js"
export * as VirtualClock from "./simulation/VirtualClock.js"
export * as World from "./simulation/World.js"
