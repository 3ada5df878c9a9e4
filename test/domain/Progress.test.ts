import { describe, expect, it } from "@effect/vitest"
import { bar, clock, line, parseRsync, size } from "../../src/domain/Progress.js"

describe("Progress", () => {
  it("reads rsync's --info=progress2 lines: bytes, the total from the percentage, files from to-chk", () => {
    // As rsync 3.2 writes them, each ended by a carriage return.
    const chunk = "         32,768   0%    0.00kB/s    0:00:00  \r" +
      "        200,000   0%   26.58MB/s    0:00:00 (xfr#1, to-chk=199/201)\r" +
      "     10,000,000  25%   60.11MB/s    0:00:03 (xfr#50, to-chk=151/201)\r"
    expect(parseRsync(chunk)).toEqual({ bytes: 10_000_000, files: 50, totalBytes: 40_000_000, totalFiles: 201 })
    // The first lines alone: no percentage yet, so no total.
    expect(parseRsync("         32,768   0%    0.00kB/s    0:00:00  \r")).toEqual({ bytes: 32_768, files: 0 })
    // While rsync still lists the tree (ir-chk), the file total is not final: left out.
    expect(parseRsync("  4,000  10%  1.00MB/s  0:00:01 (xfr#3, ir-chk=10/40)\r")).toEqual({
      bytes: 4_000,
      files: 3,
      totalBytes: 40_000
    })
    expect(parseRsync("sending incremental file list\n")).toBeUndefined()
  })

  it("a line says what is done, of how much, the rate and what is left", () => {
    const s = { bytes: 1.5 * 2 ** 30, files: 27_000, totalBytes: 6 * 2 ** 30, totalFiles: 90_000 }
    // 1.5 GiB in 10 s: 153.6 MiB/s, 4.5 GiB left: 30 s.
    expect(line("snapshot of db", s, 10_000)).toBe(
      "snapshot of db: 1.5 GiB of 6.0 GiB (25%), 27,000 of 90,000 files, 153.6 MiB/s, 0:30 left"
    )
    expect(line("hashing", { bytes: 512, files: 1 }, 1000)).toBe("hashing: 512 B, 1 files, 512 B/s")
    expect(bar(s, 8)).toBe("[##......]")
    expect(bar({ bytes: 1, files: 1 }, 4)).toBe("[....]")
    expect([clock(65), clock(3725), size(1023), size(1024)]).toEqual(["1:05", "1:02:05", "1023 B", "1.0 KiB"])
  })
})
