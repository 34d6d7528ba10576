import type { Context } from "aws-lambda";
import { getJson } from "../lib/aws/s3-json.ts";
import { parseInventory } from "../lib/config/inventory-file.ts";
import { parseInput } from "../lib/config/zod-input.ts";
import { COVERAGE_KEY, ENV } from "../lib/contracts/deployment.ts";
import { type DiscoverOutput, discoverEventSchema } from "../lib/contracts/lambda-events.ts";
import { validateSliceCount } from "../lib/coverage/coverage.ts";
import { S3CoverageStore } from "../lib/coverage/coverage-stores.ts";
import { discoverInventory } from "../lib/discovery/discover.ts";
import { parseAccountList, parseRegionList } from "../lib/discovery/options.ts";
import { type DiscoverRoundDeps, runDiscoverRound } from "../lib/round/discover-stage.ts";
import { lambdaClients, once, readEnvironment, required, stateStore, traceClient } from "./environment.ts";
import { instrumented, logger, recordDiscoveryMetrics } from "./observability.ts";

export type DiscoverDeps = DiscoverRoundDeps;

const MAX_INVENTORY_BYTES = 64 * 1024 * 1024;

export function makeDiscoverHandler(deps: () => DiscoverDeps) {
  return (event: unknown, context?: Context): Promise<DiscoverOutput> =>
    instrumented("discover", context, async () => {
      const round = parseInput(discoverEventSchema, event, "event");
      return runDiscoverRound(deps(), round, {
        info: (message, extra) => logger.info(message, extra),
        warn: (message, extra) => logger.warn(message, extra),
        metrics: recordDiscoveryMetrics,
      });
    });
}

/** Production dependencies, built on the first invocation of a cold start. */
export const discoverDeps = once((): DiscoverDeps => {
  const env = readEnvironment();
  const clients = lambdaClients(env);
  const bucket = required(env, ENV.roundBucketName);
  const inventoryKey = env[ENV.inventoryS3Key];
  const accounts = env[ENV.accounts];
  const regions = env[ENV.regions];
  const slices = Number(env[ENV.coverageSlices] ?? 0);
  return {
    ...(slices > 0
      ? {
          coverage: {
            store: new S3CoverageStore(clients.s3, bucket, COVERAGE_KEY),
            slices: validateSliceCount(slices, `environment.${ENV.coverageSlices}`),
          },
        }
      : {}),
    s3: clients.s3,
    bucket,
    store: stateStore(env, clients),
    ...(env[ENV.roundLockSeconds] !== undefined
      ? { roundLockMs: Number(env[ENV.roundLockSeconds]) * 1000 }
      : {}),
    discover: async () => {
      if (inventoryKey !== undefined)
        return parseInventory(await getJson(clients.s3, bucket, inventoryKey, MAX_INVENTORY_BYTES));
      return discoverInventory(
        {
          ...(accounts ? { accounts: parseAccountList(accounts, `environment.${ENV.accounts}`) } : {}),
          ...(regions ? { regions: parseRegionList(regions, `environment.${ENV.regions}`) } : {}),
          organization: env[ENV.organization] === "true",
          ...(env[ENV.memberRoleName] ? { roleName: env[ENV.memberRoleName] } : {}),
          ...(env[ENV.externalId] ? { externalId: env[ENV.externalId] } : {}),
          homeRegion: env.AWS_REGION,
        },
        { instrument: traceClient },
      );
    },
  };
});

export const handler = makeDiscoverHandler(discoverDeps);
