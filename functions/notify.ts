import type { Context } from "aws-lambda";
import { SnsNotifier } from "../lib/alerts/sns-notifier.ts";
import { parseInput } from "../lib/config/zod-input.ts";
import { ENV } from "../lib/contracts/deployment.ts";
import { type NotifyOutput, notifyEventSchema } from "../lib/contracts/lambda-events.ts";
import { finishMapRound, type MapRoundDeps } from "../lib/round/map-results.ts";
import { withSecurityHub } from "../lib/securityhub/destination.ts";
import { DynamoStateStore } from "../lib/state/dynamo-state-store.ts";
import { lambdaClients, once, readEnvironment, required } from "./environment.ts";
import { instrumented, logger, recordRoundMetrics } from "./observability.ts";

export type NotifyDeps = MapRoundDeps;

export function makeNotifyHandler(deps: () => NotifyDeps) {
  return (event: unknown, context?: Context): Promise<NotifyOutput> =>
    instrumented("notify", context, async () => {
      const round = parseInput(notifyEventSchema, event, "event");
      const d = deps();
      const now = d.now ?? (() => new Date());
      const { summary, alerts, staleIps = [], staleCheckError } = await finishMapRound(d, round);
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
      logger.info("round notified", { ...summary, published: alerts.published, failed: alerts.failed });
      return {
        roundId: round.roundId,
        complete: summary.complete,
        newExposures: summary.newExposures,
        resolved: summary.resolved,
        openExposures: summary.openExposures,
        incompleteScans: summary.incompleteScans,
        published: alerts.published,
        failed: alerts.failed,
        staleIps,
      };
    });
}

export const notifyDeps = once((): NotifyDeps => {
  const env = readEnvironment();
  const clients = lambdaClients(env);
  return {
    store: new DynamoStateStore({ client: clients.dynamodb, tableName: required(env, ENV.stateTableName) }),
    notifier: withSecurityHub(
      new SnsNotifier({ client: clients.sns, topicArn: required(env, ENV.alertTopicArn) }),
      env[ENV.securityHub] === "true",
      () => clients,
      (rejected) => logger.warn("Security Hub refused findings", { rejected }),
    ),
    s3: clients.s3,
    bucket: required(env, ENV.roundBucketName),
  };
});

export const handler = makeNotifyHandler(notifyDeps);
