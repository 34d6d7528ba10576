import type { S3Client } from "@aws-sdk/client-s3";
import { z } from "zod";
import { parseInventory } from "../lib/config/inventory-file.ts";
import { parseInput } from "../lib/config/zod-input.ts";
import { discoverInventory } from "../lib/discovery/discover.ts";
import { parseAccountList, parseRegionList } from "../lib/discovery/options.ts";
import type { Inventory } from "../lib/discovery/types.ts";
import { InputError } from "../lib/errors/errors.ts";
import { recordClusterFindings, type TargetFailure } from "../lib/round/scan-stage.ts";
import { clusterFindingIds, targetsFromInventory } from "../lib/round/targets.ts";
import { DynamoStateStore } from "../lib/state/dynamo-state-store.ts";
import type { StateStore } from "../lib/state/types.ts";
import { lambdaClients, once, readEnvironment, required } from "./environment.ts";
import { instrumented, logger, recordDiscoveryMetrics } from "./observability.ts";
import { clusterIdsKeyFor, getJson, putJson, targetsKeyFor } from "./round-data.ts";

/** The Step Functions input: the execution's name and start time (see infra/portwarden.ts). */
export const discoverEventSchema = z.object({
  roundId: z.string().regex(/^[A-Za-z0-9_.:-]{1,80}$/, "is not a round id (1-80 of A-Z a-z 0-9 _ . : -)"),
  startedAt: z.iso.datetime({ offset: true }),
});
export type DiscoverEvent = z.infer<typeof discoverEventSchema>;

/** The Discover state's output: what the Map reads and Notify needs. */
export interface DiscoverOutput {
  roundId: string;
  startedAt: string;
  /** Object (JSON array of ScanTarget) the Distributed Map reads its items from. */
  targetsKey: string;
  targets: number;
  /** Accounts/regions discovery could not read: the round is incomplete. */
  discoveryErrors: number;
  clusters: { newExposures: number; resolved: number; openExposures: number; failedTargets: TargetFailure[] };
}

export interface DiscoverDeps {
  discover: () => Promise<Inventory>;
  s3: S3Client;
  bucket: string;
  store: StateStore;
  now?: () => Date;
}

/** More targets than this in one round is a discovery bug or a misconfiguration, not a fleet. */
const MAX_TARGETS = 100_000;
const MAX_INVENTORY_BYTES = 64 * 1024 * 1024;

export function makeDiscoverHandler(deps: () => DiscoverDeps) {
  return (event: unknown): Promise<DiscoverOutput> =>
    instrumented("discover", async () => {
      const { roundId, startedAt } = parseInput(discoverEventSchema, event, "event");
      const { discover, s3, bucket, store, now } = deps();
      const inventory = await discover();
      const targets = targetsFromInventory(inventory);
      if (targets.length > MAX_TARGETS)
        throw new InputError("inventory", `${targets.length} public IPs, more than ${MAX_TARGETS} per round`);
      const targetsKey = targetsKeyFor(roundId);
      await putJson(s3, bucket, targetsKey, targets);
      await putJson(s3, bucket, clusterIdsKeyFor(roundId), clusterFindingIds(inventory));
      const clusters = await recordClusterFindings(inventory, { store }, now ? { now } : {});
      for (const error of inventory.errors)
        logger.warn("account not discovered", {
          account: error.account,
          region: error.region,
          reason: error.message,
        });
      recordDiscoveryMetrics({ targets: targets.length, discoveryErrors: inventory.errors.length });
      logger.info("targets written", {
        roundId,
        targets: targets.length,
        clusters: inventory.clusters.length,
      });
      return {
        roundId,
        startedAt,
        targetsKey,
        targets: targets.length,
        discoveryErrors: inventory.errors.length,
        clusters: {
          newExposures: clusters.newExposures.length,
          resolved: clusters.resolved.length,
          openExposures: clusters.openExposures,
          failedTargets: clusters.failedTargets,
        },
      };
    });
}

/** Production dependencies, built on the first invocation of a cold start. */
export const discoverDeps = once((): DiscoverDeps => {
  const env = readEnvironment();
  const clients = lambdaClients(env);
  const bucket = required(env, "ROUND_BUCKET_NAME");
  const inventoryKey = env.INVENTORY_S3_KEY;
  return {
    s3: clients.s3,
    bucket,
    store: new DynamoStateStore({ client: clients.dynamodb, tableName: required(env, "STATE_TABLE_NAME") }),
    discover: async () => {
      if (inventoryKey !== undefined)
        return parseInventory(await getJson(clients.s3, bucket, inventoryKey, MAX_INVENTORY_BYTES));
      const accounts = env.ACCOUNTS ? parseAccountList(env.ACCOUNTS, "environment.ACCOUNTS") : undefined;
      const regions = env.REGIONS ? parseRegionList(env.REGIONS, "environment.REGIONS") : undefined;
      return discoverInventory({
        ...(accounts ? { accounts } : {}),
        ...(regions ? { regions } : {}),
        organization: env.ORGANIZATION === "true",
        ...(env.MEMBER_ROLE_NAME ? { roleName: env.MEMBER_ROLE_NAME } : {}),
        ...(env.EXTERNAL_ID ? { externalId: env.EXTERNAL_ID } : {}),
        homeRegion: env.AWS_REGION,
      });
    },
  };
});

export const handler = makeDiscoverHandler(discoverDeps);
