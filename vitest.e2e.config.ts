import { defineConfig } from "vitest/config"

// The end-to-end suite on a real Docker engine: `npx vitest run -c vitest.e2e.config.ts` (as root).
export default defineConfig({
  test: {
    include: ["test/e2e/**/*.test.ts"],
    // e2e.test.ts skips its engine scenarios unless run through this config.
    env: { WARM_RECONCILE_E2E: "1" },
    // The CLI runs as shipped, the esbuild bundle (about 0.2 s a start where tsx takes over a
    // second, and the sweeps start it about fifty times): (re)built once per run when stale.
    globalSetup: ["test/support/bundle.ts"],
    // One engine, one stack: never two files or scenarios at once.
    fileParallelism: false,
    // Each scenario deploys, undeploys and waits out health deadlines on a 2-core machine.
    testTimeout: 10 * 60_000,
    hookTimeout: 10 * 60_000
  }
})
