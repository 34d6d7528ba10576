import type { Context } from "aws-lambda";
import { z } from "zod";
import { parseScanTargets } from "../lib/config/inventory-file.ts";
import { parseInput } from "../lib/config/zod-input.ts";
import type { PortSet } from "../lib/ports/port-set.ts";
import { parsePortSpec } from "../lib/ports/port-spec.ts";
import { probeOpenPorts } from "../lib/probes/probe-open-ports.ts";
import { type RoundDeps, scanTargets, type TargetFailure } from "../lib/round/scan-stage.ts";
import { scanHosts } from "../lib/scan/scanner.ts";
import { DynamoStateStore } from "../lib/state/dynamo-state-store.ts";
import { lambdaClients, once, readEnvironment, required } from "./environment.ts";
import { instrumented, logger, recordScanMetrics } from "./observability.ts";

/** One Distributed Map batch (ItemBatcher): a few targets that share one socket budget. */
export const scanEventSchema = z.object({
  Items: z.array(z.unknown()).min(1).max(50),
  BatchInput: z.object({
    roundId: z.string().regex(/^[A-Za-z0-9_.:-]{1,80}$/, "is not a round id (1-80 of A-Z a-z 0-9 _ . : -)"),
  }),
});

/** Small on purpose: the Map writes one of these per batch to S3 and Notify sums them. */
export interface ScanBatchOutput {
  targets: number;
  newExposures: number;
  resolved: number;
  openExposures: number;
  incompleteScans: number;
  openPorts: number;
  failedTargets: TargetFailure[];
}

export interface ScanDeps extends RoundDeps {
  ports: PortSet;
  now?: () => Date;
}

/**
 * The scan stage's deadline: Lambda's remaining time minus what the DynamoDB writes and the return
 * need (5%, 3-15 s). The stage itself keeps time for probes back from this deadline.
 */
export function stageDeadline(remainingMs: number, nowMs: number): number {
  const margin = Math.min(15_000, Math.max(3_000, remainingMs * 0.05));
  return nowMs + Math.max(1_000, remainingMs - margin);
}

export function makeScanHandler(deps: () => ScanDeps) {
  return (event: unknown, context: Pick<Context, "getRemainingTimeInMillis">): Promise<ScanBatchOutput> =>
    instrumented("scan", async () => {
      const batch = parseInput(scanEventSchema, event, "event");
      const targets = parseScanTargets(batch.Items, "event.Items");
      const { ports, now, ...roundDeps } = deps();
      const started = Date.now();
      const stage = await scanTargets(targets, roundDeps, {
        roundId: batch.BatchInput.roundId,
        ports,
        deadline: stageDeadline(context.getRemainingTimeInMillis(), started),
        ...(now ? { now } : {}),
      });
      const openPorts = stage.results.reduce((sum, r) => sum + r.open.length, 0);
      recordScanMetrics({
        targets: targets.length,
        portsProbed: stage.results.length * ports.size,
        openPorts,
        newExposures: stage.newExposures.length,
        incompleteScans: stage.incompleteScans,
        scanDurationMs: Date.now() - started,
      });
      for (const failure of stage.failedTargets) logger.warn("target not recorded", { ...failure });
      return {
        targets: targets.length,
        newExposures: stage.newExposures.length,
        resolved: stage.resolved.length,
        openExposures: stage.openExposures,
        incompleteScans: stage.incompleteScans,
        openPorts,
        failedTargets: stage.failedTargets,
      };
    });
}

export const scanDeps = once((): ScanDeps => {
  const env = readEnvironment();
  return {
    scan: scanHosts,
    probe: probeOpenPorts,
    store: new DynamoStateStore({
      client: lambdaClients(env).dynamodb,
      tableName: required(env, "STATE_TABLE_NAME"),
    }),
    ports: parsePortSpec(env.PORT_SPEC ?? "kubernetes", "environment.PORT_SPEC"),
  };
});

export const handler = makeScanHandler(scanDeps);
