/** Which declared secrets the stack lacks. Pure. */

/**
 * `declared` comes from the env file as `<name>_<version>` (from `SECRET_<NAME>_VERSION=<version>`);
 * Docker names the secret `<stack>_<name>_<version>`.
 */
export const missingSecrets = (
  stack: string,
  declared: ReadonlyArray<string>,
  present: ReadonlyArray<string>
): Array<string> => {
  const have = new Set(present)
  return declared.filter((s) => !have.has(`${stack}_${s}`))
}
