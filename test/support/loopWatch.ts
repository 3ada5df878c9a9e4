/**
 * Says which test starved the event loop. Vitest's worker answers its runner over RPC with a 60 s
 * timeout; a test that keeps the loop busy that long fails the whole run with "Timeout calling
 * onTaskUpdate", naming no test. This setup file prints the test that held the loop for 10 s or
 * more, so the culprit is named long before that.
 */
import { afterAll, beforeAll, expect } from "vitest"

const TICK_MS = 500
const REPORT_MS = 10_000

let timer: NodeJS.Timeout | undefined
beforeAll(() => {
  let last = performance.now()
  timer = setInterval(() => {
    const now = performance.now()
    if (now - last >= REPORT_MS) {
      process.stderr.write(
        `event loop blocked for ${((now - last) / 1000).toFixed(1)} s during: ${expect.getState().currentTestName}\n`
      )
    }
    last = now
  }, TICK_MS)
  timer.unref()
})
afterAll(() => clearInterval(timer))
