import type { Context } from "aws-lambda";
import { parseInput } from "../lib/config/zod-input.ts";
import { ENV } from "../lib/contracts/deployment.ts";
import { type NotifyOutput, notifyEventSchema } from "../lib/contracts/lambda-events.ts";
import {
  type NotifyPassDeps,
  type NotifyPassReport,
  parseBaselineEnv,
  runNotifyPass,
} from "../lib/round/notify-pass.ts";
import { alertNotifier, lambdaClients, once, readEnvironment, required, stateStore } from "./environment.ts";
import { instrumented, logger, recordRoundMetrics } from "./observability.ts";

export type NotifyDeps = NotifyPassDeps;
export { MAX_NOTIFY_PASSES, parseBaselineEnv } from "../lib/round/notify-pass.ts";

export function makeNotifyHandler(deps: () => NotifyDeps) {
  return (event: unknown, context?: Context): Promise<NotifyOutput> =>
    instrumented("notify", context, async () => {
      const round = parseInput(notifyEventSchema, event, "event");
      const report: NotifyPassReport = {
        info: (message, extra) => logger.info(message, extra),
        warn: (message, extra) => logger.warn(message, extra),
        error: (message, extra) => logger.error(message, extra),
        metrics: recordRoundMetrics,
      };
      // The state machine loops back here while a pass reports `more` (see runNotifyPass).
      return runNotifyPass(deps(), round, report, context?.getRemainingTimeInMillis());
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
