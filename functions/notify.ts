import type { S3Client } from "@aws-sdk/client-s3";
import { z } from "zod";
import { SnsNotifier } from "../lib/alerts/sns-notifier.ts";
import type { Notifier, RoundSummary } from "../lib/alerts/types.ts";
import { parseInput } from "../lib/config/zod-input.ts";
import { errorMessage, InputError } from "../lib/errors/errors.ts";
import { notifyPending } from "../lib/round/notify-stage.ts";
import type { TargetFailure } from "../lib/round/scan-stage.ts";
import { DynamoStateStore } from "../lib/state/dynamo-state-store.ts";
import type { StateStore } from "../lib/state/types.ts";
import { lambdaClients, once, readEnvironment, required } from "./environment.ts";
import { instrumented, logger, recordRoundMetrics } from "./observability.ts";
import { clusterIdsKeyFor, getJson } from "./round-data.ts";
import type { ScanBatchOutput } from "./scan.ts";

const failure = z.object({ ip: z.string().max(100), error: z.string().max(2000) });
const roundId = z
  .string()
  .regex(/^[A-Za-z0-9_.:-]{1,80}$/, "is not a round id (1-80 of A-Z a-z 0-9 _ . : -)");

/** The state after Discover and the Map: Discover's output plus `map` (result writer) or `mapError`. */
export const notifyEventSchema = z
  .object({
    roundId,
    startedAt: z.iso.datetime({ offset: true }),
    targets: z.number().int().min(0),
    targetsKey: z.string().min(1).max(1024),
    discoveryErrors: z.number().int().min(0),
    clusters: z.object({
      newExposures: z.number().int().min(0),
      resolved: z.number().int().min(0),
      openExposures: z.number().int().min(0),
      failedTargets: z.array(failure),
    }),
    map: z
      .object({ ResultWriterDetails: z.object({ Bucket: z.string().min(3), Key: z.string().min(1) }) })
      .loose()
      .optional(),
    mapError: z.object({ Error: z.string().optional(), Cause: z.string().optional() }).loose().optional(),
  })
  .loose();
export type NotifyEvent = z.infer<typeof notifyEventSchema>;

export interface NotifyOutput {
  roundId: string;
  complete: boolean;
  newExposures: number;
  resolved: number;
  openExposures: number;
  incompleteScans: number;
  published: number;
  failed: number;
  /** IPs with stored history this round's (complete) target list no longer has. */
  staleIps: string[];
}

export interface NotifyDeps {
  store: StateStore;
  notifier: Notifier;
  s3: S3Client;
  bucket: string;
  now?: () => Date;
}

const MAX_MANIFEST_BYTES = 1024 * 1024;
const MAX_RESULT_FILE_BYTES = 64 * 1024 * 1024;
const MAX_TARGETS_BYTES = 64 * 1024 * 1024;
const MAX_STALE_IPS = 100;

const manifestSchema = z.object({
  ResultFiles: z.object({
    SUCCEEDED: z.array(z.object({ Key: z.string() })).default([]),
    FAILED: z.array(z.object({ Key: z.string() })).default([]),
  }),
});
const childSchema = z.object({
  Status: z.string().optional(),
  Output: z.string().optional(),
  Input: z.string().optional(),
  Error: z.string().optional(),
});
const batchOutputSchema = z.object({
  targets: z.number().int().min(0),
  newExposures: z.number().int().min(0),
  resolved: z.number().int().min(0),
  openExposures: z.number().int().min(0),
  incompleteScans: z.number().int().min(0),
  openPorts: z.number().int().min(0),
  failedTargets: z.array(failure),
});
const batchInputSchema = z.object({ Items: z.array(z.object({ ip: z.string().max(100) }).loose()) });

interface MapTotals {
  batches: ScanBatchOutput[];
  /** Targets of batches that failed (timeout, crash): round-failed alerts name them. */
  failedTargets: TargetFailure[];
}

/** Sums the Distributed Map's result files (manifest → SUCCEEDED/FAILED JSON arrays of child runs). */
async function readMapResults(s3: S3Client, bucket: string, manifestKey: string): Promise<MapTotals> {
  const manifest = parseInput(
    manifestSchema,
    await getJson(s3, bucket, manifestKey, MAX_MANIFEST_BYTES),
    "manifest",
  );
  const totals: MapTotals = { batches: [], failedTargets: [] };
  const files = [
    ...manifest.ResultFiles.SUCCEEDED.map((f) => ({ key: f.Key, succeeded: true })),
    ...manifest.ResultFiles.FAILED.map((f) => ({ key: f.Key, succeeded: false })),
  ];
  for (const file of files) {
    const children = parseInput(
      z.array(childSchema),
      await getJson(s3, bucket, file.key, MAX_RESULT_FILE_BYTES),
      file.key,
    );
    for (const child of children) {
      if (file.succeeded && child.Output !== undefined) {
        totals.batches.push(parseInput(batchOutputSchema, JSON.parse(child.Output), `${file.key}.Output`));
        continue;
      }
      // Only the error's name (e.g. States.Timeout): causes can hold stack traces.
      const reason = `scan batch failed (${(child.Error ?? "unknown error").slice(0, 80)})`;
      const input =
        child.Input !== undefined ? batchInputSchema.safeParse(JSON.parse(child.Input)) : undefined;
      for (const item of input?.success ? input.data.Items : [{ ip: "unknown" }])
        totals.failedTargets.push({ ip: item.ip, error: reason });
    }
  }
  return totals;
}

async function staleIpsOf(deps: NotifyDeps, event: NotifyEvent): Promise<string[]> {
  const targets = z
    .array(z.object({ ip: z.string() }).loose())
    .parse(await getJson(deps.s3, deps.bucket, event.targetsKey, MAX_TARGETS_BYTES));
  const clusterIds = z
    .array(z.string())
    .parse(await getJson(deps.s3, deps.bucket, clusterIdsKeyFor(event.roundId), MAX_TARGETS_BYTES));
  const known = new Set([...targets.map((t) => t.ip), ...clusterIds]);
  return (await deps.store.listIps()).filter((ip) => !known.has(ip)).slice(0, MAX_STALE_IPS);
}

export function makeNotifyHandler(deps: () => NotifyDeps) {
  return (event: unknown): Promise<NotifyOutput> =>
    instrumented("notify", async () => {
      const round = parseInput(notifyEventSchema, event, "event");
      const d = deps();
      const now = d.now ?? (() => new Date());
      const written = round.map?.ResultWriterDetails;
      if (written && written.Bucket !== d.bucket)
        throw new InputError(
          "event.map.ResultWriterDetails.Bucket",
          `'${written.Bucket}' is not the round bucket`,
        );
      const map: MapTotals = written
        ? await readMapResults(d.s3, d.bucket, written.Key)
        : { batches: [], failedTargets: [] };
      const sum = (pick: (b: ScanBatchOutput) => number) => map.batches.reduce((n, b) => n + pick(b), 0);
      const failedTargets = [
        ...round.clusters.failedTargets,
        ...map.batches.flatMap((b) => b.failedTargets),
        ...map.failedTargets,
      ];
      const scanned = sum((b) => b.targets);
      // Targets no batch reported on (the map failed before they ran) count as incomplete too.
      const unreported = Math.max(0, round.targets - scanned - map.failedTargets.length);
      const incompleteScans = sum((b) => b.incompleteScans) + map.failedTargets.length + unreported;
      const complete =
        round.mapError === undefined &&
        round.discoveryErrors === 0 &&
        incompleteScans === 0 &&
        failedTargets.length === 0;
      const summary: RoundSummary = {
        roundId: round.roundId,
        startedAt: round.startedAt,
        targets: round.targets,
        complete,
        newExposures: round.clusters.newExposures + sum((b) => b.newExposures),
        resolved: round.clusters.resolved + sum((b) => b.resolved),
        openExposures: round.clusters.openExposures + sum((b) => b.openExposures),
        incompleteScans,
      };
      const alerts = await notifyPending(d, summary, { now, failedTargets });
      if (alerts.failed > 0)
        logger.warn("alerts not delivered; they stay pending for the next round", {
          failed: alerts.failed,
          reason: alerts.publishError,
        });
      let staleIps: string[] = [];
      if (complete) {
        try {
          staleIps = await staleIpsOf(d, round);
          if (staleIps.length > 0) logger.warn("stored IPs no longer discovered", { staleIps });
        } catch (error) {
          logger.warn("stale IP check skipped", { reason: errorMessage(error) });
        }
      }
      recordRoundMetrics({
        targets: round.targets,
        newExposures: summary.newExposures,
        openExposures: summary.openExposures,
        incompleteScans,
        alertsPublished: alerts.published,
        alertsFailed: alerts.failed,
        roundDurationMs: Math.max(0, now().getTime() - Date.parse(round.startedAt)),
      });
      logger.info("round notified", { ...summary, published: alerts.published, failed: alerts.failed });
      return {
        roundId: round.roundId,
        complete,
        newExposures: summary.newExposures,
        resolved: summary.resolved,
        openExposures: summary.openExposures,
        incompleteScans,
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
    store: new DynamoStateStore({ client: clients.dynamodb, tableName: required(env, "STATE_TABLE_NAME") }),
    notifier: new SnsNotifier({ client: clients.sns, topicArn: required(env, "ALERT_TOPIC_ARN") }),
    s3: clients.s3,
    bucket: required(env, "ROUND_BUCKET_NAME"),
  };
});

export const handler = makeNotifyHandler(notifyDeps);
