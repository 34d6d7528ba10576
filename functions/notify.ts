import type { Context } from "aws-lambda";
import { baselineConfigSchema } from "../lib/config/config-file.ts";
import { parseInput } from "../lib/config/zod-input.ts";
import { ENV } from "../lib/contracts/deployment.ts";
import { type NotifyOutput, notifyEventSchema } from "../lib/contracts/lambda-events.ts";
import { finishMapRound, type MapRoundDeps } from "../lib/round/map-results.ts";
import type { BaselinePolicy } from "../lib/round/notify-stage.ts";
import { releaseRoundLock } from "../lib/round/round-lock.ts";
import { alertNotifier, lambdaClients, once, readEnvironment, required, stateStore } from "./environment.ts";
import { instrumented, logger, recordRoundMetrics } from "./observability.ts";

export interface NotifyDeps extends MapRoundDeps {
  /** Baseline digests (false: off). Default: the notify stage's defaults. */
  baseline?: Partial<BaselinePolicy> | false;
}

/** A pass stops starting publish batches this long before Lambda's deadline (writes, return). */
const PASS_MARGIN_MS = 20_000;
/** Without a Lambda context (tests, local runs): a pass may take this long. */
const DEFAULT_PASS_MS = 100_000;
/** A loop that never empties the outbox (a bug) stops here; the next round goes on. */
export const MAX_NOTIFY_PASSES = 50;

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

export function makeNotifyHandler(deps: () => NotifyDeps) {
  return (event: unknown, context?: Context): Promise<NotifyOutput> =>
    instrumented("notify", context, async () => {
      const round = parseInput(notifyEventSchema, event, "event");
      const d = deps();
      const now = d.now ?? (() => new Date());
      // The state machine loops back here while a pass reports `more`: each pass drains what it
      // can before Lambda's deadline and hands the cursor on.
      const previous = round.notify;
      const passes = (previous?.passes ?? 0) + 1;
      const budget = context ? context.getRemainingTimeInMillis() - PASS_MARGIN_MS : DEFAULT_PASS_MS;
      const {
        summary,
        alerts,
        staleIps = [],
        staleCheckError,
      } = await finishMapRound(d, round, {
        firstPass: previous === undefined,
        ...(previous?.cursor !== undefined ? { cursor: previous.cursor } : {}),
        deadline: Date.now() + Math.max(1_000, budget),
        ...(d.baseline !== undefined ? { baseline: d.baseline } : {}),
      });
      const more = alerts.more && passes < MAX_NOTIFY_PASSES;
      if (alerts.more && !more)
        logger.warn("outbox not empty after the last allowed pass; the rest waits for the next round", {
          passes,
        });
      if (alerts.storeError !== undefined)
        logger.error("state store failed; a round-failed alert was attempted", { reason: alerts.storeError });
      if (!more)
        await releaseRoundLock(d.store, round.roundId).catch((error: unknown) =>
          logger.warn("round lock not released; it expires with the round timeout", {
            reason: error instanceof Error ? error.message : String(error),
          }),
        );
      if (alerts.failed > 0)
        logger.warn("alerts not delivered; they stay pending for the next round", {
          failed: alerts.failed,
          reason: alerts.publishError,
        });
      if (staleCheckError !== undefined) logger.warn("stale IP check skipped", { reason: staleCheckError });
      if (staleIps.length > 0) logger.warn("stored IPs no longer discovered", { staleIps });
      recordRoundMetrics({
        targets: round.targets,
        newExposures: summary.newExposures,
        openExposures: summary.openExposures,
        incompleteScans: summary.incompleteScans,
        alertsPublished: alerts.published,
        alertsFailed: alerts.failed,
        roundDurationMs: Math.max(0, now().getTime() - Date.parse(round.startedAt)),
      });
      logger.info(more ? "notify pass done, more alerts pending" : "round notified", {
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
    });
}

export const notifyDeps = once((): NotifyDeps => {
  const env = readEnvironment();
  const clients = lambdaClients(env);
  return {
    store: stateStore(env, clients),
    notifier: alertNotifier(env, clients),
    s3: clients.s3,
    bucket: required(env, ENV.roundBucketName),
    ...(env[ENV.baseline] !== undefined ? { baseline: parseBaselineEnv(env[ENV.baseline]) ?? {} } : {}),
  };
});

export const handler = makeNotifyHandler(notifyDeps);
