import { constants } from "node:fs";
import { access, mkdir, stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { errorMessage, InputError } from "../errors/errors.ts";
import { DEFAULT_STATE_PATH } from "../state/file-state-store.ts";

/**
 * CLI-level checks of the local files a command is given, before any work starts, so a mistake
 * is one line naming the flag and what to do, not an errno from deep inside a round.
 */

function code(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException).code;
}

/** An input file (`--inventory`, `--config`): it must exist and be a regular, readable file. */
export async function checkInputFile(path: string, flag: string, howToMake: string): Promise<void> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(path);
  } catch (error) {
    if (code(error) === "ENOENT") throw new InputError(flag, `'${path}' does not exist; ${howToMake}`);
    throw new InputError(flag, `cannot read '${path}': ${errorMessage(error)}`);
  }
  if (info.isDirectory())
    throw new InputError(flag, `'${path}' is a directory; give the path of a JSON file (${howToMake})`);
  if (!info.isFile())
    throw new InputError(flag, `'${path}' is not a regular file; give the path of a JSON file`);
  try {
    await access(path, constants.R_OK);
  } catch (error) {
    throw new InputError(
      flag,
      `'${path}' is not readable (${code(error) ?? errorMessage(error)}); check its permissions`,
    );
  }
}

/**
 * The state file (`--state`): a regular file or not there yet, in a writable directory. Only the
 * default location's directory (`.portwarden/`) is created; a path the user chose must have its
 * directory already, so a typo does not scatter state files into new directories.
 * Returns the path to give the store.
 */
export async function prepareStatePath(
  given: string | undefined,
  options: { write: boolean },
): Promise<string> {
  const flag = "--state";
  const path = given ?? DEFAULT_STATE_PATH;
  const dir = dirname(resolve(path));
  let info: Awaited<ReturnType<typeof stat>> | undefined;
  try {
    info = await stat(path);
  } catch (error) {
    if (code(error) !== "ENOENT") throw new InputError(flag, `cannot use '${path}': ${errorMessage(error)}`);
  }
  if (info?.isDirectory())
    throw new InputError(
      flag,
      `'${path}' is a directory; give a file path, e.g. --state ${path.replace(/\/$/, "")}/state.json`,
    );
  if (info && !info.isFile())
    throw new InputError(flag, `'${path}' is not a regular file; give the path of a JSON state file`);
  if (!options.write) {
    if (!info && given !== undefined)
      throw new InputError(flag, `'${path}' does not exist; give the file a 'portwarden run --state' wrote`);
    return path;
  }
  try {
    const parent = await stat(dir);
    if (!parent.isDirectory())
      throw new InputError(flag, `'${dir}' is not a directory; choose another --state path`);
  } catch (error) {
    if (error instanceof InputError) throw error;
    if (code(error) !== "ENOENT")
      throw new InputError(flag, `cannot use directory '${dir}': ${errorMessage(error)}`);
    if (given !== undefined)
      throw new InputError(
        flag,
        `directory '${dir}' does not exist; create it (mkdir -p '${dir}') or choose another path`,
      );
    await mkdir(dir, { recursive: true, mode: 0o700 });
  }
  try {
    await access(info ? path : dir, constants.W_OK);
  } catch (error) {
    const what = info ? `'${path}'` : `directory '${dir}'`;
    throw new InputError(
      flag,
      `${what} is not writable (${code(error) ?? errorMessage(error)}); fix its permissions or choose another --state path`,
    );
  }
  return path;
}
