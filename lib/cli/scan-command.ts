import { catalogEntryFor } from "../catalog/kubernetes-ports.ts";
import { InputError } from "../errors/errors.ts";
import { ALLOW_INTERNAL, refuseNamedForbidden } from "../net/address-policy.ts";
import { DEFAULT_PORT_SPEC, parsePortSpec } from "../ports/port-spec.ts";
import { MAX_TARGET_ADDRESSES, parseTargetList } from "../round/targets.ts";
import { DEFAULT_TUNING, MAX_SOCKET_BUDGET, scanHosts } from "../scan/scanner.ts";
import { parseTimingAnchor } from "../scan/timing-anchor-setting.ts";
import type { ScanResult } from "../scan/types.ts";
import { sanitizeDeep } from "../text/sanitize.ts";
import { parseCommandArgs } from "./args.ts";
import { paintLines } from "./colour.ts";
import type { CliIo } from "./io.ts";
import { progressLine } from "./progress.ts";

const HELP = `Usage: portwarden scan HOST... [--ports SPEC] [--json] [--socket-budget N] [--max-seconds S]

TCP connect scan of each HOST: an IPv4 or IPv6 address, a CIDR (every address in it, at most
${MAX_TARGET_ADDRESSES} in all) or a name (every address it resolves to); several as arguments or
a comma list. Not host:port (use --ports) and not a-b ranges (use a CIDR).
  --ports SPEC         ports, ranges and profiles: kubernetes (default), all, e.g. kubernetes,8000-8100
  --json               one JSON document on stdout: {"scans":[{target,ip,open,closed,filtered,complete,durationMs}]}
  --socket-budget N    sockets in flight across all hosts (default ${DEFAULT_TUNING.socketBudget}, max ${MAX_SOCKET_BUDGET})
  --max-seconds S      stop after S seconds; unfinished ports make the result incomplete
  --timing-anchor H:P  an endpoint near the hosts that answers: hosts that answer nothing borrow its
                       RTT (default off; see README, "The scan engine")
  --connector KIND     diagnostic: auto (default), tcp_wrap or net (the portable net.Socket path)
Exit status: 0 when every scan is complete, 1 when any is incomplete, 2 on bad input.
`;

export function parsePositiveNumber(
  flag: string,
  value: string | undefined,
  integer: boolean,
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new InputError(flag, `'${value}' is not a positive ${integer ? "integer" : "number"}`);
  }
  return n;
}

export async function scanCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseScanArgs(argv);
  if (values.help) {
    io.stdout(HELP);
    return 0;
  }
  if (positionals.length === 0) throw new InputError("HOST", "give at least one host to scan (see --help)");
  // Named here, so loopback/private may be scanned; a named link-local/metadata address is an input
  // error (names and CIDR members are refused by the scanner, each with its reason).
  const items = parseTargetList(positionals, { field: "HOST" });
  refuseNamedForbidden(items, "HOST");
  const hosts = items.map((t) => (t.kind === "ip" ? t.ip : t.name));
  const ports = parsePortSpec(values.ports ?? DEFAULT_PORT_SPEC, "--ports");
  const socketBudget = parsePositiveNumber("--socket-budget", values["socket-budget"], true);
  if (socketBudget !== undefined && socketBudget > MAX_SOCKET_BUDGET) {
    throw new InputError(
      "--socket-budget",
      `${socketBudget} is above ${MAX_SOCKET_BUDGET} (Lambda allows 1,024 file descriptors)`,
    );
  }
  const maxSeconds = parsePositiveNumber("--max-seconds", values["max-seconds"], false);
  const connector = values.connector ?? "auto";
  if (connector !== "auto" && connector !== "tcp_wrap" && connector !== "net") {
    throw new InputError("--connector", `'${connector}' is not one of auto, tcp_wrap, net`);
  }

  const anchor = parseTimingAnchor(values["timing-anchor"] ?? "off", "--timing-anchor");
  if (anchor === "region-endpoint")
    throw new InputError(
      "--timing-anchor",
      "region-endpoint needs regions ('portwarden run'); give HOST:PORT or off",
    );

  const progress = io.interactive && !values.json ? progressLine(io) : undefined;
  const scans = await scanHosts(hosts, {
    ports,
    ...(socketBudget !== undefined ? { socketBudget } : {}),
    ...(maxSeconds !== undefined ? { deadline: Date.now() + maxSeconds * 1000 } : {}),
    ...(progress ? { onProgress: progress.update } : {}),
    addressPolicy: ALLOW_INTERNAL,
    ...(anchor !== "off" ? { timingAnchors: new Map(hosts.map((h) => [h, anchor])) } : {}),
    tuning: { connector },
  });
  progress?.done();

  const clean = sanitizeDeep(scans);
  if (values.json) io.stdout(`${JSON.stringify({ scans: clean })}\n`);
  else io.stdout(paintLines(renderScans(clean), Boolean(io.colour)));
  return scans.every((s) => s.complete) ? 0 : 1;
}

function parseScanArgs(argv: string[]) {
  return parseCommandArgs("scan", {
    args: argv,
    allowPositionals: true,
    options: {
      ports: { type: "string", short: "p" },
      json: { type: "boolean" },
      "socket-budget": { type: "string" },
      "max-seconds": { type: "string" },
      connector: { type: "string" },
      "timing-anchor": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
}

/** Human output: one block per scanned address. */
export function renderScans(scans: readonly ScanResult[]): string {
  const lines: string[] = [];
  for (const s of scans) {
    const where = s.target === s.ip || s.ip === "" ? s.target : `${s.target} (${s.ip})`;
    const status = s.complete ? "complete" : `INCOMPLETE${s.error ? `: ${s.error}` : ""}`;
    lines.push(
      `${where}: ${s.open.length} open, ${s.closed} closed, ${s.filtered} filtered, ${status}, ${(s.durationMs / 1000).toFixed(1)} s`,
    );
    if (s.open.length > 0) {
      lines.push("  PORT   SERVICE");
      for (const port of s.open)
        lines.push(`  ${String(port).padEnd(6)} ${catalogEntryFor(port)?.service ?? "unknown"}`);
    }
  }
  return `${lines.join("\n")}\n`;
}
