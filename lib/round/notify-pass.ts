import { baselineConfigSchema } from "../config/config-file.ts";
import { parseInput } from "../config/zod-input.ts";
import { ENV } from "../contracts/deployment.ts";
import type { NotifyEvent, NotifyOutput } from "../contracts/lambda-events.ts";
import type { RoundMetrics } from "../contracts/metrics.ts";
import { finishMapRound, type MapRoundDeps } from "./map-results.ts";
import type { BaselinePolicy } from "./notify-stage.ts";
import { releaseRoundLock } from "./round-lock.ts";

export interface NotifyPassDeps extends MapRoundDeps {
  /** Baseline digests (false: off). Default: the notify stage's defaults. */
  baseline?: Partial<BaselinePolicy> | false;
}

/** A pass stops starting publish batches this long before Lambda's deadline (writes, return). */
const PASS_MARGIN_MS = 20_000;
/** Without a Lambda context (tests, local runs): a pass may take this long. */
const DEFAULT_PASS_MS = 100_000;
/** A loop that never empties the outbox (a bug) stops here; the next round goes on. */
export const MAX_NOTIFY_PASSES = 50;

/** Where a pass reports what happened: the handler's logger and metrics. */
export interface NotifyPassReport {
  info(message: string, extra: Record<string, unknown>): void;
  warn(message: string, extra: Record<string, unknown>): void;
  error(message: string, extra: Record<string, unknown>): void;
  metrics(values: RoundMetrics): void;
}

/** `BASELINE` as the construct writes it: JSON of the policy, or `false`. */
export function parseBaselineEnv(value: string | undefined): Partial<BaselinePolicy> | false | undefined {
  if (value === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch {
    json = value;
  }
  const parsed = parseInput(baselineConfigSchema, json, `environment.${ENV.baseline}`);
  return parsed === false ? false : (parsed as Partial<BaselinePolicy>);
}

/**
 * One Notify pass of the Step Functions round. The state machine loops back while a pass reports
 * `more`: each pass drains what it can before Lambda's deadline (`remainingMs`; none outside
 * Lambda) and hands the cursor on. The last pass releases the round lock. A state-store failure
 * is reported, then thrown, so Step Functions sees the round fail.
 */
export async function runNotifyPass(
  deps: NotifyPassDeps,
  round: NotifyEvent,
  report: NotifyPassReport,
  remainingMs?: number,
): Promise<NotifyOutput> {
  const now = deps.now ?? (() => new Date());
  const previous = round.notify;
  const passes = (previous?.passes ?? 0) + 1;
  const budget = remainingMs !== undefined ? remainingMs - PASS_MARGIN_MS : DEFAULT_PASS_MS;
  const {
    summary,
    alerts,
    staleIps = [],
    staleCheckError,
  } = await finishMapRound(deps, round, {
    firstPass: previous === undefined,
    ...(previous?.cursor !== undefined ? { cursor: previous.cursor } : {}),
    deadline: Date.now() + Math.max(1_000, budget),
    ...(deps.baseline !== undefined ? { baseline: deps.baseline } : {}),
  });
  const more = alerts.more && passes < MAX_NOTIFY_PASSES;
  if (alerts.more && !more)
    report.warn("outbox not empty after the last allowed pass; the rest waits for the next round", {
      passes,
    });
  if (alerts.storeError !== undefined)
    report.error("state store failed; a round-failed alert was attempted", { reason: alerts.storeError });
  if (!more)
    await releaseRoundLock(deps.store, round.roundId).catch((error: unknown) =>
      report.warn("round lock not released; it expires with the round timeout", {
        reason: error instanceof Error ? error.message : String(error),
      }),
    );
  if (alerts.failed > 0)
    report.warn("alerts not delivered; they stay pending for the next round", {
      failed: alerts.failed,
      reason: alerts.publishError,
    });
  if (staleCheckError !== undefined) report.warn("stale IP check skipped", { reason: staleCheckError });
  if (staleIps.length > 0) report.warn("stored IPs no longer discovered", { staleIps });
  report.metrics({
    targets: round.targets,
    newExposures: summary.newExposures,
    openExposures: summary.openExposures,
    incompleteScans: summary.incompleteScans,
    alertsPublished: alerts.published,
    alertsFailed: alerts.failed,
    roundDurationMs: Math.max(0, now().getTime() - Date.parse(round.startedAt)),
  });
  report.info(more ? "notify pass done, more alerts pending" : "round notified", {
    ...summary,
    passes,
    published: alerts.published,
    failed: alerts.failed,
    digests: alerts.digests,
    recorded: alerts.recorded,
  });
  if (alerts.storeError !== undefined) throw new Error(`state store failed: ${alerts.storeError}`);
  return {
    roundId: round.roundId,
    complete: summary.complete,
    newExposures: summary.newExposures,
    resolved: summary.resolved,
    openExposures: summary.openExposures,
    incompleteScans: summary.incompleteScans,
    published: (previous?.published ?? 0) + alerts.published,
    failed: alerts.failed,
    staleIps,
    digests: (previous?.digests ?? 0) + alerts.digests,
    recorded: (previous?.recorded ?? 0) + alerts.recorded,
    more,
    ...(more && alerts.cursor !== undefined ? { cursor: alerts.cursor } : {}),
    passes,
  };
}
