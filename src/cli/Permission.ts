/**
 * A permission problem is a setup problem, not bad input: one line that says what could not be
 * read or written and to run as root or fix the owner and mode (exit 1). Pure.
 */
import { Option } from "effect"

const DENIED = /\b(EACCES|EPERM)\b|PermissionDenied|permission denied/

/** The path Node names in its error (`open '/etc/x'`, `scandir '/var/lib/y'`), if it does. */
const pathIn = (message: string): Option.Option<string> =>
  Option.fromNullable(
    /\b(?:open|access|scandir|stat|lstat|mkdir|rename|unlink|opendir|readlink) '([^']+)'/.exec(message)?.[1]
  )

/** The one line to print when `message` is a permission problem; none when it is not one. */
export const permissionProblem = (message: string): Option.Option<string> => {
  if (!DENIED.test(message)) return Option.none()
  if (message.includes("run as root")) return Option.some(message)
  const code = /\bEPERM\b/.test(message) ? "EPERM" : "EACCES"
  // What was being done, before the platform's own wording of the error.
  const what = message.split(/: (?:PermissionDenied|EACCES|EPERM)\b/)[0]!
  const fix = Option.match(pathIn(message), {
    onNone: () => "run as root or fix the owner and mode",
    onSome: (path) => `run as root or fix the owner and mode of ${path}`
  })
  return Option.some(`${what}: permission denied (${code}): ${fix}`)
}
