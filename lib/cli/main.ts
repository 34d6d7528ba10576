#!/usr/bin/env node
import { readFileSync, realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { errorMessage, InputError } from "../errors/errors.ts";
import { safeText } from "../text/sanitize.ts";
import { type CliIo, type Command, processIo } from "./io.ts";

// The AWS SDK prints a 9-line NodeVersionSupportWarning on Node < 22 with the first client it
// makes. Node 20 is supported here (package.json engines); the note lives in the README instead.
// Set once, before any command loads the SDK; an explicit value from the user wins.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const USAGE = `portwarden — watch the external attack surface of Kubernetes clusters on AWS

Usage:
  portwarden scan HOST... [--ports SPEC] [--json]          TCP connect scan from here
  portwarden run [--targets H,H | --inventory FILE] [...]  one full round: discover, scan, prove, diff, alert
  portwarden status [--state PATH | --table NAME] [--json] open exposures from the stored state, no scan
  portwarden inventory [--accounts ID,ID | --organization] [--regions R,R] [--json]
  portwarden --version

HOST / --targets: IPs, CIDRs (e.g. 127.0.0.0/30) or names; not host:port, not a-b ranges.
SPEC: comma list of ports, ranges and profiles: kubernetes (default), all (1-65535),
      e.g. kubernetes,8000-8100
Run 'portwarden COMMAND --help' for a command's options.
`;

/** An error is one line on stderr, cleaned like every other output. */
const MAX_ERROR_LINE = 4000;

const COMMANDS: Record<string, () => Promise<Command>> = {
  scan: async () => (await import("./scan-command.ts")).scanCommand,
  run: async () => (await import("./run-command.ts")).runCommand,
  status: async () => (await import("./status-command.ts")).statusCommand,
  inventory: async () => (await import("./inventory-command.ts")).inventoryCommand,
};

/** The package's version, from its package.json (lib/cli/ → ../../, dist/lib/cli/ → ../../../). */
export function version(): string {
  for (const up of ["../../package.json", "../../../package.json"]) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), "utf8")) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === "portwarden" && pkg.version) return pkg.version;
    } catch {
      // not this level
    }
  }
  return "unknown";
}

export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === "--version" || name === "-V" || name === "version") {
    io.stdout(`portwarden ${version()}\n`);
    return 0;
  }
  if (!name || name === "--help" || name === "-h" || name === "help") {
    io.stdout(USAGE);
    return name ? 0 : 2;
  }
  const load = COMMANDS[name];
  if (!load) {
    io.stderr(
      name.startsWith("-")
        ? `portwarden: unknown flag ${name}; flags go after the command, see portwarden --help\n`
        : `portwarden: unknown command '${name}'\n\n${USAGE}`,
    );
    return 2;
  }
  try {
    return await (await load())(rest, io);
  } catch (error) {
    // Input errors are the user's to fix: one clear line, exit 2. Anything else: exit 1.
    if (error instanceof InputError) {
      io.stderr(`portwarden ${name}: ${safeText(error.message, MAX_ERROR_LINE)}\n`);
      return 2;
    }
    io.stderr(`portwarden ${name}: ${safeText(errorMessage(error), MAX_ERROR_LINE)}\n`);
    if (process.env.PORTWARDEN_DEBUG && error instanceof Error && error.stack) io.stderr(`${error.stack}\n`);
    return 1;
  }
}

/** True when this module is the process's entry (tsx lib/cli/main.ts, node dist/lib/cli/main.js, a bin link). */
function invokedDirectly(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
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
