/**
 * `warm-reconcile`: the program, the pure domain and the service contracts. The real layers are in
 * `warm-reconcile/live`, the simulated world in `warm-reconcile/testing`.
 */
export * as Alert from "./domain/Alert.js"
export * as Config from "./domain/Config.js"
export * as EnvFile from "./domain/EnvFile.js"
export * as Outcome from "./domain/Outcome.js"
export * as Plan from "./domain/Plan.js"
export * as Policy from "./domain/Policy.js"
export * as Redaction from "./domain/Redaction.js"
export * as ReleaseNotes from "./domain/ReleaseNotes.js"
export * as Version from "./domain/Version.js"
export * as HealthGate from "./reconcile/HealthGate.js"
export * as Reconcile from "./reconcile/Reconcile.js"
export * as Alerts from "./services/Alerts.js"
export * as Apps from "./services/Apps.js"
export * as Docker from "./services/Docker.js"
export * as Health from "./services/Health.js"
export * as ProcessRunner from "./services/ProcessRunner.js"
export * as Recipes from "./services/Recipes.js"
export * as Snapshots from "./services/Snapshots.js"
export * as State from "./services/State.js"
