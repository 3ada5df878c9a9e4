/** Every service on the real server, from one config: what `reconcile` and `plan` run on. */
import { NodeContext } from "@effect/platform-node"
import { Layer } from "effect"
import type { Docker as DockerService } from "../services/Docker.js"
import * as Alerts from "./Alerts.js"
import * as Apps from "./Apps.js"
import * as Docker from "./Docker.js"
import * as Health from "./Health.js"
import * as ProcessRunner from "./ProcessRunner.js"
import * as Recipes from "./Recipes.js"
import * as Snapshots from "./Snapshots.js"
import * as State from "./State.js"

export interface LiveOptions {
  readonly stateDir: string
  readonly abraDir: string
  /** The Docker layer; default: the Engine API socket named by DOCKER_HOST, else /var/run/docker.sock. */
  readonly docker?: Layer.Layer<DockerService>
}

export const layer = (options: LiveOptions) => {
  const docker = options.docker ?? Docker.layer
  return Layer.mergeAll(
    Apps.layer({ abraDir: options.abraDir }),
    Recipes.layer({ abraDir: options.abraDir }),
    Snapshots.layer({ stateDir: options.stateDir }),
    Alerts.layer({ stateDir: options.stateDir }),
    State.layer({ stateDir: options.stateDir }),
    Health.layer
  ).pipe(
    Layer.provideMerge(docker),
    Layer.provideMerge(ProcessRunner.layer),
    Layer.provideMerge(NodeContext.layer)
  )
}
