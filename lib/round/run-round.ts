import { randomBytes } from "node:crypto";
import type { Notifier, RoundSummary } from "../alerts/types.ts";
import type { Inventory } from "../discovery/types.ts";
import type { Finding } from "../findings/types.ts";
import { notifyPending } from "./notify-stage.ts";
import {
  type RoundDeps,
  recordClusterFindings,
  type ScanStageOptions,
  scanTargets,
  type TargetFailure,
} from "./scan-stage.ts";
import { clusterFindingIds, type ScanTarget } from "./targets.ts";

export interface RoundOptions extends Omit<ScanStageOptions, "roundId"> {
  /** Default: `r-<UTC timestamp>-<random>`. */
  roundId?: string;
  /** When the targets came from an inventory: its cluster-level findings and errors join the round. */
  inventory?: Inventory;
}

/** The `portwarden run --json` document (DESIGN.md); extra fields are additions, never renames. */
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
  newExposures: Finding[];
  resolved: Finding[];
  /** Open exposed/unexplained findings after the round (latent ones are warnings, not counted). */
  openExposures: number;
  /** Targets whose findings could not be recorded (the round went on without them). */
  failedTargets: TargetFailure[];
  /** Findings hidden by an active suppression. */
  suppressed: number;
  /** What the notifier accepted; failed alerts stay in the outbox and are retried next round. */
  alerts: { published: number; failed: number };
  /**
   * Inventory rounds only: IPs with stored history that the inventory no longer lists (node gone,
   * IP released). Their records are left as they are; listed so someone can look. At most 100.
   */
  staleIps?: string[];
}

const MAX_STALE_IPS = 100;

/** IPs the store knows that this (complete) inventory no longer has; empty when discovery missed an account. */
async function staleIpsOf(
  targets: readonly ScanTarget[],
  inventory: Inventory,
  deps: RoundDeps,
): Promise<string[]> {
  if (inventory.errors.length > 0) return [];
  const known = new Set([...targets.map((t) => t.ip), ...clusterFindingIds(inventory)]);
  return (await deps.store.listIps()).filter((ip) => !known.has(ip)).slice(0, MAX_STALE_IPS);
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
  if (options.inventory) {
    const clusters = await recordClusterFindings(options.inventory, deps, { now });
    stage.newExposures.push(...clusters.newExposures);
    stage.resolved.push(...clusters.resolved);
    stage.openExposures += clusters.openExposures;
    stage.failedTargets.push(...clusters.failedTargets);
  }
  const complete =
    stage.incompleteScans === 0 &&
    stage.failedTargets.length === 0 &&
    (options.inventory?.errors.length ?? 0) === 0;
  const summary: RoundSummary = {
    roundId,
    startedAt,
    targets: targets.length,
    complete,
    newExposures: stage.newExposures.length,
    resolved: stage.resolved.length,
    openExposures: stage.openExposures,
    incompleteScans: stage.incompleteScans,
  };
  const alerts = await notifyPending(deps, summary, { now, failedTargets: stage.failedTargets });
  const staleIps = options.inventory ? await staleIpsOf(targets, options.inventory, deps) : undefined;
  return {
    round: {
      id: roundId,
      startedAt,
      targets: targets.length,
      complete,
      incompleteScans: stage.incompleteScans,
      durationMs: Math.max(0, now().getTime() - started.getTime()),
    },
    newExposures: stage.newExposures,
    resolved: stage.resolved,
    openExposures: stage.openExposures,
    failedTargets: stage.failedTargets,
    suppressed: stage.suppressed,
    alerts: { published: alerts.published, failed: alerts.failed },
    ...(staleIps ? { staleIps } : {}),
  };
}
