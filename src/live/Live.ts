/**
 * Every service on the real server, from one config: what `reconcile` and `plan` run on. Secret
 * values of the apps' env files are kept out of alerts, the run history and log lines here, so
 * that a library user running the program on this layer gets the same redaction as the CLI.
 */
import { NodeContext } from "@effect/platform-node"
import { Layer } from "effect"
import type { AppSpec } from "../domain/Config.js"
import type { Docker as DockerService } from "../services/Docker.js"
import * as Alerts from "./Alerts.js"
import * as Apps from "./Apps.js"
import * as Docker from "./Docker.js"
import * as Health from "./Health.js"
import * as ProcessRunner from "./ProcessRunner.js"
import * as Recipes from "./Recipes.js"
import * as Redaction from "./Redaction.js"
import * as Snapshots from "./Snapshots.js"
import * as State from "./State.js"

export interface LiveOptions {
  readonly stateDir: string
  readonly abraDir: string
  /** The Docker layer; default: the Engine API socket named by DOCKER_HOST, else /var/run/docker.sock. */
  readonly docker?: Layer.Layer<DockerService>
  /**
   * The apps whose env files' secret values are scrubbed from the start (the CLI: every configured
   * app); the env file of any other app is learned when the program reads it.
   */
  readonly apps?: ReadonlyArray<AppSpec>
}

export const layer = (options: LiveOptions) => {
  const docker = options.docker ?? Docker.layer
  const services = Layer.mergeAll(
    Apps.layer({ abraDir: options.abraDir }),
    Recipes.layer({ abraDir: options.abraDir }),
    Snapshots.layer({ stateDir: options.stateDir }),
    Alerts.layer({ stateDir: options.stateDir }),
    State.layer({ stateDir: options.stateDir }),
    Health.layer,
    Redaction.layer({ abraDir: options.abraDir, apps: options.apps ?? [] })
  ).pipe(
    Layer.provideMerge(docker),
    Layer.provideMerge(ProcessRunner.layer),
    Layer.provideMerge(NodeContext.layer)
  )
  return Redaction.redactLogs.pipe(
    Layer.provideMerge(Layer.map(services, (context) => Redaction.redacting(options.abraDir, context)))
  )
}
