/**
 * Which addresses a TCP port is listening on, from the kernel's socket tables (`/proc/net/tcp`
 * and `/proc/net/tcp6`, the same source as `ss -ltn`): the suite's app shares the host's network
 * namespace, so its httpd shows up here, and must be bound to loopback only.
 */
import * as Fs from "node:fs"
import * as Os from "node:os"

/** A listening socket's local address: `127.0.0.1`, `0.0.0.0`, `[::1]`, `[::]`, ... */
export interface Listener {
  readonly address: string
  readonly loopback: boolean
}

/** `st` of a socket in LISTEN state (include/net/tcp_states.h). */
const LISTEN = "0A"

/** The kernel writes each 32-bit word of an address in host byte order. */
const wordBytes = (hex: string, littleEndian: boolean): Array<number> => {
  const bytes = [0, 2, 4, 6].map((i) => parseInt(hex.slice(i, i + 2), 16))
  return littleEndian ? bytes.reverse() : bytes
}

const listener = (hex: string, littleEndian: boolean): Listener => {
  const bytes: Array<number> = []
  for (let i = 0; i < hex.length; i += 8) bytes.push(...wordBytes(hex.slice(i, i + 8), littleEndian))
  if (bytes.length === 4) return { address: bytes.join("."), loopback: bytes[0] === 127 }
  const v4mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff
  if (v4mapped) {
    const v4 = bytes.slice(12)
    return { address: `[::ffff:${v4.join(".")}]`, loopback: v4[0] === 127 }
  }
  const groups = [0, 2, 4, 6, 8, 10, 12, 14].map((i) => ((bytes[i]! << 8) | bytes[i + 1]!).toString(16))
  const address = `[${groups.join(":").replace(/(^|:)0(:0)+(:|$)/, "::")}]`
  return { address, loopback: bytes.slice(0, 15).every((b) => b === 0) && bytes[15] === 1 }
}

/** The listeners on `port` in the text of a `/proc/net/tcp` or `/proc/net/tcp6` table. */
export const parseListeners = (table: string, port: number, littleEndian = Os.endianness() === "LE"): Array<Listener> =>
  table.split("\n").slice(1).flatMap((line) => {
    const [, local, , state] = line.trim().split(/\s+/)
    if (local === undefined || state !== LISTEN) return []
    const [hex, portHex] = local.split(":")
    if (hex === undefined || portHex === undefined || parseInt(portHex, 16) !== port) return []
    return [listener(hex, littleEndian)]
  })

/** Everything listening on TCP `port` in this process's network namespace, IPv4 and IPv6. */
export const listenersOn = (port: number): Array<Listener> =>
  ["/proc/net/tcp", "/proc/net/tcp6"].flatMap((file) =>
    Fs.existsSync(file) ? parseListeners(Fs.readFileSync(file, "utf8"), port) : []
  )
