import type { Context } from "aws-lambda";
import { parseInput } from "../lib/config/zod-input.ts";
import { ENV } from "../lib/contracts/deployment.ts";
import { type ScanBatchOutput, scanEventSchema } from "../lib/contracts/lambda-events.ts";
import { ALLOW_INTERNAL, PUBLIC_ONLY } from "../lib/net/address-policy.ts";
import type { PortSet } from "../lib/ports/port-set.ts";
import { DEFAULT_PORT_SPEC, parsePortSpec } from "../lib/ports/port-spec.ts";
import { probeOpenPorts } from "../lib/probes/probe-open-ports.ts";
import { type RoundDeps, scanTargets, targetFailure } from "../lib/round/scan-stage.ts";
import { parseScanTargets } from "../lib/round/targets.ts";
import { scanHosts } from "../lib/scan/scanner.ts";
import { parseTimingAnchor } from "../lib/scan/timing-anchor-setting.ts";
import { lambdaClients, once, readEnvironment, stageDeadline, stateStore } from "./environment.ts";
import { instrumented, logger, recordScanMetrics } from "./observability.ts";

export interface ScanDeps extends RoundDeps {
  ports: PortSet;
  now?: () => Date;
}

export function makeScanHandler(deps: () => ScanDeps) {
  return (
    event: unknown,
    context: Pick<Context, "getRemainingTimeInMillis"> & Partial<Context>,
  ): Promise<ScanBatchOutput> =>
    instrumented("scan", context, async () => {
      const batch = parseInput(scanEventSchema, event, "event");
      // A bad item fails alone (reported with its reason); the batch's other targets are scanned.
      const { targets, rejected } = parseScanTargets(batch.Items, "event.Items");
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
      stage.failedTargets.push(...rejected.map((r) => targetFailure(r.target, r.error)));
      for (const failure of stage.failedTargets) logger.warn("target not recorded", { ...failure });
      return {
        targets: batch.Items.length,
        newExposures: stage.newExposures.length,
        resolved: stage.resolved.length,
        openExposures: stage.openExposures,
        incompleteScans: stage.incompleteScans + rejected.length,
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
    store: stateStore(env, lambdaClients(env)),
    ports: parsePortSpec(env[ENV.portSpec] ?? DEFAULT_PORT_SPEC, `environment.${ENV.portSpec}`),
    addressPolicy: env[ENV.allowPrivateTargets] === "true" ? ALLOW_INTERNAL : PUBLIC_ONLY,
    timingAnchor: parseTimingAnchor(
      env[ENV.timingAnchor] ?? "region-endpoint",
      `environment.${ENV.timingAnchor}`,
    ),
  };
});

export const handler = makeScanHandler(scanDeps);
