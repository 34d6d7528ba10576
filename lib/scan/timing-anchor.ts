import { lookup } from "node:dns/promises";
import { isIP, Socket } from "node:net";
import { performance } from "node:perf_hooks";
import { REGION_PATTERN } from "../contracts/aws-identifiers.ts";
import { InputError } from "../errors/errors.ts";
import { ALLOW_INTERNAL, addressRefusal, PUBLIC_ONLY } from "../net/address-policy.ts";
import type { TimeoutPolicy } from "./rtt-estimator.ts";

/**
 * A timing anchor: an endpoint known to answer, near the targets in network terms, whose TCP
 * handshake RTT stands in for the RTT of targets that never answer themselves (a fleet of nodes
 * that drop every SYN). See README, "The scan engine".
 */
export interface AnchorEndpoint {
  host: string;
  port: number;
}

/**
 * `region-endpoint`: each public target with a known region is anchored on that region's EC2 API
 * endpoint (`ec2.<region>.amazonaws.com:443`); `off`: no anchor; an endpoint: every target uses it.
 */
export type TimingAnchorSetting = "region-endpoint" | "off" | AnchorEndpoint;

export const DEFAULT_TIMING_ANCHOR = "region-endpoint" satisfies TimingAnchorSetting;

/** Handshakes tried per anchor (one after the other, so each is a separate sample). */
export const ANCHOR_SAMPLES = 5;

/** A node is another machine than the anchor: it gets this many times the anchor's RTT. */
export const ANCHOR_MARGIN = 2;

/**
 * What an anchor lends: `ANCHOR_MARGIN x` the median of its handshake RTTs (the upper one of an
 * even count), clamped to the scan's floor and never above its initial timeout, so an anchor can
 * shorten a wait but never lengthen it. The median, not RFC 6298 smoothing: the first handshake
 * runs while the scan launches its first probes, and one delayed sample must not set the estimate
 * (measured: a 62 ms first sample among 0.5 ms ones made the smoothed timeout 264 ms).
 */
export class AnchorEstimate {
  private readonly rtts: number[] = [];
  private current: number;

  constructor(private readonly policy: TimeoutPolicy) {
    this.current = policy.initialMs;
  }

  get samples(): number {
    return this.rtts.length;
  }

  observe(rttMs: number): void {
    this.rtts.push(rttMs);
    const sorted = [...this.rtts].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)] as number;
    this.current = Math.min(this.policy.initialMs, Math.max(this.policy.floorMs, ANCHOR_MARGIN * median));
  }

  get timeoutMs(): number {
    return this.current;
  }
}

/** `off`, `region-endpoint` or `HOST:PORT` (`[v6]:PORT`) as flags and environment variables spell it. */
export function parseTimingAnchor(text: string, field: string): TimingAnchorSetting {
  const value = text.trim();
  if (value === "off" || value === "region-endpoint") return value;
  const match = /^(?:\[([^\]]+)\]|([^:\s[\]]+)):(\d{1,5})$/.exec(value);
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (!host || !Number.isInteger(port) || port < 1 || port > 65535)
    throw new InputError(
      field,
      `'${value.slice(0, 80)}' is not off, region-endpoint or HOST:PORT (port 1-65535)`,
    );
  if (match?.[1] !== undefined && isIP(host) !== 6)
    throw new InputError(field, `'${host}' is not an IPv6 address`);
  const refusal = isIP(host) ? addressRefusal(host, ALLOW_INTERNAL) : undefined;
  if (refusal) throw new InputError(field, refusal);
  return { host, port };
}

/** The EC2 API endpoint of `region`, in its partition's DNS domain; undefined for a malformed region. */
export function regionEndpoint(region: string): AnchorEndpoint | undefined {
  if (!REGION_PATTERN.test(region)) return undefined;
  const domain = region.startsWith("cn-")
    ? "amazonaws.com.cn"
    : region.startsWith("us-isob-")
      ? "sc2s.sgov.gov"
      : region.startsWith("us-iso-")
        ? "c2s.ic.gov"
        : region.startsWith("eusc-")
          ? "amazonaws.eu"
          : "amazonaws.com";
  return { host: `ec2.${region}.${domain}`, port: 443 };
}

/**
 * The anchor of one target, or undefined. A region endpoint anchors only public addresses: the
 * endpoint is reached over the same public path as a node's public IP, not a private one's (so a
 * loopback/private target, in tests and private inventories, never makes the scanner touch AWS).
 */
export function anchorFor(
  setting: TimingAnchorSetting,
  target: { ip: string; region?: string | undefined },
): AnchorEndpoint | undefined {
  if (setting === "off") return undefined;
  if (setting !== "region-endpoint") return setting;
  if (target.region === undefined || addressRefusal(target.ip, PUBLIC_ONLY) !== undefined) return undefined;
  return regionEndpoint(target.region);
}

/** The anchors of a round's targets, keyed by the target as passed to the scanner. */
export function anchorsForTargets(
  setting: TimingAnchorSetting,
  targets: readonly { ip: string; region?: string | undefined }[],
): Map<string, AnchorEndpoint> {
  const out = new Map<string, AnchorEndpoint>();
  for (const target of targets) {
    const anchor = anchorFor(setting, target);
    if (anchor && !out.has(target.ip)) out.set(target.ip, anchor);
  }
  return out;
}

export function anchorKey(anchor: AnchorEndpoint): string {
  return `${anchor.host.includes(":") ? `[${anchor.host}]` : anchor.host}:${anchor.port}`;
}

/**
 * Tries `samples` TCP handshakes to the anchor, one after the other, and hands each answer's RTT
 * (connect start to connected or refused, as the scanner times its probes) to `onSample`. Never
 * throws: a name that does not resolve, an address the policy forbids, or a handshake without an
 * answer within `timeoutMs` (each) leaves the measurement with what it has (possibly nothing). Connections
 * are closed with RST at once: nothing is sent on them.
 */
export async function measureAnchor(
  anchor: AnchorEndpoint,
  options: { samples?: number; timeoutMs: number; signal?: AbortSignal; onSample: (rttMs: number) => void },
): Promise<number> {
  const { signal } = options;
  let ip: string;
  try {
    ip = isIP(anchor.host)
      ? anchor.host
      : await withTimeout(lookup(anchor.host), options.timeoutMs * 2, signal);
  } catch {
    return 0;
  }
  if (addressRefusal(ip, ALLOW_INTERNAL) !== undefined) return 0;
  let measured = 0;
  for (let i = 0; i < (options.samples ?? ANCHOR_SAMPLES); i++) {
    if (signal?.aborted) break;
    // A lost SYN costs one silent attempt, not the anchor (the kernel's retransmit is too late).
    const rtt = await handshake(ip, anchor.port, options.timeoutMs, signal);
    if (rtt === undefined) continue;
    measured++;
    options.onSample(rtt);
  }
  return measured;
}

function withTimeout(
  pending: Promise<{ address: string }>,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("timed out")), timeoutMs);
    signal?.addEventListener("abort", () => reject(new Error("aborted")), { once: true });
    pending.then(
      (a) => {
        clearTimeout(timer);
        resolve(a.address);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/** One handshake's RTT in ms; a refused connect (RST) is an answer too; undefined on silence. */
function handshake(
  ip: string,
  port: number,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<number | undefined> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const started = performance.now();
    let done = false;
    const finish = (rtt: number | undefined) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      // Connected: RST, no FIN/TIME_WAIT. Still connecting: destroy (resetAndDestroy would wait).
      if (socket.destroyed) {
        // refused: already closed
      } else if (rtt === undefined) socket.destroy();
      else socket.resetAndDestroy();
      resolve(rtt);
    };
    const onAbort = () => finish(undefined);
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    signal?.addEventListener("abort", onAbort, { once: true });
    socket.once("connect", () => finish(performance.now() - started));
    socket.once("error", (error: NodeJS.ErrnoException) =>
      finish(error.code === "ECONNREFUSED" ? performance.now() - started : undefined),
    );
    socket.connect({ host: ip, port });
  });
}
