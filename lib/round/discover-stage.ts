import type { S3Client } from "@aws-sdk/client-s3";
import { putJson } from "../aws/s3-json.ts";
import { clusterIdsKeyFor, targetsKeyFor } from "../contracts/deployment.ts";
import type { DiscoverEvent, DiscoverOutput } from "../contracts/lambda-events.ts";
import type { DiscoveryMetrics } from "../contracts/metrics.ts";
import { type CoverageStore, planCoverage, withCoverageSlice } from "../coverage/coverage.ts";
import type { Inventory } from "../discovery/types.ts";
import { InputError } from "../errors/errors.ts";
import type { StateStore } from "../state/types.ts";
import { releaseRoundLock, takeRoundLock } from "./round-lock.ts";
import { recordClusterFindings, targetFailure } from "./scan-stage.ts";
import { clusterFindingIds, targetsFromInventory } from "./targets.ts";

export interface DiscoverStageDeps {
  discover: () => Promise<Inventory>;
  s3: S3Client;
  /** The round bucket: targets and cluster ids go under `rounds/<roundId>/`. */
  bucket: string;
  store: StateStore;
  now?: () => Date;
  /**
   * Coverage slices (lib/coverage): every target gets the slice of 1-65535 scanned longest ago.
   * The slice is stamped when the round is dispatched (a deployed round has no single end point
   * that knows every batch's outcome; a failed batch shows in the round's IncompleteScans metric).
   */
  coverage?: { store: CoverageStore; slices: number };
}

/** More targets than this in one round is a discovery bug or a misconfiguration, not a fleet. */
export const MAX_TARGETS_PER_ROUND = 100_000;

/**
 * The Step Functions round's first stage: discover, write the target list the Map reads and the
 * cluster ids Notify's stale-IP check needs, record cluster-level findings.
 */
export async function discoverStage(
  deps: DiscoverStageDeps,
  round: DiscoverEvent,
): Promise<{ output: DiscoverOutput; inventory: Inventory }> {
  const inventory = await deps.discover();
  let targets = targetsFromInventory(inventory);
  if (targets.length > MAX_TARGETS_PER_ROUND)
    throw new InputError(
      "inventory",
      `${targets.length} public IPs, more than ${MAX_TARGETS_PER_ROUND} per round`,
    );
  if (deps.coverage && deps.coverage.slices > 0 && targets.length > 0) {
    const now = deps.now?.() ?? new Date();
    const plan = planCoverage(await deps.coverage.store.load(), deps.coverage.slices, round.roundId, now);
    targets = withCoverageSlice(targets, plan);
    await deps.coverage.store.save(plan.record);
  }
  const targetsKey = targetsKeyFor(round.roundId);
  await putJson(deps.s3, deps.bucket, targetsKey, targets);
  await putJson(deps.s3, deps.bucket, clusterIdsKeyFor(round.roundId), clusterFindingIds(inventory));
  const clusters = await recordClusterFindings(inventory, deps, deps.now ? { now: deps.now } : {});
  const output: DiscoverOutput = {
    roundId: round.roundId,
    startedAt: round.startedAt,
    targetsKey,
    targets: targets.length,
    discoveryErrors: inventory.errors.length,
    clusters: {
      newExposures: clusters.newExposures.length,
      resolved: clusters.resolved.length,
      openExposures: clusters.openExposures,
      // Entries of an S3 inventory left out for a bad value fail alone, with their reason.
      failedTargets: [
        ...clusters.failedTargets,
        ...(inventory.rejected ?? []).map((r) => targetFailure(r.target, r.error)),
      ],
    },
  };
  return { output, inventory };
}

export interface DiscoverRoundDeps extends DiscoverStageDeps {
  /** How long the round lock may be held (the state machine's timeout). Default: 50 minutes. */
  roundLockMs?: number;
}

const DEFAULT_ROUND_LOCK_MS = 50 * 60_000;

/** Where the Discover handler reports what happened: its logger and metrics. */
export interface DiscoverReport {
  info(message: string, extra: Record<string, unknown>): void;
  warn(message: string, extra: Record<string, unknown>): void;
  metrics(values: DiscoveryMetrics): void;
}

/**
 * The Discover Lambda's work: take the round lock (rounds never overlap; the lock is released by
 * the round's last Notify pass, or expires), run `discoverStage` (releasing the lock if it
 * fails), and report the accounts not discovered and the round's size.
 */
export async function runDiscoverRound(
  deps: DiscoverRoundDeps,
  round: DiscoverEvent,
  report: DiscoverReport,
): Promise<DiscoverOutput> {
  await takeRoundLock(deps.store, round.roundId, deps.roundLockMs ?? DEFAULT_ROUND_LOCK_MS);
  let stage: Awaited<ReturnType<typeof discoverStage>>;
  try {
    stage = await discoverStage(deps, round);
  } catch (error) {
    await releaseRoundLock(deps.store, round.roundId).catch(() => undefined);
    throw error;
  }
  const { output, inventory } = stage;
  for (const error of inventory.errors)
    report.warn("account not discovered", {
      account: error.account,
      region: error.region,
      reason: error.message,
    });
  report.metrics({ targets: output.targets, discoveryErrors: output.discoveryErrors });
  report.info("targets written", {
    roundId: round.roundId,
    targets: output.targets,
    clusters: inventory.clusters.length,
  });
  return output;
}
