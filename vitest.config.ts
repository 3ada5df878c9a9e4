import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The end-to-end suite needs a real Docker engine: `npm run test:e2e` runs it.
    exclude: ["test/e2e/**", "node_modules/**"],
    // Live-layer tests spawn real processes and servers: give them room on a 2-core machine.
    testTimeout: 30_000,
    hookTimeout: 30_000
  }
})
