import { type ParseArgsConfig, parseArgs } from "node:util";
import { InputError } from "../errors/errors.ts";

/**
 * `node:util` parseArgs with messages a person can act on: every parser error names the flag and
 * points to the command's --help, and a negative number after a flag that takes a value
 * (`--max-seconds -1`) reaches the flag's own validation instead of being read as an unknown flag.
 */
export function parseCommandArgs<T extends ParseArgsConfig>(
  command: string,
  config: T,
): ReturnType<typeof parseArgs<T>> {
  const takesValue = new Set(
    Object.entries(config.options ?? {})
      .filter(([, o]) => o.type === "string")
      .flatMap(([name, o]) => [`--${name}`, ...(o.short ? [`-${o.short}`] : [])]),
  );
  const args = [...(config.args ?? [])];
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    const next = args[i + 1];
    if (takesValue.has(arg) && next !== undefined && /^-\d/.test(next)) {
      joined.push(`${arg}=${next}`);
      i++;
    } else joined.push(arg);
  }
  try {
    return parseArgs({ ...config, args: joined } as T);
  } catch (error) {
    throw friendlyParseError(command, error);
  }
}

/** parseArgs' errors as `unknown flag --x; see portwarden run --help`, naming the flag as the field. */
export function friendlyParseError(command: string, error: unknown): InputError {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: string }).code;
  const see = `see portwarden ${command} --help`;
  const flag = /'(-{1,2}[^' <=]+)/.exec(message)?.[1];
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && flag)
    return new InputError(flag, `unknown flag ${flag}; ${see}`);
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" && flag) {
    if (/does not take an argument/.test(message))
      return new InputError(flag, `${flag} is a switch and takes no value; ${see}`);
    return new InputError(flag, `${flag} needs a value; ${see}`);
  }
  if (code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") {
    const arg = /argument '([^']*)'/.exec(message)?.[1] ?? "";
    return new InputError("arguments", `unexpected argument '${arg}'; ${see}`);
  }
  return new InputError("arguments", `${message.split("\n")[0]}; ${see}`);
}
