#!/usr/bin/env node
import { errorMessage, InputError } from "../errors/errors.ts";
import { type CliIo, type Command, processIo } from "./io.ts";

const USAGE = `portwarden — watch the external attack surface of Kubernetes clusters on AWS

Usage:
  portwarden scan HOST... [--ports SPEC] [--json]          TCP connect scan from here
  portwarden run [--targets H,H | --inventory FILE] [...]  one full round: discover, scan, prove, diff, alert
  portwarden inventory [--accounts ID,ID | --organization] [--regions R,R] [--json]

SPEC: comma list of ports, ranges and profiles: kubernetes (default), all (1-65535),
      e.g. kubernetes,8000-8100
Run 'portwarden COMMAND --help' for a command's options.
`;

const COMMANDS: Record<string, () => Promise<Command>> = {
  scan: async () => (await import("./scan-command.ts")).scanCommand,
  run: async () => (await import("./run-command.ts")).runCommand,
  inventory: async () => (await import("./inventory-command.ts")).inventoryCommand,
};

export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    io.stdout(USAGE);
    return name ? 0 : 2;
  }
  const load = COMMANDS[name];
  if (!load) {
    io.stderr(`portwarden: unknown command '${name}'\n\n${USAGE}`);
    return 2;
  }
  try {
    return await (await load())(rest, io);
  } catch (error) {
    // Input errors are the user's to fix: one clear line, exit 2. Anything else: exit 1.
    if (error instanceof InputError) {
      io.stderr(`portwarden ${name}: ${error.message}\n`);
      return 2;
    }
    io.stderr(`portwarden ${name}: ${errorMessage(error)}\n`);
    if (process.env.PORTWARDEN_DEBUG && error instanceof Error && error.stack) io.stderr(`${error.stack}\n`);
    return 1;
  }
}

const invokedDirectly =
  process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/.*\/lib\//, "/lib/"));
if (invokedDirectly) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`portwarden: ${errorMessage(error)}\n`);
      process.exitCode = 1;
    },
  );
}
