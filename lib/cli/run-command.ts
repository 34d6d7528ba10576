import type { CliIo } from "./io.ts";

/** Placeholder until the `run` command lands (see the open issue); exits non-zero. */
export async function runCommand(_argv: string[], io: CliIo): Promise<number> {
  io.stderr("portwarden run: not implemented yet\n");
  return 1;
}
