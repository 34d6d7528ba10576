import { lookup } from "node:dns/promises";
import { isIP, Socket } from "node:net";
import { performance } from "node:perf_hooks";
import { ALLOW_INTERNAL, addressRefusal } from "../net/address-policy.ts";
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
