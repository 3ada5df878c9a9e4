import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Live-layer tests spawn real processes and servers: give them room on a 2-core machine.
    testTimeout: 30_000,
    hookTimeout: 30_000
  }
})
