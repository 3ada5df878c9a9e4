/** Log lines on stderr: `+mm:ss.mmm LEVEL message key=value`, time relative to the run's start. */
import { HashMap, Logger } from "effect"

export const relativeLogger = (startMillis: number) =>
  Logger.make(({ annotations, date, logLevel, message }) => {
    const offset = date.getTime() - startMillis
    const m = Math.floor(offset / 60_000)
    const s = ((offset % 60_000) / 1000).toFixed(3).padStart(6, "0")
    const text = Array.isArray(message) ? message.map(String).join(" ") : String(message)
    const fields = HashMap.toEntries(annotations).map(([k, v]) =>
      `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`
    )
    process.stderr.write(
      `+${String(m).padStart(2, "0")}:${s} ${logLevel.label.padEnd(5)} ${text}${
        fields.length ? ` ${fields.join(" ")}` : ""
      }\n`
    )
  })
