import { KUBERNETES_PORTS } from "../catalog/kubernetes-ports.ts";
import { InputError } from "../errors/errors.ts";
import { MAX_PORT, MIN_PORT, type PortRange, PortSet } from "./port-set.ts";

/** Named port profiles usable in a SPEC. */
export const PORT_PROFILES: Readonly<Record<string, PortSet>> = {
  kubernetes: PortSet.fromRanges(KUBERNETES_PORTS.map((e) => ({ from: e.from, to: e.to }))),
  all: PortSet.ALL,
};

export const DEFAULT_PORT_SPEC = "kubernetes";

function parsePort(text: string, field: string, spec: string): number {
  if (!/^\d+$/.test(text)) {
    throw new InputError(
      field,
      `'${text}' in '${spec}' is not a port number or a profile (${Object.keys(PORT_PROFILES).join(", ")})`,
    );
  }
  const port = Number(text);
  if (port < MIN_PORT || port > MAX_PORT) {
    throw new InputError(field, `port ${text} in '${spec}' is outside ${MIN_PORT}-${MAX_PORT}`);
  }
  return port;
}

/**
 * The boundary where port SPEC text becomes a PortSet. Every SPEC is parsed here once, where it
 * enters (a flag, an environment variable, a config or inventory file, a Step Functions item, a
 * stored record); the domain only ever sees PortSet values, and every JSON seam writes them back
 * with `PortSet.toJSON()` (the canonical SPEC) and reads them with one of the schemas below.
 */

/**
 * Parses a SPEC: a comma list of ports (`22`), ranges (`30000-32767`) and profiles (`kubernetes`,
 * `all`). Throws InputError naming `field` and the offending part.
 */
export function parsePortSpec(spec: string, field = "ports"): PortSet {
  const trimmed = spec.trim();
  if (trimmed === "")
    throw new InputError(field, "empty port spec (try 'kubernetes', 'all' or '22,6443,30000-32767')");
  const ranges: PortRange[] = [];
  for (const raw of trimmed.split(",")) {
    const part = raw.trim().toLowerCase();
    if (part === "") throw new InputError(field, `empty item in '${spec}'`);
    const profile = PORT_PROFILES[part];
    if (profile) {
      ranges.push(...profile.ranges);
      continue;
    }
    const dash = part.indexOf("-");
    if (dash === -1) {
      const port = parsePort(part, field, spec);
      ranges.push({ from: port, to: port });
      continue;
    }
    const from = parsePort(part.slice(0, dash).trim(), field, spec);
    const to = parsePort(part.slice(dash + 1).trim(), field, spec);
    if (from > to)
      throw new InputError(field, `range '${part}' in '${spec}' runs backwards (${from} > ${to})`);
    ranges.push({ from, to });
  }
  return PortSet.fromRanges(ranges);
}

/**
 * Like `parsePortSpec`, but "" (or blanks) is the empty set: a security group that opens no port,
 * a target that has no coverage slice. This is the text `PortSet.toSpec()` writes for EMPTY.
 */
export function parsePortList(spec: string, field = "ports"): PortSet {
  return spec.trim() === "" ? PortSet.EMPTY : parsePortSpec(spec, field);
}
