import type { Context } from "aws-lambda";
import { DEFAULT_MEMBER_ROLE_NAME, ENV } from "../lib/contracts/deployment.ts";
import { MemberCredentials } from "../lib/discovery/member-credentials.ts";
import { memberInventoryReader } from "../lib/events/member-inventory.ts";
import { type RescanDeps, rescanAfterChanges } from "../lib/events/rescan.ts";
import { changeEventsFromSqs } from "../lib/events/sqs-batch.ts";
import type { PortSet } from "../lib/ports/port-set.ts";
import { DEFAULT_PORT_SPEC, parsePortSpec } from "../lib/ports/port-spec.ts";
import { probeOpenPorts } from "../lib/probes/probe-open-ports.ts";
import { scanHosts } from "../lib/scan/scanner.ts";
import { parseTimingAnchor } from "../lib/scan/timing-anchor-setting.ts";
import {
  alertNotifier,
  lambdaClients,
  once,
  readEnvironment,
  stageDeadline,
  stateStore,
  traceClient,
} from "./environment.ts";
import { instrumented, logger } from "./observability.ts";

export interface RescanHandlerDeps extends RescanDeps {
  ports: PortSet;
  /** The deployment's scan scope; events from elsewhere are ignored. Empty: any. */
  accounts: string[];
  regions: string[];
  now?: () => Date;
}

/** SQS (batched, debounced) → one targeted round; unparsable messages go back as item failures (→ DLQ). */
export function makeRescanHandler(deps: () => RescanHandlerDeps) {
  return (event: unknown, context: Pick<Context, "getRemainingTimeInMillis"> & Partial<Context>) =>
    instrumented("rescan", context, async () => {
      const { ports, accounts, regions, now, ...rescanDeps } = deps();
      const batch = changeEventsFromSqs(event, { accounts, regions });
      for (const r of batch.rejected) logger.warn("not a change event", { ...r });
      if (batch.events.length > 0) {
        const report = await rescanAfterChanges(batch.events, rescanDeps, {
          ports,
          deadline: stageDeadline(context.getRemainingTimeInMillis(), Date.now()),
          ...(now ? { now } : {}),
        });
        const { newExposures, resolved, ...counts } = report;
        logger.info("rescan done", {
          ...counts,
          newExposures: newExposures.length,
          resolved: resolved.length,
        });
      }
      return { batchItemFailures: batch.rejected.map((r) => ({ itemIdentifier: r.messageId })) };
    });
}

const list = (text: string | undefined) => (text ?? "").split(",").filter((s) => s !== "");

export const rescanDeps = once((): RescanHandlerDeps => {
  const env = readEnvironment();
  const clients = lambdaClients(env);
  const credentials = new MemberCredentials(
    clients.sts,
    env[ENV.memberRoleName] ?? DEFAULT_MEMBER_ROLE_NAME,
    env[ENV.externalId],
  );
  return {
    scan: scanHosts,
    probe: probeOpenPorts,
    store: stateStore(env, clients),
    notifier: alertNotifier(env, clients),
    inventoryRegion: memberInventoryReader(credentials, [], { instrument: traceClient }),
    ports: parsePortSpec(env[ENV.portSpec] ?? DEFAULT_PORT_SPEC, `environment.${ENV.portSpec}`),
    accounts: list(env[ENV.accounts]),
    regions: list(env[ENV.regions]),
    timingAnchor: parseTimingAnchor(
      env[ENV.timingAnchor] ?? "region-endpoint",
      `environment.${ENV.timingAnchor}`,
    ),
  };
});

export const handler = makeRescanHandler(rescanDeps);
