/**
 * A deterministic volume: the same seed writes the same files, byte for byte. Sizes are mixed as
 * in an app's data dir: many small files (log-uniform from 128 B to 256 KiB, like uploads, avatars
 * and config) and every 3000th a 40 MiB one (like a database file). Contents are an AES-256-CTR
 * keystream: incompressible, and fast to make.
 */
import { createCipheriv } from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { prng } from "./lib.js"

const SEED = 20_240_601
const KEY = Buffer.alloc(32, 0x5a)
const MIN_SIZE = 128
const MAX_SMALL = 256 * 1024
const LARGE_EVERY = 3000
const LARGE_SIZE = 40 * 2 ** 20

export interface VolumeStats {
  readonly files: number
  readonly bytes: number
}

const pathOf = (root: string, i: number) =>
  Path.join(root, `d${Math.floor(i / 1000)}`, `e${Math.floor(i / 100) % 10}`, `f${i}.bin`)

/**
 * Make `root` hold the first files of the sequence until it has at least `bytes` bytes in at least
 * `minFiles` files. Files a smaller call already wrote are kept, so a volume grows in place.
 */
export const generate = (
  root: string,
  bytes: number,
  minFiles: number,
  already: VolumeStats = { files: 0, bytes: 0 }
) => {
  const next = prng(SEED)
  const zeros = Buffer.alloc(LARGE_SIZE)
  let files = 0
  let total = 0
  while (total < bytes || files < minFiles) {
    const i = files
    const r = next()
    const size = i % LARGE_EVERY === LARGE_EVERY - 1
      ? LARGE_SIZE
      : Math.round(Math.exp(Math.log(MIN_SIZE) + r * (Math.log(MAX_SMALL) - Math.log(MIN_SIZE))))
    if (i >= already.files) {
      const file = pathOf(root, i)
      if (i % 100 === 0) Fs.mkdirSync(Path.dirname(file), { recursive: true })
      const iv = Buffer.alloc(16)
      iv.writeUInt32BE(i, 0)
      const cipher = createCipheriv("aes-256-ctr", KEY, iv)
      Fs.writeFileSync(file, cipher.update(zeros.subarray(0, size)))
    }
    files++
    total += size
  }
  return { files, bytes: total } satisfies VolumeStats
}

/** `count` distinct files of a volume of `stats.files` files, chosen by `seed`. */
export const choose = (root: string, stats: VolumeStats, count: number, seed: number): ReadonlyArray<string> => {
  const next = prng(seed)
  const chosen = new Set<number>()
  while (chosen.size < Math.min(count, stats.files)) chosen.add(Math.floor(next() * stats.files))
  return [...chosen].map((i) => pathOf(root, i))
}

/** Rewrite `files` with new content of the same size (as a day's use or a release does). */
export const rewrite = (files: ReadonlyArray<string>, seed: number): ReadonlyArray<string> => {
  const key = Buffer.alloc(32, seed & 0xff)
  files.forEach((file, i) => {
    const iv = Buffer.alloc(16)
    iv.writeUInt32BE(i, 0)
    iv.writeUInt32BE(seed >>> 0, 4)
    Fs.writeFileSync(file, createCipheriv("aes-256-ctr", key, iv).update(Buffer.alloc(Fs.statSync(file).size)))
  })
  return files
}

/** Add `count` new files of `size` bytes under `<root>/junk` (what a broken release leaves). */
export const addJunk = (root: string, count: number, size: number): string => {
  const dir = Path.join(root, "junk")
  Fs.mkdirSync(dir, { recursive: true })
  for (let i = 0; i < count; i++) {
    const iv = Buffer.alloc(16)
    iv.writeUInt32BE(i, 8)
    Fs.writeFileSync(Path.join(dir, `j${i}.bin`), createCipheriv("aes-256-ctr", KEY, iv).update(Buffer.alloc(size)))
  }
  return dir
}
