import { defineConfig } from "vitest/config"

/**
 * The deep run (`npm run test:deep`, run by `.ci/run` after `npm test`): the random worlds, 5,000
 * per file from its fixed seed and 2,500 from a fresh one (test/reconcile/PropertySuite.ts), and the
 * recovery sweep with every third second crash point (`npm test` takes every seventy-second), the
 * delivery sweep over every alerting scenario, the fault sweep's every case (`npm test`: one kind
 * per target), the snapshot store's round trips on XFS with reflinks, the restore sweep, kill -9 at
 * every point of the store's pre-copy, take and restore (about 3 minutes), and the
 * store's random trees from 40 seeds in each of its two files (`npm test`: 2).
 * A config of its own rather than a size read by `npm test`, so that `npm test` can never run it by
 * accident, and so that it needs no bundle: no CLI test runs here.
 */
export default defineConfig({
  test: {
    include: [
      "test/reconcile/Properties.test.ts",
      "test/reconcile/Properties2.test.ts",
      "test/reconcile/Recovery.test.ts",
      "test/reconcile/DeliverySweep.test.ts",
      "test/reconcile/Faults.test.ts",
      // The snapshot store's round trips again, now also on a loop-mounted XFS with reflinks, and
      // the restore's sweep of every rename and fsync.
      "test/live/Snapshots.test.ts",
      "test/live/RestoreSweep.test.ts",
      "test/live/StoreKillSweep.test.ts",
      "test/live/SnapshotStreams.test.ts",
      "test/live/SnapshotRandom.test.ts"
    ],
    env: { WARM_DEEP: "1", WARM_RANDOM_SNAPSHOT_SEEDS: "40" },
    // Names a test that starves the event loop (vitest's RPC gives up after 60 s, naming none).
    setupFiles: ["test/support/loopWatch.ts"],
    testTimeout: 1_800_000
  }
})
