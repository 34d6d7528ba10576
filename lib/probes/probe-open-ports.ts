import { isIP } from "node:net";
import { InputError } from "../errors/errors.ts";
import {
  fingerprint,
  probeApiServer,
  probeControlPlaneComponent,
  probeDocker,
  probeEtcd,
  probeInsecureApi,
  probeKubelet,
  probeKubeletReadOnly,
  type ServiceProbe,
} from "./service-probes.ts";
import type { ProbeOpenPorts, ProbeResult } from "./types.ts";

/** Per-step timeout (connect, TLS, silence between bytes) when the caller gives none. */
export const DEFAULT_PROBE_TIMEOUT_MS = 2_000;
/** Ports probed at once per IP when the caller gives no concurrency: probes are few and polite. */
export const DEFAULT_PROBE_CONCURRENCY = 4;
const MAX_PROBE_CONCURRENCY = 32;
/** One port's probe (all its steps) ends within this many step timeouts, deadline or not. */
const PORT_BUDGET_STEPS = 4;
/** Slack for the safety net over a probe's own timers. */
const SAFETY_NET_GRACE_MS = 100;

/** Which probe speaks to which well-known port; every other port gets a fingerprint. */
export const PROBE_FOR_PORT: ReadonlyMap<number, ServiceProbe> = new Map([
  [443, probeApiServer],
  [2375, probeDocker],
  [2376, probeDocker],
  [2379, probeEtcd],
  [2380, probeEtcd],
  [6443, probeApiServer],
  [8001, probeInsecureApi],
  [8080, probeInsecureApi],
  [8443, probeApiServer],
  [10250, probeKubelet],
  [10255, probeKubeletReadOnly],
  [10257, probeControlPlaneComponent],
  [10259, probeControlPlaneComponent],
]);

export function probeForPort(port: number): ServiceProbe {
  return PROBE_FOR_PORT.get(port) ?? fingerprint;
}

function positiveInteger(value: number | undefined, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value <= 0)
    throw new InputError(field, `must be a positive integer, got ${value}`);
  return value;
}

const unprobed = (port: number, why: string): ProbeResult => ({
  port,
  service: "unknown",
  verdict: "error",
  evidence: why,
});

/** Resolves by `until` whatever the probe does: a bug in one probe cannot stall a round. */
function withinBudget(probe: Promise<ProbeResult>, port: number, until: number): Promise<ProbeResult> {
  let timer: NodeJS.Timeout | undefined;
  const safetyNet = new Promise<ProbeResult>((resolve) => {
    timer = setTimeout(
      () =>
        resolve({
          port,
          service: "unknown",
          verdict: "no-answer",
          evidence: "probe abandoned at its time limit",
        }),
      Math.max(0, until - Date.now()) + SAFETY_NET_GRACE_MS,
    );
  });
  return Promise.race([probe, safetyNet]).finally(() => clearTimeout(timer));
}

async function probeOnePort(
  ip: string,
  port: number,
  timeoutMs: number,
  deadline: number,
): Promise<ProbeResult> {
  if (!Number.isInteger(port) || port < 1 || port > 65535) return unprobed(port, `not a TCP port: ${port}`);
  const now = Date.now();
  const until = Math.min(deadline, now + PORT_BUDGET_STEPS * timeoutMs);
  if (until <= now) return unprobed(port, "not probed: the deadline had passed");
  try {
    return await withinBudget(probeForPort(port)({ ip, port }, { timeoutMs, until }), port, until);
  } catch {
    // Probes do not throw by contract; if one does, its port is still reported, without raw details.
    return unprobed(port, "probe failed unexpectedly");
  }
}

/**
 * Probes every open port of one IP with read-only, bounded requests and returns one result per
 * distinct port, ascending. Never throws for a port (reports `error`/`no-answer`); throws
 * InputError only for a bad `ip` or option.
 */
export const probeOpenPorts: ProbeOpenPorts = async (ip, ports, options = {}) => {
  if (isIP(ip) === 0) throw new InputError("ip", `'${ip}' is not an IPv4 or IPv6 address`);
  const timeoutMs = positiveInteger(options.timeoutMs, "timeoutMs", DEFAULT_PROBE_TIMEOUT_MS);
  const concurrency = Math.min(
    positiveInteger(options.concurrency, "concurrency", DEFAULT_PROBE_CONCURRENCY),
    MAX_PROBE_CONCURRENCY,
  );
  if (options.deadline !== undefined && !Number.isFinite(options.deadline))
    throw new InputError("deadline", `must be an epoch time in ms, got ${options.deadline}`);
  const deadline = options.deadline ?? Number.POSITIVE_INFINITY;
  const unique = [...new Set(ports)].sort((a, b) => a - b);
  const results = new Array<ProbeResult>(unique.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < unique.length) {
      const index = next++;
      results[index] = await probeOnePort(ip, unique[index] as number, timeoutMs, deadline);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, unique.length) }, worker));
  return results;
};
