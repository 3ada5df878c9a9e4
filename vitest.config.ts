import { availableParallelism } from "node:os"
import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The end-to-end suite needs a real Docker engine: `npm run test:e2e` runs it.
    exclude: ["test/e2e/**", "node_modules/**"],
    // The CLI tests run the bundle: (re)build it once per run when it is missing or stale.
    globalSetup: ["test/support/bundle.ts"],
    // vitest's default leaves one core idle (one worker on 2 cores), yet many files mostly wait on
    // child processes, git and servers: one worker per core, and at least two.
    maxWorkers: Math.max(2, availableParallelism()),
    // Live-layer tests spawn real processes and servers: give them room on a 2-core machine.
    testTimeout: 30_000,
    hookTimeout: 30_000
  }
})
