import type { CliIo } from "./io.ts";

/** Placeholder until the `inventory` command lands (see the open issue); exits non-zero. */
export async function inventoryCommand(_argv: string[], io: CliIo): Promise<number> {
  io.stderr("portwarden inventory: not implemented yet\n");
  return 1;
}
