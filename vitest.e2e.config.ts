import { defineConfig } from "vitest/config"

// The end-to-end suite on a real Docker engine: `npx vitest run -c vitest.e2e.config.ts` (as root).
export default defineConfig({
  test: {
    include: ["test/e2e/**/*.test.ts"],
    // e2e.test.ts skips its engine scenarios unless run through this config.
    env: { WARM_RECONCILE_E2E: "1" },
    // The CLI runs as shipped, the esbuild bundle (about 0.2 s a start where tsx takes over a
    // second, and the sweeps start it about fifty times): (re)built once per run when stale. One
    // engine for the whole run, started before the first file and stopped after the last.
    globalSetup: ["test/support/bundle.ts", "test/e2e/engineSetup.ts"],
    // Two files at a time, on one engine: each file deploys stacks of its own names and waits on
    // them, mostly idle (health deadlines, Swarm's convergence), so the kill -9 sweep (about 8 of
    // the suite's 16 minutes one after another) runs beside the other files. Scenarios within a
    // file stay in order.
    fileParallelism: true,
    maxWorkers: 2,
    minWorkers: 1,
    // Each scenario deploys, undeploys and waits out health deadlines on a 2-core machine.
    testTimeout: 10 * 60_000,
    hookTimeout: 10 * 60_000
  }
})
