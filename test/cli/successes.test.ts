/**
 * The run summary, as an operator who asked for it gets it: `reconcile --all` (the CLI entry point,
 * a child process) sends one summary to the ntfy channel that asked for `summary`, none to the
 * Gotify channel that did not, and the result line and the exit code are those of a run without
 * channels. The app is paused, so that the run costs one process and no abra (the upgrade notice of
 * a real upgrade is checked in test/live/reconcile.test.ts, which pays for an upgrade already).
 */
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { cli } from "../support/cli.js"
import { tempDir } from "../support/files.js"
import { notifyServer } from "../support/notifyServers.js"

describe("successes", () => {
  it.scopedLive("reconcile --all: one summary, to the channel that asked and no other; the exit code unchanged", () =>
    Effect.gen(function*() {
      const root = yield* tempDir("warm-reconcile-successes-")
      const ntfy = yield* notifyServer("ntfy", { secret: "tok" })
      const gotify = yield* notifyServer("gotify", { secret: "AppToken" })
      const stateDir = Path.join(root, "state")
      const config = Path.join(root, "config.json")
      Fs.mkdirSync(Path.join(root, "abra", "servers"), { recursive: true })
      Fs.writeFileSync(
        config,
        JSON.stringify({
          stateDir,
          abraDir: Path.join(root, "abra"),
          apps: { pad: { recipe: "pad", domain: "pad.example.org", enabled: false } },
          notify: [
            { name: "phone", url: `ntfy://tok@127.0.0.1:${ntfy.port}/ops?disabletls=yes`, successes: ["summary"] },
            { url: `gotify://127.0.0.1:${gotify.port}/AppToken?disabletls=yes`, successes: ["upgraded"] }
          ]
        })
      )
      const run = yield* cli(["reconcile", "--all", "--config", config])
      expect(run.code, run.stderr).toBe(0)
      expect(run.stdout).toContain("RECONCILE RESULT pad: paused:enabled=false")
      expect(ntfy.accepted.map((r) => String(r.json["title"]))).toEqual([
        expect.stringMatching(
          /^\[warm-reconcile\] .+: run of 1 app: 0 upgraded, 0 held, 0 rolled back, 0 failed, 1 unchanged$/
        )
      ])
      expect(String(ntfy.accepted[0]!.json["message"])).toContain("**Unchanged:** pad")
      expect(gotify.requests).toEqual([])
      // Taken by every channel that asked: nothing is left in the outbox.
      expect(Fs.readdirSync(Path.join(stateDir, "alerts", "notices"))).toEqual([])
    }).pipe(Effect.provide(NodeContext.layer)))
})
