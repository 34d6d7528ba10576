import { randomBytes } from "node:crypto";
import type { Notifier } from "../alerts/types.ts";
import type { Inventory } from "../discovery/types.ts";
import type { Finding } from "../findings/types.ts";
import { finishRound, tallyOf } from "./round-outcome.ts";
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

/** The `portwarden run --json` document (README "Output"); extra fields are additions, never renames. */
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
  const clusters = inventory ? await recordClusterFindings(inventory, deps, { now }) : undefined;
  const round = await finishRound(
    deps,
    { roundId, startedAt, targets: targets.length, discoveryErrors: inventory?.errors.length ?? 0 },
    [tallyOf(stage), ...(clusters ? [tallyOf(clusters)] : [])],
    {
      now,
      ...(inventory
        ? { knownIds: async () => [...targets.map((t) => t.ip), ...clusterFindingIds(inventory)] }
        : {}),
    },
  );
  const { complete, incompleteScans } = round.summary;
  return {
    round: {
      id: roundId,
      startedAt,
      targets: targets.length,
      complete,
      incompleteScans,
      durationMs: Math.max(0, now().getTime() - started.getTime()),
    },
    newExposures: [...stage.newExposures, ...(clusters?.newExposures ?? [])],
    resolved: [...stage.resolved, ...(clusters?.resolved ?? [])],
    openExposures: round.summary.openExposures,
    failedTargets: round.failedTargets,
    suppressed: stage.suppressed,
    alerts: { published: round.alerts.published, failed: round.alerts.failed },
    ...(round.staleIps ? { staleIps: round.staleIps } : {}),
  };
}
