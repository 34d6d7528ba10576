import { spawnSync } from "node:child_process";
import { join } from "node:path";
import type { CliIo } from "../../lib/cli/io.ts";

/** An io that records what a command writes. */
export function capture(options: { colour?: boolean } = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    stdout: (t) => out.push(t),
    stderr: (t) => err.push(t),
    interactive: false,
    ...(options.colour !== undefined ? { colour: options.colour } : {}),
  };
  return { io, out: () => out.join(""), err: () => err.join("") };
}

export const REPO = join(import.meta.dirname, "..", "..");

/** Runs the CLI from its sources in a child process (what `npm run portwarden --` does), no shell. */
export function runCli(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}) {
  const result = spawnSync(
    join(REPO, "node_modules", ".bin", "tsx"),
    [join(REPO, "lib", "cli", "main.ts"), ...args],
    {
      cwd: options.cwd ?? REPO,
      env: options.env ?? process.env,
      encoding: "utf8",
      timeout: 60_000,
    },
  );
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}
