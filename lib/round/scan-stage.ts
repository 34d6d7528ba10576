import pLimit from "p-limit";
import { severityRank } from "../catalog/severity.ts";
import type { Suppression } from "../config/suppressions.ts";
import { applySuppressions } from "../config/suppressions.ts";
import {
  CLUSTER_NAME_MAX_CHARS,
  EVIDENCE_MAX_CHARS,
  FIX_MAX_CHARS,
  INSTANCE_ID_MAX_CHARS,
  MESSAGE_MAX_CHARS,
  REGION_MAX_CHARS,
  SERVICE_MAX_CHARS,
  TARGET_LABEL_MAX_CHARS,
} from "../contracts/limits.ts";
import type { Inventory } from "../discovery/types.ts";
import { errorMessage } from "../errors/errors.ts";
import { classifyExposures, recordable } from "../findings/classify.ts";
import { type DiffPolicy, type DiffResult, diffExposures } from "../findings/diff.ts";
import type { ExposureRecord, Finding } from "../findings/types.ts";
import { type AddressPolicy, addressRefusal, PUBLIC_ONLY } from "../net/address-policy.ts";
import type { PortSet } from "../ports/port-set.ts";
import type { ProbeOpenPorts, ProbeResult } from "../probes/types.ts";
import {
  anchorsForTargets,
  DEFAULT_TIMING_ANCHOR,
  type TimingAnchorSetting,
} from "../scan/timing-anchor-setting.ts";
import type { ScanOptions, ScanProgress, ScanResult } from "../scan/types.ts";
import { StaleRecordError, type StateStore } from "../state/types.ts";
import { safeText } from "../text/sanitize.ts";
import { clusterFindingIds, clusterFindings, type ScanTarget } from "./targets.ts";

/** The adapters a round needs; the CLI and the Lambda handlers pass their own. */
export interface RoundDeps {
  scan: (hosts: string[], opts: ScanOptions) => Promise<ScanResult[]>;
  probe: ProbeOpenPorts;
  store: StateStore;
  suppressions?: Suppression[];
  /** Overrides of the diff policy (resolve after N scans, flap quiet period, resolved alerts). */
  policy?: Partial<DiffPolicy>;
  /**
   * Which addresses the round may touch. Default PUBLIC_ONLY: loopback/private targets fail with
   * the reason unless a person named them (`--targets`) or opted in (`--allow-private`).
   */
  addressPolicy?: AddressPolicy;
  /** Where silent targets borrow an RTT from (lib/scan/timing-anchor.ts). Default `region-endpoint`. */
  timingAnchor?: TimingAnchorSetting;
}

export interface ScanStageOptions {
  roundId: string;
  ports: PortSet;
  /** Epoch ms by which the stage should be done (Lambda: remaining time minus a margin). */
  deadline?: number;
  now?: () => Date;
  onProgress?: (p: ScanProgress) => void;
}

/** A target whose findings could not be recorded; the others are unaffected. */
export interface TargetFailure {
  ip: string;
  error: string;
}

export interface ScanStageResult {
  results: ScanResult[];
  newExposures: Finding[];
  resolved: Finding[];
  /** Open exposed/unexplained findings after this stage (latent ones are not exposures yet). */
  openExposures: number;
  /** Scans that were incomplete or whose target failed: they resolved nothing. */
  incompleteScans: number;
  failedTargets: TargetFailure[];
  /** Targets another scanner updated concurrently: it owns their alerts. */
  staleTargets: number;
  /** Findings hidden by an active suppression. */
  suppressed: number;
  /** Findings of targets whose state could not be read or written: reported, not recorded. */
  unrecorded: Finding[];
}

/**
 * The state store failed for one target (unreachable, read-only): its findings travel with the
 * error so the round still reports them instead of only "FAILED".
 */
export class UnrecordedFindingsError extends Error {
  constructor(
    readonly findings: Finding[],
    cause: unknown,
  ) {
    const worst = [...findings]
      .sort((a, b) => severityRank(a.severity) - severityRank(b.severity))
      .slice(0, 3)
      .map((f) => `${f.severity} ${f.service} ${f.portSpec ?? f.port}`);
    super(
      `state not recorded (${errorMessage(cause)})${findings.length > 0 ? `; ${findings.length} finding(s) unrecorded: ${worst.join(", ")}${findings.length > 3 ? ", …" : ""}` : ""}`,
    );
    this.name = "UnrecordedFindingsError";
  }
}

/** Targets recorded at once: each holds little, but the store sees one writer per target. */
const TARGET_CONCURRENCY = 8;

/** A failed target as reports and events carry it: bounded, so one long message cannot break a batch. */
export function targetFailure(target: string, error: unknown): TargetFailure {
  return {
    ip: safeText(target, TARGET_LABEL_MAX_CHARS),
    error: safeText(typeof error === "string" ? error : errorMessage(error), MESSAGE_MAX_CHARS),
  };
}

/**
 * A finding as it may be recorded, reported and alerted: every text field cleaned by the one
 * sanitiser (no controls, bidi or zero-width characters, secrets redacted) and cut to the limits
 * every store accepts. The state, --json, the console and SNS all carry this form.
 */
function withinLimits<F extends Finding>(finding: F): F {
  const clean = (text: string, max: number) => safeText(text, max);
  return {
    ...finding,
    service: clean(finding.service, SERVICE_MAX_CHARS),
    evidence: clean(finding.evidence, EVIDENCE_MAX_CHARS),
    ...(finding.fix !== undefined ? { fix: clean(finding.fix, FIX_MAX_CHARS) } : {}),
    ...(finding.cluster !== undefined ? { cluster: clean(finding.cluster, CLUSTER_NAME_MAX_CHARS) } : {}),
    ...(finding.region !== undefined ? { region: clean(finding.region, REGION_MAX_CHARS) } : {}),
    ...(finding.instanceId !== undefined
      ? { instanceId: clean(finding.instanceId, INSTANCE_ID_MAX_CHARS) }
      : {}),
  };
}

function countOpenExposures(records: readonly ExposureRecord[]): number {
  return records.filter((r) => r.status === "open" && r.kind !== "latent").length;
}

interface TargetOutcome {
  diff?: DiffResult;
  suppressed: number;
  stale?: boolean;
}

/**
 * The scanner stops earlier than the round's deadline: probes then still have time to prove what the
 * open ports mean (20% of the time left, 2-30 s), instead of a long scan eating all of it.
 */
export function scanDeadline(deadline: number, now: number): number {
  const left = deadline - now;
  const probeReserve = Math.min(30_000, Math.max(2_000, left * 0.2));
  return left > probeReserve ? deadline - probeReserve : now + Math.max(0, left / 2);
}

async function probeSafely(
  probe: ProbeOpenPorts,
  ip: string,
  open: number[],
  deadline: number | undefined,
  addressPolicy: AddressPolicy,
): Promise<ProbeResult[]> {
  if (open.length === 0 || (deadline !== undefined && Date.now() >= deadline)) return [];
  try {
    return await probe(ip, open, { addressPolicy, ...(deadline !== undefined ? { deadline } : {}) });
  } catch {
    // Probes refine findings; without them the catalogue still classifies every open port.
    return [];
  }
}

/**
 * What one target is scanned for this round: the round's ports, every port a security group opens
 * to the world (where a change matters most), and the target's coverage slice, if any.
 */
export function portsForTarget(target: ScanTarget, base: PortSet): PortSet {
  let ports = base;
  if (target.internetAllowed !== undefined) ports = ports.union(target.internetAllowed);
  if (target.coveragePorts !== undefined) ports = ports.union(target.coveragePorts);
  return ports;
}

async function recordTarget(
  target: ScanTarget,
  scan: ScanResult,
  deps: RoundDeps,
  options: ScanStageOptions,
  scanned: PortSet,
): Promise<TargetOutcome> {
  const probes = await probeSafely(
    deps.probe,
    target.ip,
    scan.open,
    options.deadline,
    deps.addressPolicy ?? PUBLIC_ONLY,
  );
  const { ip, internetAllowed, publicCidrAllowed, coveragePorts: _slice, ...context } = target;
  const sgKnown = internetAllowed !== undefined;
  const classified = classifyExposures({
    ...context,
    ip,
    open: scan.open,
    scanned,
    probes,
    ...(sgKnown ? { internetAllowed } : {}),
    ...(publicCidrAllowed !== undefined ? { publicCidrAllowed } : {}),
  });
  const findings = classified.map(withinLimits);
  const now = (options.now ?? (() => new Date()))();
  const split = applySuppressions(findings, deps.suppressions ?? [], now);
  const reported = split.reported.map(recordable);
  const suppressed = split.suppressed.map(recordable);
  let previous: ExposureRecord[];
  try {
    previous = await deps.store.loadIp(ip);
  } catch (error) {
    throw new UnrecordedFindingsError(reported, error);
  }
  const diff = diffExposures({
    previous,
    current: reported,
    suppressed,
    now,
    scanComplete: scan.complete,
    scanned,
    sgKnown,
    ...(deps.policy ? { policy: deps.policy } : {}),
  });
  if (diff.writes.length > 0) {
    try {
      await deps.store.saveRecords(diff.writes);
    } catch (error) {
      if (error instanceof StaleRecordError) return { suppressed: suppressed.length, stale: true };
      throw new UnrecordedFindingsError(reported, error);
    }
  }
  return { diff, suppressed: suppressed.length };
}

/**
 * The scan stage of a round: scan every target → probe open ports → classify against the security
 * groups → apply suppressions → diff with state → conditional writes (the outbox is the records'
 * pendingAlert). One failing target is reported in `failedTargets` and does not stop the others.
 * A target the address policy refuses is never scanned: it fails with the refusal as its reason.
 */
export async function scanTargets(
  allTargets: ScanTarget[],
  deps: RoundDeps,
  options: ScanStageOptions,
): Promise<ScanStageResult> {
  const addressPolicy = deps.addressPolicy ?? PUBLIC_ONLY;
  const refusedByIp = new Map<string, TargetFailure>();
  const targets = allTargets.filter((t) => {
    const refusal = addressRefusal(t.ip, addressPolicy);
    if (refusal) refusedByIp.set(t.ip, targetFailure(t.ip, refusal));
    return refusal === undefined;
  });
  const refused = [...refusedByIp.values()];
  const hosts = [...new Set(targets.map((t) => t.ip))];
  const portsByIp = new Map<string, PortSet>();
  for (const t of targets) if (!portsByIp.has(t.ip)) portsByIp.set(t.ip, portsForTarget(t, options.ports));
  const results =
    hosts.length === 0
      ? []
      : await deps.scan(hosts, {
          ports: options.ports,
          hostPorts: portsByIp,
          addressPolicy,
          timingAnchors: anchorsForTargets(deps.timingAnchor ?? DEFAULT_TIMING_ANCHOR, targets),
          ...(options.deadline !== undefined ? { deadline: scanDeadline(options.deadline, Date.now()) } : {}),
          ...(options.onProgress ? { onProgress: options.onProgress } : {}),
        });
  const byTarget = new Map(results.map((r) => [r.target, r]));
  const stage: ScanStageResult = {
    results,
    newExposures: [],
    resolved: [],
    openExposures: 0,
    incompleteScans: refused.length,
    failedTargets: refused,
    staleTargets: 0,
    suppressed: 0,
    unrecorded: [],
  };
  const seen = new Set<string>();
  const unique = targets.filter((t) => !seen.has(t.ip) && seen.add(t.ip));
  await pLimit(TARGET_CONCURRENCY).map(unique, async (target) => {
    const scan = byTarget.get(target.ip);
    try {
      if (!scan) throw new Error("the scanner returned no result for this address");
      const outcome = await recordTarget(
        target,
        scan,
        deps,
        options,
        portsByIp.get(target.ip) ?? options.ports,
      );
      if (!scan.complete) stage.incompleteScans++;
      stage.suppressed += outcome.suppressed;
      if (outcome.stale || !outcome.diff) {
        stage.staleTargets++;
        return;
      }
      stage.newExposures.push(...outcome.diff.newExposures);
      stage.resolved.push(...outcome.diff.resolved);
      stage.openExposures += countOpenExposures(outcome.diff.open);
    } catch (error) {
      stage.incompleteScans++;
      if (error instanceof UnrecordedFindingsError) stage.unrecorded.push(...error.findings);
      stage.failedTargets.push(targetFailure(target.ip, error));
    }
  });
  return stage;
}

/**
 * Records cluster-level findings (public EKS endpoints) like a node's: new → alert, gone from a
 * complete inventory → resolved after N rounds. Clusters absent from the inventory are untouched.
 */
export async function recordClusterFindings(
  inventory: Inventory,
  deps: Pick<RoundDeps, "store" | "suppressions" | "policy">,
  options: { now?: () => Date } = {},
): Promise<Pick<ScanStageResult, "newExposures" | "resolved" | "openExposures" | "failedTargets">> {
  const now = (options.now ?? (() => new Date()))();
  const findings = clusterFindings(inventory).map(withinLimits);
  const out: Pick<ScanStageResult, "newExposures" | "resolved" | "openExposures" | "failedTargets"> = {
    newExposures: [],
    resolved: [],
    openExposures: 0,
    failedTargets: [],
  };
  for (const id of new Set(clusterFindingIds(inventory))) {
    try {
      const { reported, suppressed } = applySuppressions(
        findings.filter((f) => f.ip === id),
        deps.suppressions ?? [],
        now,
      );
      const diff = diffExposures({
        previous: await deps.store.loadIp(id),
        current: reported,
        suppressed,
        now,
        scanComplete: true,
        ...(deps.policy ? { policy: deps.policy } : {}),
      });
      if (diff.writes.length > 0) await deps.store.saveRecords(diff.writes);
      out.newExposures.push(...diff.newExposures);
      out.resolved.push(...diff.resolved);
      out.openExposures += countOpenExposures(diff.open);
    } catch (error) {
      if (error instanceof StaleRecordError) continue;
      out.failedTargets.push(targetFailure(id, error));
    }
  }
  return out;
}
