import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { performance } from "node:perf_hooks";
import { KUBERNETES_PORTS } from "../catalog/kubernetes-ports.ts";
import { errorMessage, InputError } from "../errors/errors.ts";
import { type AddressPolicy, ALLOW_INTERNAL, addressRefusal } from "../net/address-policy.ts";
import type { PortSet } from "../ports/port-set.ts";
import {
  type Connector,
  type ConnectorKind,
  createConnector,
  errnoName,
  type Probe,
  UV,
} from "./connectors.ts";
import { ownAddressTest } from "./own-addresses.ts";
import { DEFAULT_TIMEOUTS, RttEstimator, type TimeoutPolicy } from "./rtt-estimator.ts";
import { AnchorEstimate, anchorKey, measureAnchor } from "./timing-anchor.ts";
import type { ScanOptions, ScanProgress, ScanResult } from "./types.ts";

/** Knobs with measured defaults (BENCHMARKS.md). */
export interface ScannerTuning {
  /** Sockets in flight across all targets; Lambda allows 1,024 fds in total. Default 900. */
  socketBudget: number;
  timeouts: TimeoutPolicy;
  /** Every unanswered port is retried at least this often. Default 1. */
  minRetries: number;
  /** Further retry passes run only while the previous one recovered answers (packet loss). Default 6. */
  maxRetries: number;
  /** Hosts scanned at once (each holds ~200 KB of port state). Default 64. */
  maxActiveHosts: number;
  /** A port that keeps failing locally (EMFILE…) this often becomes `unknown`. Default 8. */
  localErrorRetries: number;
  connector: ConnectorKind;
}

export const DEFAULT_TUNING: ScannerTuning = {
  socketBudget: 900,
  timeouts: DEFAULT_TIMEOUTS,
  minRetries: 1,
  maxRetries: 6,
  maxActiveHosts: 64,
  localErrorRetries: 8,
  connector: "auto",
};

export const MAX_SOCKET_BUDGET = 1000;

const OPEN = 1;
const CLOSED = 2;
const UNANSWERED = 3;
const UNKNOWN = 4;
const UNREACHABLE = 5; // ICMP unreachable/prohibited: an answer, reported as filtered

const SWEEP_MS = 5;
/** Launches per turn of the event loop: answers get read between chunks, so RTTs stay true. */
const LAUNCH_CHUNK = 64;
const PROGRESS_MS = 250;

/** Well-known single ports first (they answer early and teach the RTT); NodePort range excluded. */
const PRIORITY_PORTS = KUBERNETES_PORTS.filter((e) => e.from === e.to).map((e) => e.from);

interface ResolvedTarget {
  target: string;
  ip: string;
  family: 4 | 6;
}

class HostScan {
  state = new Uint8Array(65536);
  localErrors: Uint8Array | undefined;
  order: Uint16Array;
  pos = 0;
  again: number[] = [];
  retry: number[] = [];
  pass = 0;
  recoveredThisPass = 0;
  inflight = 0;
  fifo: Probe[] = [];
  fifoHead = 0;
  readonly rtt: RttEstimator;
  /** Probes launched with the cautious timeout (see `sentinelEnd`); checked apart from the FIFO. */
  sentinels: Probe[] = [];
  /** First-pass positions below this are the catalogue's single ports: they wait `initialMs`. */
  readonly sentinelEnd: number;
  readonly open: number[] = [];
  readonly startedAt = performance.now();
  /** The target is one of this machine's own addresses: a self-connect is possible there. */
  readonly ownAddress: boolean;
  finished = false;
  error: string | undefined;

  constructor(
    readonly index: number,
    readonly resolved: ResolvedTarget,
    readonly ports: PortSet,
    private readonly timeouts: TimeoutPolicy,
    private readonly neighbours: RttEstimator,
    private readonly batch: RttEstimator,
    private readonly anchor: AnchorEstimate | undefined,
    ownAddress: boolean,
  ) {
    this.rtt = new RttEstimator(timeouts);
    const { order, priorityCount } = firstPassOrder(ports);
    this.order = order;
    this.sentinelEnd = priorityCount;
    this.ownAddress = ownAddress;
  }

  /**
   * How long a probe may stay unanswered. A host that has answered uses its own estimate; one
   * that has not (yet) borrows what the network taught the scan, as nmap's group timing does:
   * first from hosts in the same /24 or /64, then from its region's timing anchor (with a margin:
   * the anchor is another machine), then from the whole batch, else `initialMs`.
   */
  get timeoutMs(): number {
    if (this.rtt.samples > 0) return this.rtt.timeoutMs;
    if (this.neighbours.samples > 0) return this.neighbours.timeoutMs;
    if (this.anchor !== undefined && this.anchor.samples > 0) return this.anchor.timeoutMs;
    if (this.batch.samples > 0) return this.batch.timeoutMs;
    return this.rtt.timeoutMs;
  }

  /** Sentinel probes wait `initialMs` until the host has answered once: the safety net for a host
   * slower than its neighbours (its catalogue ports still get a full chance to teach its RTT). */
  get sentinelTimeoutMs(): number {
    return this.rtt.samples > 0 ? this.rtt.timeoutMs : Math.max(this.timeouts.initialMs, this.timeoutMs);
  }

  /** True when the next probe to launch is one of the first pass's catalogue ports. */
  get nextIsSentinel(): boolean {
    return this.pass === 0 && this.again.length === 0 && this.pos < this.sentinelEnd;
  }

  get launchable(): boolean {
    return !this.finished && (this.again.length > 0 || this.pos < this.order.length);
  }

  nextPort(): number {
    return this.again.length > 0 ? (this.again.pop() as number) : (this.order[this.pos++] as number);
  }
}

/** Random order (so no fixed pattern trips rate limits or IDS), priority ports first. */
function firstPassOrder(ports: PortSet): { order: Uint16Array; priorityCount: number } {
  const all = ports.toArray();
  const order = new Uint16Array(all.length);
  const priority = PRIORITY_PORTS.filter((p) => ports.has(p));
  const isPriority = new Set(priority);
  let k = 0;
  for (const p of shuffleInPlace(priority)) order[k++] = p;
  const restStart = k;
  for (const p of all) if (!isPriority.has(p)) order[k++] = p;
  shuffleRange(order, restStart, k);
  return { order, priorityCount: restStart };
}

/** Hosts in one /24 (IPv4) or /64 (IPv6) share an RTT estimate: usually one subnet, one path. */
export function networkPrefix(ip: string, family: 4 | 6): string {
  if (family === 4) return ip.slice(0, ip.lastIndexOf("."));
  const [head = "", tail] = ip.toLowerCase().split("::");
  const front = head === "" ? [] : head.split(":");
  const back = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups =
    tail === undefined
      ? front
      : [...front, ...new Array<string>(Math.max(0, 8 - front.length - back.length)).fill("0"), ...back];
  return groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ""))
    .join(":");
}

function shuffleInPlace<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    const t = items[i] as T;
    items[i] = items[j] as T;
    items[j] = t;
  }
  return items;
}

function shuffleRange(a: Uint16Array, from: number, to: number): void {
  for (let i = to - 1; i > from; i--) {
    const j = from + Math.floor(Math.random() * (i - from + 1));
    const t = a[i] as number;
    a[i] = a[j] as number;
    a[j] = t;
  }
}

function unscanned(target: string, ip: string, error: string): ScanResult {
  return { target, ip, open: [], closed: 0, filtered: 0, complete: false, durationMs: 0, error };
}

/**
 * Resolves hostnames (every address, v4 and v6); literal IPs pass through. Every address, literal
 * or from DNS, goes through the address policy here, the last step before a socket: a refused one
 * comes back unscanned with the refusal as its error.
 */
export async function resolveTargets(
  targets: readonly string[],
  policy: AddressPolicy = ALLOW_INTERNAL,
): Promise<{
  resolved: ResolvedTarget[];
  failed: ScanResult[];
}> {
  const resolved: ResolvedTarget[] = [];
  const failed: ScanResult[] = [];
  const admit = (raw: string, ip: string, family: 4 | 6) => {
    const refusal = addressRefusal(ip, policy);
    if (refusal) failed.push(unscanned(raw, ip, refusal));
    else resolved.push({ target: raw, ip, family });
  };
  for (const raw of targets) {
    const target = raw.trim().replace(/^\[(.*)\]$/, "$1");
    if (target === "") throw new InputError("targets", "empty host name");
    const family = isIP(target);
    if (family === 4 || family === 6) {
      admit(raw, target, family);
      continue;
    }
    try {
      const addresses = await lookup(target, { all: true, verbatim: true });
      const seen = new Set<string>();
      for (const a of addresses) {
        if (seen.has(a.address)) continue;
        seen.add(a.address);
        admit(raw, a.address, a.family === 6 ? 6 : 4);
      }
    } catch (error) {
      failed.push(unscanned(raw, "", `cannot resolve ${target}: ${errorMessage(error)}`));
    }
  }
  return { resolved, failed };
}

function validateTuning(t: ScannerTuning): void {
  if (!Number.isInteger(t.socketBudget) || t.socketBudget < 1 || t.socketBudget > MAX_SOCKET_BUDGET) {
    throw new InputError(
      "socketBudget",
      `${t.socketBudget} must be an integer from 1 to ${MAX_SOCKET_BUDGET}`,
    );
  }
  const { initialMs, floorMs, ceilingMs } = t.timeouts;
  if (!(floorMs > 0 && floorMs <= initialMs && initialMs <= ceilingMs)) {
    throw new InputError(
      "timeouts",
      `need 0 < floor (${floorMs}) <= initial (${initialMs}) <= ceiling (${ceilingMs})`,
    );
  }
}

/**
 * TCP connect scan of many hosts with one global socket budget. Never throws for a target: a
 * target that cannot be resolved or scanned comes back `complete: false` with `error`.
 */
export async function scanHosts(
  targets: readonly string[],
  options: ScanOptions & { tuning?: Partial<ScannerTuning> },
): Promise<ScanResult[]> {
  const tuning: ScannerTuning = {
    ...DEFAULT_TUNING,
    ...options.tuning,
    ...(options.socketBudget !== undefined ? { socketBudget: options.socketBudget } : {}),
  };
  validateTuning(tuning);
  if (options.ports.isEmpty) throw new InputError("ports", "no ports to scan");
  for (const [target, ports] of options.hostPorts ?? [])
    if (ports.isEmpty) throw new InputError("hostPorts", `no ports to scan for ${target}`);
  const { resolved, failed } = await resolveTargets(targets, options.addressPolicy);
  const results = await new ScanEngine(resolved, options, tuning).run();
  return [...results, ...failed];
}

class ScanEngine {
  private readonly hosts: HostScan[] = [];
  private readonly waiting: ResolvedTarget[];
  private readonly results: ScanResult[];
  private readonly connector: Connector;
  private readonly deadline: number;
  private inflight = 0;
  private budget: number;
  private pausedUntil = 0;
  private backoffMs = 0;
  private rr = 0;
  private pumpScheduled = false;
  private nextIndex = 0;
  private probesDone = 0;
  private lastProgress = 0;
  private readonly probesTotal: number;
  /** This machine's own addresses, read once per scan (interfaces can change between rounds). */
  private readonly isOwnAddress = ownAddressTest();
  private openCount = 0;
  /** Group timing: every answer of every host feeds the batch and its host's /24 or /64 estimate. */
  private readonly batchRtt: RttEstimator;
  private readonly prefixRtt = new Map<string, RttEstimator>();
  private readonly hostPrefixRtt: RttEstimator[] = [];
  /** Timing anchors by endpoint, measured while the scan runs (one estimate per endpoint). */
  private readonly anchorRtt = new Map<string, AnchorEstimate>();
  private readonly anchorAbort = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private finish: (() => void) | undefined;

  constructor(
    targets: ResolvedTarget[],
    private readonly options: ScanOptions,
    private readonly tuning: ScannerTuning,
  ) {
    this.waiting = [...targets];
    this.results = new Array<ScanResult>(targets.length);
    this.budget = tuning.socketBudget;
    this.batchRtt = new RttEstimator(tuning.timeouts);
    this.connector = createConnector(tuning.connector, (probe, status) => this.onAnswer(probe, status));
    this.deadline =
      options.deadline === undefined
        ? Number.POSITIVE_INFINITY
        : performance.now() + (options.deadline - Date.now());
    this.probesTotal = targets.reduce((sum, t) => sum + this.portsOf(t).size, 0);
  }

  run(): Promise<ScanResult[]> {
    if (this.waiting.length === 0) return Promise.resolve([]);
    return new Promise((resolve) => {
      let settled = false;
      this.finish = () => {
        if (settled) return;
        settled = true;
        if (this.timer) clearInterval(this.timer);
        this.timer = undefined;
        this.anchorAbort.abort();
        this.connector.trim();
        this.reportProgress(true);
        resolve(this.results);
      };
      this.measureAnchors();
      this.activateHosts();
      // Expire in the check phase, after this turn's I/O poll: an answer that has already arrived is
      // read before its probe could be timed out.
      this.timer = setInterval(() => setImmediate(this.sweepAfterPoll), SWEEP_MS);
      this.pump();
    });
  }

  private portsOf(target: ResolvedTarget): PortSet {
    return this.options.hostPorts?.get(target.target) ?? this.options.ports;
  }

  /**
   * Starts measuring every anchor of the call at once, beside the scan (no added latency): until
   * an anchor's first sample arrives its targets wait as they would without it, and an anchor
   * that fails (no DNS, no answer within `initialMs`) leaves them exactly so.
   */
  private measureAnchors(): void {
    for (const endpoint of new Set(this.options.timingAnchors?.values())) {
      const key = anchorKey(endpoint);
      if (this.anchorRtt.has(key)) continue;
      const estimate = new AnchorEstimate(this.tuning.timeouts);
      this.anchorRtt.set(key, estimate);
      measureAnchor(endpoint, {
        timeoutMs: this.tuning.timeouts.initialMs,
        signal: this.anchorAbort.signal,
        onSample: (rtt) => estimate.observe(rtt),
      }).catch(() => undefined); // an anchor only ever helps: its failure is today's behaviour
    }
  }

  private anchorOf(target: ResolvedTarget): AnchorEstimate | undefined {
    const endpoint = this.options.timingAnchors?.get(target.target);
    return endpoint === undefined ? undefined : this.anchorRtt.get(anchorKey(endpoint));
  }

  private activateHosts(): void {
    while (
      this.hosts.filter((h) => !h.finished).length < this.tuning.maxActiveHosts &&
      this.waiting.length > 0
    ) {
      const target = this.waiting.shift() as ResolvedTarget;
      const prefix = networkPrefix(target.ip, target.family);
      let neighbours = this.prefixRtt.get(prefix);
      if (!neighbours) {
        neighbours = new RttEstimator(this.tuning.timeouts);
        this.prefixRtt.set(prefix, neighbours);
      }
      const index = this.nextIndex++;
      this.hostPrefixRtt[index] = neighbours;
      this.hosts.push(
        new HostScan(
          index,
          target,
          this.portsOf(target),
          this.tuning.timeouts,
          neighbours,
          this.batchRtt,
          this.anchorOf(target),
          this.isOwnAddress(target.ip),
        ),
      );
    }
  }

  /** Launches probes until the budget is full, LAUNCH_CHUNK at a time; the hot path. */
  private pump(): void {
    if (this.inflight >= this.budget || this.pumpScheduled) return;
    const now = performance.now();
    if (now < this.pausedUntil || now >= this.deadline) return;
    const hosts = this.hosts;
    let idle = 0;
    let launched = 0;
    while (this.inflight < this.budget && idle < hosts.length) {
      if (launched === LAUNCH_CHUNK) {
        this.pumpScheduled = true;
        setImmediate(this.resumePump);
        return;
      }
      const host = hosts[this.rr++ % hosts.length] as HostScan;
      if (!host.launchable) {
        idle++;
        continue;
      }
      idle = 0;
      launched++;
      const sentinel = host.nextIsSentinel;
      const port = host.nextPort();
      const probe: Probe = {
        hostIndex: host.index,
        port,
        attempt: host.pass,
        startedAt: now,
        settled: false,
        handle: undefined,
      };
      const err = this.connector.start(probe, host.resolved.ip, host.resolved.family);
      if (err !== 0) {
        probe.settled = true;
        this.classify(host, probe, err);
        if (this.pausedUntil > now) return; // a local error paused us: the sweep resumes launching
        this.advance(host);
        continue;
      }
      this.inflight++;
      host.inflight++;
      if (sentinel) host.sentinels.push(probe);
      else host.fifo.push(probe);
    }
    // Nothing left to launch for now (a pass is draining): don't hold idle sockets open.
    if (idle >= hosts.length) this.connector.trim();
  }

  private readonly resumePump = (): void => {
    this.pumpScheduled = false;
    this.pump();
  };

  private hostOf(probe: Probe): HostScan {
    // Hosts are appended in index order and never removed while a scan runs.
    return this.hosts[probe.hostIndex] as HostScan;
  }

  private onAnswer(probe: Probe, status: number): void {
    probe.settled = true;
    this.inflight--;
    const host = this.hostOf(probe);
    host.inflight--;
    this.probesDone++;
    if (status === 0) {
      // A connect to one of our own addresses from the same ephemeral port "succeeds" (TCP
      // self-connect): not a listener. Decided per host once, so remote targets pay nothing.
      const selfConnect = host.ownAddress && this.connector.localPort(probe) === probe.port;
      this.connector.reset(probe);
      this.classify(host, probe, selfConnect ? UV.ECONNREFUSED : 0);
    } else if (status === UV.ECONNREFUSED) {
      this.connector.release(probe, host.resolved.family);
      this.classify(host, probe, status);
    } else {
      this.connector.abort(probe);
      this.classify(host, probe, status);
    }
    this.recoverBudget();
    this.advance(host);
    this.pump();
  }

  /** Records what a connect status says about the port (sync or async status alike). */
  private classify(host: HostScan, probe: Probe, status: number): void {
    const port = probe.port;
    const previous = host.state[port];
    if (status === 0 || status === UV.ECONNREFUSED || status === UV.ECONNRESET) {
      const rtt = performance.now() - probe.startedAt;
      host.rtt.observe(rtt);
      this.batchRtt.observe(rtt);
      (this.hostPrefixRtt[host.index] as RttEstimator).observe(rtt);
      if (previous === UNANSWERED) host.recoveredThisPass++;
      if (status === 0) {
        host.state[port] = OPEN;
        host.open.push(port);
        this.openCount++;
      } else {
        host.state[port] = CLOSED;
      }
    } else if (status === UV.ETIMEDOUT) {
      host.state[port] = UNANSWERED;
      host.retry.push(port);
    } else if (status === UV.EHOSTUNREACH) {
      host.state[port] = UNREACHABLE;
    } else if (status === UV.ENETUNREACH) {
      this.abandonHost(host, "network unreachable from here (no route to it)");
    } else {
      // EMFILE, ENOBUFS, EADDRNOTAVAIL, EPERM…: about this machine, not the target. Never "closed".
      this.onLocalError(host, port, status);
    }
  }

  /** EMFILE and friends: put the port back, shrink the budget, pause briefly. Never "closed". */
  private onLocalError(host: HostScan, port: number, status: number): void {
    host.localErrors ??= new Uint8Array(65536);
    const count = (host.localErrors[port] ?? 0) + 1;
    host.localErrors[port] = count;
    if (count > this.tuning.localErrorRetries) {
      host.state[port] = UNKNOWN;
      host.error ??= `local error ${errnoName(status)}: some ports could not be probed`;
    } else {
      host.again.push(port);
    }
    this.connector.trim(); // kept sockets are fds too
    this.budget = Math.max(8, Math.floor(Math.min(this.budget, this.inflight) * 0.8));
    this.backoffMs = Math.min(500, this.backoffMs === 0 ? 5 : this.backoffMs * 2);
    this.pausedUntil = performance.now() + this.backoffMs;
  }

  private recoverBudget(): void {
    // Cheap test first: on the hot path the budget is almost always full.
    if (this.budget < this.tuning.socketBudget && performance.now() >= this.pausedUntil) {
      this.budget++;
      this.backoffMs = Math.max(0, this.backoffMs >> 1);
    }
  }

  /** Moves a host to its next retry pass, or finishes it. */
  private advance(host: HostScan): void {
    if (host.finished || host.launchable || host.inflight > 0) return;
    const wantPass =
      host.retry.length > 0 &&
      (host.pass < this.tuning.minRetries ||
        (host.pass < this.tuning.maxRetries && host.recoveredThisPass > 0));
    if (wantPass) {
      const retry = Uint16Array.from(host.retry);
      shuffleRange(retry, 0, retry.length);
      host.order = retry;
      host.pos = 0;
      host.retry = [];
      host.pass++;
      host.recoveredThisPass = 0;
      return;
    }
    this.finishHost(host);
  }

  private finishHost(host: HostScan): void {
    host.finished = true;
    let closed = 0;
    let filtered = 0;
    let unknown = 0;
    for (const range of host.ports.ranges) {
      for (let p = range.from; p <= range.to; p++) {
        const s = host.state[p];
        if (s === CLOSED) closed++;
        else if (s === UNANSWERED || s === UNREACHABLE) filtered++;
        else if (s !== OPEN) unknown++;
      }
    }
    const result: ScanResult = {
      target: host.resolved.target,
      ip: host.resolved.ip,
      open: host.open.sort((a, b) => a - b),
      closed,
      filtered,
      complete: unknown === 0 && host.error === undefined,
      durationMs: Math.round(performance.now() - host.startedAt),
    };
    if (unknown > 0) result.unknown = unknown;
    if (host.error !== undefined) result.error = host.error;
    this.results[host.index] = result;
    // Release the per-port arrays now (~200 KB a host): a CLI round may hold thousands of hosts.
    host.order = new Uint16Array(0);
    host.state = new Uint8Array(0);
    host.localErrors = undefined;
    host.fifo = [];
    host.sentinels = [];
    this.activateHosts();
    if (this.hosts.every((h) => h.finished) && this.waiting.length === 0) this.finish?.();
  }

  private abandonHost(host: HostScan, reason: string): void {
    host.error ??= reason;
    host.pos = host.order.length;
    host.again = [];
    host.retry = [];
    for (const probe of host.sentinels) {
      if (probe.settled) continue;
      probe.settled = true;
      this.connector.abort(probe);
      this.inflight--;
      host.inflight--;
    }
    host.sentinels = [];
    for (let i = host.fifoHead; i < host.fifo.length; i++) {
      const probe = host.fifo[i] as Probe;
      if (probe.settled) continue;
      probe.settled = true;
      this.connector.abort(probe);
      this.inflight--;
      host.inflight--;
    }
    host.fifoHead = host.fifo.length;
  }

  private readonly sweepAfterPoll = (): void => {
    if (this.timer) this.sweep();
  };

  /** Expires silent probes, enforces the deadline, reports progress. Runs every few ms. */
  private sweep(): void {
    const now = performance.now();
    if (now >= this.deadline) {
      for (const host of this.hosts) {
        if (host.finished) continue;
        this.abandonHost(host, "deadline reached before the scan finished");
        this.finishHost(host);
      }
      for (const target of this.waiting.splice(0)) {
        const index = this.nextIndex++;
        this.results[index] = {
          target: target.target,
          ip: target.ip,
          open: [],
          closed: 0,
          filtered: 0,
          complete: false,
          durationMs: 0,
          unknown: this.portsOf(target).size,
          error: "deadline reached before the scan started",
        };
      }
      this.finish?.();
      return;
    }
    for (const host of this.hosts) {
      if (host.finished) continue;
      if (host.sentinels.length > 0) this.expireSentinels(host, now);
      const timeout = host.timeoutMs;
      const fifo = host.fifo;
      let head = host.fifoHead;
      while (head < fifo.length) {
        const probe = fifo[head] as Probe;
        if (!probe.settled) {
          if (now - probe.startedAt < timeout) break;
          this.expire(host, probe);
        }
        head++;
      }
      if (head > 4096 && head * 2 > fifo.length) {
        fifo.splice(0, head);
        head = 0;
      }
      host.fifoHead = head;
      this.advance(host);
    }
    this.reportProgress(false);
    this.pump();
  }

  private expireSentinels(host: HostScan, now: number): void {
    const timeout = host.sentinelTimeoutMs;
    let kept = 0;
    for (const probe of host.sentinels) {
      if (probe.settled) continue;
      if (now - probe.startedAt >= timeout) {
        this.expire(host, probe);
        continue;
      }
      host.sentinels[kept++] = probe;
    }
    host.sentinels.length = kept;
  }

  private expire(host: HostScan, probe: Probe): void {
    probe.settled = true;
    this.connector.abort(probe);
    this.inflight--;
    host.inflight--;
    this.probesDone++;
    host.state[probe.port] = UNANSWERED;
    host.retry.push(probe.port);
  }

  private reportProgress(final: boolean): void {
    const onProgress = this.options.onProgress;
    if (!onProgress) return;
    const now = performance.now();
    if (!final && now - this.lastProgress < PROGRESS_MS) return;
    this.lastProgress = now;
    const progress: ScanProgress = {
      probesDone: this.probesDone,
      probesTotal: this.probesTotal,
      open: this.openCount,
    };
    onProgress(progress);
  }
}
