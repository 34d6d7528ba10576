import { isIP } from "node:net";
import pLimit from "p-limit";
import { type CatalogEntry, catalogEntryFor } from "../catalog/kubernetes-ports.ts";
import { InputError } from "../errors/errors.ts";
import { ALLOW_INTERNAL, assertConnectable } from "../net/address-policy.ts";
import { identifyService } from "./service-probes.ts";
import type { ProbeOpenPorts, ProbeResult } from "./types.ts";

/** Per-step timeout (connect, TLS, silence between bytes) when the caller gives none. */
export const DEFAULT_PROBE_TIMEOUT_MS = 2_000;
/** Ports probed at once per IP when the caller gives no concurrency: probes are few and polite. */
export const DEFAULT_PROBE_CONCURRENCY = 4;
const MAX_PROBE_CONCURRENCY = 32;
/**
 * One port's probe (handshake, up to seven signature requests, a banner) ends within this many
 * step timeouts, deadline or not. Real services answer each step in milliseconds.
 */
const PORT_BUDGET_STEPS = 6;
/** Slack for the safety net over a probe's own timers. */
const SAFETY_NET_GRACE_MS = 100;
/** Open ports identified per IP and round; the rest are reported as not probed. */
export const MAX_PROBED_PORTS_PER_HOST = 32;
/** Time all probes of one IP may take together, when the caller gives none. */
export const DEFAULT_HOST_PROBE_BUDGET_MS = 15_000;
/**
 * A host with more open ports than it may have probed, whose first this-many probed ports all
 * stayed silent, is answering without a service (SYN proxy, tarpit): the rest are not probed.
 */
const SILENT_SAMPLE = 8;

function positiveInteger(value: number | undefined, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value <= 0)
    throw new InputError(field, `must be a positive integer, got ${value}`);
  return value;
}

const unprobed = (port: number, expected: CatalogEntry | undefined, why: string): ProbeResult => ({
  port,
  service: "unknown",
  ...(expected ? { expected } : {}),
  verdict: "error",
  evidence: why,
});

/** Resolves by `until` whatever the probe does: a bug in one probe cannot stall a round. */
function withinBudget(
  probe: Promise<ProbeResult>,
  fallback: ProbeResult,
  until: number,
): Promise<ProbeResult> {
  let timer: NodeJS.Timeout | undefined;
  const safetyNet = new Promise<ProbeResult>((resolve) => {
    timer = setTimeout(() => resolve(fallback), Math.max(0, until - Date.now()) + SAFETY_NET_GRACE_MS);
  });
  return Promise.race([probe, safetyNet]).finally(() => clearTimeout(timer));
}

async function probeOnePort(
  ip: string,
  port: number,
  expected: CatalogEntry | undefined,
  timeoutMs: number,
  deadline: number,
): Promise<ProbeResult> {
  const now = Date.now();
  const until = Math.min(deadline, now + PORT_BUDGET_STEPS * timeoutMs);
  if (until <= now) return unprobed(port, expected, "not probed: no probe time left this round");
  const abandoned: ProbeResult = {
    ...unprobed(port, expected, "probe abandoned at its time limit"),
    verdict: "no-answer",
  };
  try {
    const found = identifyService({ ip, port }, { timeoutMs, until }, expected).then(
      (identification): ProbeResult => ({ port, ...(expected ? { expected } : {}), ...identification }),
    );
    return await withinBudget(found, abandoned, until);
  } catch {
    // Probes do not throw by contract; if one does, its port is still reported, without raw details.
    return unprobed(port, expected, "probe failed unexpectedly");
  }
}

/** Catalogue ports first (they matter most), then the rest, each ascending. */
function probeOrder(
  ports: readonly number[],
  entries: ReadonlyMap<number, CatalogEntry | undefined>,
): number[] {
  const known = ports.filter((p) => entries.get(p) !== undefined);
  const other = ports.filter((p) => entries.get(p) === undefined);
  return [...known, ...other];
}

/**
 * Identifies what answers on every open port of one IP with read-only, bounded requests and
 * returns one result per distinct port, ascending. Bounds per IP: at most
 * MAX_PROBED_PORTS_PER_HOST ports (catalogue ports first), `hostBudgetMs` in total, and when the
 * host has more open ports than that and the first SILENT_SAMPLE probes all stay silent, no more
 * (a host answering on every port). Never throws for a port; throws InputError only for a bad
 * `ip` or option, AddressRefusedError for an address the policy refuses (before any socket opens).
 */
export const probeOpenPorts: ProbeOpenPorts = async (ip, ports, options = {}) => {
  if (isIP(ip) === 0) throw new InputError("ip", `'${ip}' is not an IPv4 or IPv6 address`);
  assertConnectable(ip, options.addressPolicy ?? ALLOW_INTERNAL);
  const timeoutMs = positiveInteger(options.timeoutMs, "timeoutMs", DEFAULT_PROBE_TIMEOUT_MS);
  const hostBudgetMs = positiveInteger(options.hostBudgetMs, "hostBudgetMs", DEFAULT_HOST_PROBE_BUDGET_MS);
  const concurrency = Math.min(
    positiveInteger(options.concurrency, "concurrency", DEFAULT_PROBE_CONCURRENCY),
    MAX_PROBE_CONCURRENCY,
  );
  if (options.deadline !== undefined && !Number.isFinite(options.deadline))
    throw new InputError("deadline", `must be an epoch time in ms, got ${options.deadline}`);
  const deadline = Math.min(options.deadline ?? Number.POSITIVE_INFINITY, Date.now() + hostBudgetMs);
  const unique = [...new Set(ports)].sort((a, b) => a - b);
  // The one catalogue lookup per port this round: results carry it to classification.
  const entries = new Map(unique.map((port) => [port, catalogEntryFor(port)]));
  const ordered = probeOrder(unique, entries);
  const chosen = new Set(ordered.slice(0, MAX_PROBED_PORTS_PER_HOST));
  const crowded = unique.length > MAX_PROBED_PORTS_PER_HOST;
  const limit = pLimit(concurrency);
  const probe = (port: number): Promise<ProbeResult> =>
    limit(() => probeOnePort(ip, port, entries.get(port), timeoutMs, deadline));
  const byPort = new Map<number, Promise<ProbeResult>>();
  for (const port of unique) {
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      byPort.set(port, Promise.resolve(unprobed(port, entries.get(port), `not a TCP port: ${port}`)));
    else if (!chosen.has(port))
      byPort.set(
        port,
        Promise.resolve(
          unprobed(
            port,
            entries.get(port),
            `not probed: ${unique.length} open ports, at most ${MAX_PROBED_PORTS_PER_HOST} are probed per host`,
          ),
        ),
      );
  }
  const probing = ordered.filter((port) => chosen.has(port) && !byPort.has(port));
  // A crowded host first gets a sample; if all of it stays silent, nothing answers there.
  const sample = crowded ? probing.slice(0, SILENT_SAMPLE) : probing;
  for (const port of sample) byPort.set(port, probe(port));
  const sampled = await Promise.all(sample.map((port) => byPort.get(port) as Promise<ProbeResult>));
  const allSilent = crowded && sampled.every((result) => result.severity === undefined);
  for (const port of probing.slice(sample.length)) {
    byPort.set(
      port,
      allSilent
        ? Promise.resolve(
            unprobed(
              port,
              entries.get(port),
              `not probed: the first ${SILENT_SAMPLE} probed of ${unique.length} open ports all stayed silent (a host answering every port)`,
            ),
          )
        : probe(port),
    );
  }
  return Promise.all(unique.map((port) => byPort.get(port) as Promise<ProbeResult>));
};
