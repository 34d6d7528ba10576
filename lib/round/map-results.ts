import type { S3Client } from "@aws-sdk/client-s3";
import { z } from "zod";
import type { Notifier } from "../alerts/types.ts";
import { getJson } from "../aws/s3-json.ts";
import { parseInput } from "../config/zod-input.ts";
import { clusterIdsKeyFor } from "../contracts/deployment.ts";
import { type NotifyEvent, type ScanBatchOutput, scanBatchOutputSchema } from "../contracts/lambda-events.ts";
import { InputError } from "../errors/errors.ts";
import type { StateStore } from "../state/types.ts";
import { type FinishedRound, type FinishOptions, finishRound, type RoundTally } from "./round-outcome.ts";
import type { TargetFailure } from "./scan-stage.ts";

/**
 * The adapter from the Distributed Map's ResultWriter files (a manifest naming SUCCEEDED/FAILED
 * JSON arrays of child executions) to round tallies. Nothing else reads Step Functions' formats.
 */

const MAX_MANIFEST_BYTES = 1024 * 1024;
const MAX_RESULT_FILE_BYTES = 64 * 1024 * 1024;
const MAX_TARGETS_BYTES = 64 * 1024 * 1024;

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
const batchInputSchema = z.object({ Items: z.array(z.object({ ip: z.string().max(100) }).loose()) });

export interface MapResults {
  batches: ScanBatchOutput[];
  /** Targets of batches that failed (timeout, crash): round-failed alerts name them. */
  failedTargets: TargetFailure[];
}

/** Reads the manifest at `manifestKey` and every result file it lists. */
export async function readMapResults(s3: S3Client, bucket: string, manifestKey: string): Promise<MapResults> {
  const manifest = parseInput(
    manifestSchema,
    await getJson(s3, bucket, manifestKey, MAX_MANIFEST_BYTES),
    "manifest",
  );
  const results: MapResults = { batches: [], failedTargets: [] };
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
        results.batches.push(
          parseInput(scanBatchOutputSchema, JSON.parse(child.Output), `${file.key}.Output`),
        );
        continue;
      }
      // Only the error's name (e.g. States.Timeout): causes can hold stack traces.
      const reason = `scan batch failed (${(child.Error ?? "unknown error").slice(0, 80)})`;
      const input =
        child.Input !== undefined ? batchInputSchema.safeParse(JSON.parse(child.Input)) : undefined;
      for (const item of input?.success ? input.data.Items : [{ ip: "unknown" }])
        results.failedTargets.push({ ip: item.ip, error: reason });
    }
  }
  return results;
}

/**
 * The Map's results as round tallies: one per succeeded batch, plus one for what no batch
 * reported (failed batches, and targets the fan-out never reached) counted as incomplete scans.
 */
export function mapTallies(targets: number, results: MapResults): RoundTally[] {
  const scanned = results.batches.reduce((n, b) => n + b.targets, 0);
  const unreported = Math.max(0, targets - scanned - results.failedTargets.length);
  return [
    ...results.batches,
    {
      newExposures: 0,
      resolved: 0,
      openExposures: 0,
      incompleteScans: results.failedTargets.length + unreported,
      failedTargets: results.failedTargets,
    },
  ];
}

export interface MapRoundDeps {
  store: StateStore;
  notifier: Notifier;
  s3: S3Client;
  /** The round bucket: the only bucket result files and round data are read from. */
  bucket: string;
  now?: () => Date;
}

/** Every id the round's discovery listed: the target IPs and the cluster finding ids it wrote. */
async function discoveredIds(deps: MapRoundDeps, round: NotifyEvent): Promise<string[]> {
  const read = (key: string) => getJson(deps.s3, deps.bucket, key, MAX_TARGETS_BYTES);
  const targets = z.array(z.object({ ip: z.string() }).loose()).parse(await read(round.targetsKey));
  const clusterIds = z.array(z.string()).parse(await read(clusterIdsKeyFor(round.roundId)));
  return [...targets.map((t) => t.ip), ...clusterIds];
}

/** The Step Functions round's end (Notify): discovery's tallies plus the Map's, then `finishRound`. */
export async function finishMapRound(
  deps: MapRoundDeps,
  round: NotifyEvent,
  notify?: FinishOptions["notify"],
): Promise<FinishedRound> {
  const written = round.map?.ResultWriterDetails;
  if (written && written.Bucket !== deps.bucket)
    throw new InputError(
      "event.map.ResultWriterDetails.Bucket",
      `'${written.Bucket}' is not the round bucket`,
    );
  const results = written
    ? await readMapResults(deps.s3, deps.bucket, written.Key)
    : { batches: [], failedTargets: [] };
  return finishRound(
    deps,
    { ...round, fanOutFailed: round.mapError !== undefined },
    [round.clusters, ...mapTallies(round.targets, results)],
    {
      ...(deps.now ? { now: deps.now } : {}),
      ...(notify ? { notify } : {}),
      knownIds: () => discoveredIds(deps, round),
    },
  );
}
