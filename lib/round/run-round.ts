import { randomBytes } from "node:crypto";
import type { Notifier } from "../alerts/types.ts";
import { severityRank } from "../catalog/severity.ts";
import type { Inventory } from "../discovery/types.ts";
import { errorMessage } from "../errors/errors.ts";
import { findingOf } from "../findings/diff.ts";
import { type ExposureRecord, type Finding, findingKey } from "../findings/types.ts";
import type { ScanResult } from "../scan/types.ts";
import type { StateStore } from "../state/types.ts";
import type { BaselinePolicy } from "./notify-stage.ts";
import { finishRound, tallyOf } from "./round-outcome.ts";
import {
  type RoundDeps,
  recordClusterFindings,
  type ScanStageOptions,
  scanTargets,
  type TargetFailure,
  targetFailure,
} from "./scan-stage.ts";
import { clusterFindingIds, type ScanTarget } from "./targets.ts";

export interface RoundOptions extends Omit<ScanStageOptions, "roundId"> {
  /** Default: `r-<UTC timestamp>-<random>`. */
  roundId?: string;
  /** When the targets came from an inventory: its cluster-level findings and errors join the round. */
  inventory?: Inventory;
  /** Baseline digests (false: off). Default: notify-stage's DEFAULT_BASELINE_POLICY. */
  baseline?: Partial<BaselinePolicy> | false;
}

/**
 * Why a round is INCOMPLETE, one entry per cause (CONTRACTS.md):
 * - `discovery`: an account (and region) discovery could not read, with AWS's error;
 * - `scan`: a target whose scan left ports unknown (local errors, a name that does not resolve);
 * - `target`: a target whose findings could not be recorded (state store error, ...);
 * - `deadline`: the round's deadline (`--max-seconds`) stopped scans before they finished.
 */
export type IncompleteReason =
  | { type: "discovery"; account: string; region?: string; error: string }
  | { type: "scan"; target: string; ip: string; error: string; unknownPorts?: number }
  | { type: "target"; ip: string; error: string }
  | { type: "deadline"; deadline: string; unfinishedScans: number; ips: string[]; error: string };

/** One finding open after the round, as `run --json` and `status --json` list it. */
export interface OpenExposure extends Finding {
  firstSeen: string;
  lastSeen: string;
}

/** The `portwarden run --json` document (CONTRACTS.md); extra fields are additions, never renames. */
export interface RoundReport {
  round: {
    id: string;
    startedAt: string;
    targets: number;
    /** False if any scan was incomplete, any target failed, or discovery missed an account. */
    complete: boolean;
    incompleteScans: number;
    durationMs: number;
  };
  /** Empty when the round is complete; otherwise every reason it is not. */
  reasons: IncompleteReason[];
  newExposures: Finding[];
  resolved: Finding[];
  /** Open exposed/unexplained findings after the round (latent ones are warnings, not counted). */
  openExposures: number;
  /**
   * Every exposed/unexplained finding open after the round on this round's targets, from the
   * stored state (so also what an earlier round found on a target this one could not re-check),
   * most severe first.
   */
  exposures: OpenExposure[];
  /** Open latent findings (a security group opens the port, nothing listens yet) on these targets. */
  latent: OpenExposure[];
  /** Targets whose findings could not be recorded (the round went on without them). */
  failedTargets: TargetFailure[];
  /** Findings hidden by an active suppression. */
  suppressed: number;
  /**
   * What the notifier accepted; failed alerts stay in the outbox and are retried next round.
   * `digests`: baseline digests sent; `recorded`: alerts a digest stands for, recorded as sent.
   */
  alerts: { published: number; failed: number; digests: number; recorded: number };
  /**
   * Findings of targets whose state could not be read or written (store down, read-only): the
   * round still reports them, and a round-failed alert names them. Present when not empty.
   */
  unrecorded?: Finding[];
  /**
   * Inventory rounds only: IPs with stored history that the inventory no longer lists (node gone,
   * IP released). Their records are left as they are; listed so someone can look. At most 100.
   */
  staleIps?: string[];
  /** With coverage slices (`--coverage-slices`): which slice of 1-65535 this round added. */
  coverage?: { slice: number; slices: number; ports: string };
}

/** A deadline reason lists this many of the unfinished IPs (the count is always exact). */
const MAX_DEADLINE_IPS = 20;

/** Open records as report entries, most severe first, then by IP and port. */
export function openExposuresOf(records: readonly ExposureRecord[]): OpenExposure[] {
  return records
    .filter((r) => r.status === "open")
    .sort(
      (a, b) =>
        severityRank(a.severity) - severityRank(b.severity) || a.ip.localeCompare(b.ip) || a.port - b.port,
    )
    .map((r) => ({ ...findingOf(r), firstSeen: r.firstSeen, lastSeen: r.lastSeen }));
}

/** Everything the store holds open for these ids (IPs and cluster finding ids). */
async function openRecordsOf(store: StateStore, ids: readonly string[]): Promise<ExposureRecord[]> {
  const out: ExposureRecord[] = [];
  for (const id of new Set(ids)) {
    try {
      out.push(...(await store.loadIp(id)).filter((r) => r.status === "open"));
    } catch {
      // A target whose records cannot be read is already a `target` reason; list the others.
    }
  }
  return out;
}

/** The reasons a round is incomplete, from what discovery, the scanner and the stage reported. */
export function incompleteReasons(
  inventory: Inventory | undefined,
  results: readonly ScanResult[],
  failedTargets: readonly { ip: string; error: string }[],
  deadline: number | undefined,
): IncompleteReason[] {
  const reasons: IncompleteReason[] = (inventory?.errors ?? []).map((e) => ({
    type: "discovery" as const,
    account: e.account,
    ...(e.region ? { region: e.region } : {}),
    error: e.message,
  }));
  const late: ScanResult[] = [];
  for (const r of results) {
    if (r.complete) continue;
    const error = r.error ?? "some ports stayed unknown";
    if (deadline !== undefined && error.startsWith("deadline")) {
      late.push(r);
      continue;
    }
    reasons.push({
      type: "scan",
      target: r.target,
      ip: r.ip,
      error,
      ...(r.unknown !== undefined ? { unknownPorts: r.unknown } : {}),
    });
  }
  if (late.length > 0 && deadline !== undefined)
    reasons.push({
      type: "deadline",
      deadline: new Date(deadline).toISOString(),
      unfinishedScans: late.length,
      ips: late.slice(0, MAX_DEADLINE_IPS).map((r) => r.ip || r.target),
      error: `the round's deadline stopped ${late.length === 1 ? "1 scan before it" : `${late.length} scans before they`} finished`,
    });
  for (const f of failedTargets) reasons.push({ type: "target", ip: f.ip, error: f.error });
  return reasons;
}

export function newRoundId(now: Date): string {
  return `r-${now.toISOString().replace(/[-:.]/g, "")}-${randomBytes(3).toString("hex")}`;
}

/**
 * One whole round in one process — what `portwarden run` calls, and what the Step Functions
 * stages do separately: scan stage (scan, probe, classify, diff, write) then notify stage.
 */
export async function runRound(
  targets: ScanTarget[],
  deps: RoundDeps & { notifier: Notifier },
  options: RoundOptions,
): Promise<RoundReport> {
  const now = options.now ?? (() => new Date());
  const started = now();
  const startedAt = started.toISOString();
  const roundId = options.roundId ?? newRoundId(started);
  const stage = await scanTargets(targets, deps, { ...options, roundId, now });
  const inventory = options.inventory;
  // Inventory entries left out for a bad value fail alone, with their reason.
  for (const rejection of inventory?.rejected ?? []) {
    stage.failedTargets.push(targetFailure(rejection.target, rejection.error));
    stage.incompleteScans++;
  }
  const clusters = inventory ? await recordClusterFindings(inventory, deps, { now }) : undefined;
  const unrecorded = [...stage.unrecorded];
  const stateFailures: TargetFailure[] = [];
  // One write per round for stores that stage (the file store). A write that lost a race reports
  // nothing as new; a failed write loses no finding from the report and becomes a round-failed alert.
  if (deps.store.flush) {
    try {
      const { stale } = await deps.store.flush();
      if (stale.length > 0) {
        const lost = new Set(stale);
        const kept = (f: Finding) => !lost.has(findingKey(f));
        for (const part of [stage, ...(clusters ? [clusters] : [])]) {
          part.newExposures = part.newExposures.filter(kept);
          part.resolved = part.resolved.filter(kept);
        }
      }
    } catch (error) {
      const parts = [stage, ...(clusters ? [clusters] : [])];
      const found = parts.flatMap((p) => [...p.newExposures, ...p.resolved]);
      unrecorded.push(...found);
      stateFailures.push({
        ip: "state",
        error: `state not written (${errorMessage(error)}); ${found.length} new or resolved finding(s) unrecorded`,
      });
    }
  }
  const round = await finishRound(
    deps,
    { roundId, startedAt, targets: targets.length, discoveryErrors: inventory?.errors.length ?? 0 },
    [
      tallyOf(stage),
      ...(clusters ? [tallyOf(clusters)] : []),
      { newExposures: 0, resolved: 0, openExposures: 0, failedTargets: stateFailures },
    ],
    {
      now,
      ...(options.baseline !== undefined ? { notify: { baseline: options.baseline } } : {}),
      ...(inventory
        ? { knownIds: async () => [...targets.map((t) => t.ip), ...clusterFindingIds(inventory)] }
        : {}),
    },
  );
  if (round.alerts.storeError !== undefined)
    round.failedTargets.push({
      ip: "state",
      error: `alerts not sent: state store failed (${round.alerts.storeError})`,
    });
  const complete = round.summary.complete && round.alerts.storeError === undefined;
  const { incompleteScans } = round.summary;
  // What is open now, from the store: also what earlier rounds found and this one could not re-check.
  const open = openExposuresOf(
    await openRecordsOf(deps.store, [
      ...targets.map((t) => t.ip),
      ...(inventory ? clusterFindingIds(inventory) : []),
    ]),
  );
  return {
    round: {
      id: roundId,
      startedAt,
      targets: targets.length,
      complete,
      incompleteScans,
      durationMs: Math.max(0, now().getTime() - started.getTime()),
    },
    reasons: incompleteReasons(inventory, stage.results, round.failedTargets, options.deadline),
    newExposures: [...stage.newExposures, ...(clusters?.newExposures ?? [])],
    resolved: [...stage.resolved, ...(clusters?.resolved ?? [])],
    openExposures: round.summary.openExposures,
    exposures: open.filter((f) => f.kind !== "latent"),
    latent: open.filter((f) => f.kind === "latent"),
    failedTargets: round.failedTargets,
    suppressed: stage.suppressed,
    alerts: {
      published: round.alerts.published,
      failed: round.alerts.failed,
      digests: round.alerts.digests,
      recorded: round.alerts.recorded,
    },
    ...(unrecorded.length > 0 ? { unrecorded } : {}),
    ...(round.staleIps ? { staleIps: round.staleIps } : {}),
  };
}
