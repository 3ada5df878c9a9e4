import { availableParallelism } from "node:os"
import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The end-to-end suite needs a real Docker engine: `npm run test:e2e` runs it.
    // The restore sweep, the store's kill sweep and the second file of its random trees run in the deep
    // run (`npm run test:deep`), and in the mutation checks (scripts/mutants.ts sets WARM_ALL_SWEEPS).
    exclude: [
      "test/e2e/**",
      "node_modules/**",
      ...(process.env["WARM_ALL_SWEEPS"] === "1"
        ? []
        : ["test/live/RestoreSweep.test.ts", "test/live/SnapshotRandom.test.ts", "test/live/StoreKillSweep.test.ts"])
    ],
    // The CLI tests run the bundle: (re)build it once per run when it is missing or stale.
    globalSetup: ["test/support/bundle.ts"],
    // Names a test that starves the event loop (vitest's RPC gives up after 60 s, naming none).
    setupFiles: ["test/support/loopWatch.ts"],
    // vitest's default leaves one core idle (one worker on 2 cores), yet many files mostly wait on
    // child processes, git and servers: one worker per core, and at least two.
    maxWorkers: Math.max(2, availableParallelism()),
    // Files share their worker's module cache: importing Effect and the platform anew for each of
    // 70 files cost about 2 minutes of the run (collect 117 s -> 10 s, the run 258 s -> 149 s on 2
    // cores). Tests that change process-wide state (PATH, the umask) put it back themselves.
    isolate: false,
    // Live-layer tests spawn real processes and servers: give them room on a 2-core machine.
    testTimeout: 30_000,
    hookTimeout: 30_000
  }
})
