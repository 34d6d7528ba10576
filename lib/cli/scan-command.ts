import type { CliIo } from "./io.ts";

/** Placeholder until the scan engine lands; exits non-zero. */
export async function scanCommand(_argv: string[], io: CliIo): Promise<number> {
  io.stderr("portwarden scan: not implemented yet\n");
  return 1;
}
