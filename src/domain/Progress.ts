/**
 * Progress of a long snapshot step (a copy, a hash pass, a restore): what is done, the rate, what
 * is left. Pure: the numbers come from rsync's `--info=progress2` lines or from the hashing loop,
 * the clock from the caller.
 */

export interface Sample {
  readonly bytes: number
  readonly files: number
  /** Known once rsync has listed the tree (`--no-inc-recursive`), or never for a hash pass. */
  readonly totalBytes?: number
  readonly totalFiles?: number
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"] as const

/** `1.2 GiB`: short, for a line that is redrawn or logged every few seconds. */
export const size = (bytes: number): string => {
  let n = bytes
  let unit = 0
  while (n >= 1024 && unit < UNITS.length - 1) {
    n /= 1024
    unit++
  }
  return unit === 0 ? `${n} B` : `${n.toFixed(1)} ${UNITS[unit]}`
}

/** `1:05` or `1:02:05`. */
export const clock = (seconds: number): string => {
  const s = Math.max(0, Math.round(seconds))
  const [h, m, r] = [Math.floor(s / 3600), Math.floor(s / 60) % 60, s % 60]
  return h > 0
    ? `${h}:${String(m).padStart(2, "0")}:${String(r).padStart(2, "0")}`
    : `${m}:${String(r).padStart(2, "0")}`
}

/** The share done, 0 to 1, when the total is known. */
export const fraction = (s: Sample): number | undefined =>
  s.totalBytes === undefined || s.totalBytes <= 0 ? undefined : Math.min(1, s.bytes / s.totalBytes)

/**
 * One line: `snapshot of db: 1.2 GiB of 4.0 GiB (30%), 27,000 of 90,000 files, 210.5 MiB/s, 0:14 left`.
 * `elapsedMs` is the time since the step began.
 */
export const line = (what: string, s: Sample, elapsedMs: number): string => {
  const rate = elapsedMs > 0 ? s.bytes / (elapsedMs / 1000) : 0
  const share = fraction(s)
  const files = `${s.files.toLocaleString("en-US")}${
    s.totalFiles === undefined ? "" : ` of ${s.totalFiles.toLocaleString("en-US")}`
  } files`
  const left = share !== undefined && rate > 0 && s.totalBytes !== undefined
    ? `, ${clock((s.totalBytes - s.bytes) / rate)} left`
    : ""
  return `${what}: ${size(s.bytes)}${
    share === undefined || s.totalBytes === undefined
      ? ""
      : ` of ${size(s.totalBytes)} (${Math.floor(share * 100)}%)`
  }, ${files}, ${size(rate)}/s${left}`
}

/** A bar of `width` cells for a terminal: `[#######.............]`. */
export const bar = (s: Sample, width = 20): string => {
  const share = fraction(s) ?? 0
  const full = Math.round(share * width)
  return `[${"#".repeat(full)}${".".repeat(width - full)}]`
}

/**
 * The last sample in a chunk of rsync's `--info=progress2` output (lines ended by `\r` or `\n`):
 * `   1,234,567  45%   12.34MB/s    0:00:10 (xfr#12, to-chk=100/2000)`. The byte count and the
 * percentage give the total; `to-chk=left/total` the files (`ir-chk` while rsync still lists the
 * tree: then the file total is not final and is left out).
 */
export const parseRsync = (chunk: string): Sample | undefined => {
  let found: Sample | undefined
  for (const text of chunk.split(/[\r\n]/)) {
    const m = /^\s*([\d,]+)\s+(\d+)%\s+\S+\s+\S+(?:\s+\(xfr#(\d+), (to|ir)-chk=(\d+)\/(\d+)\))?\s*$/.exec(text)
    if (m === null) continue
    const bytes = Number(m[1]!.replaceAll(",", ""))
    const percent = Number(m[2])
    const totalBytes = percent > 0 ? Math.max(bytes, Math.round(bytes / (percent / 100))) : undefined
    const [left, total] = [Number(m[5] ?? NaN), Number(m[6] ?? NaN)]
    const final = m[4] === "to" && Number.isFinite(total)
    found = {
      bytes,
      files: final ? total - left : Number(m[3] ?? 0),
      ...(totalBytes === undefined ? {} : { totalBytes }),
      ...(final ? { totalFiles: total } : {})
    }
  }
  return found
}
