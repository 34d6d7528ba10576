import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { METRICS_NAMESPACE, SERVICE_NAME } from "../lib/contracts/deployment.ts";

/**
 * Logger and Metrics, made once per cold start. Service name and namespace come from the
 * environment CDK sets (POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE).
 */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? SERVICE_NAME });
export const metrics = new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? METRICS_NAMESPACE,
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? SERVICE_NAME,
});

/** What one scan invocation did, as EMF metrics (one line per invocation, flushed at its end). */
export interface ScanMetrics {
  targets: number;
  portsProbed: number;
  openPorts: number;
  newExposures: number;
  incompleteScans: number;
  scanDurationMs: number;
}

export function recordScanMetrics(m: ScanMetrics): void {
  metrics.addMetric("Targets", MetricUnit.Count, m.targets);
  metrics.addMetric("PortsProbed", MetricUnit.Count, m.portsProbed);
  metrics.addMetric("OpenPorts", MetricUnit.Count, m.openPorts);
  metrics.addMetric("NewExposures", MetricUnit.Count, m.newExposures);
  metrics.addMetric("IncompleteScans", MetricUnit.Count, m.incompleteScans);
  metrics.addMetric("ScanDuration", MetricUnit.Milliseconds, m.scanDurationMs);
}

/** What discovery found: the round's size and the accounts/regions it could not read. */
export function recordDiscoveryMetrics(m: { targets: number; discoveryErrors: number }): void {
  metrics.addMetric("DiscoveredTargets", MetricUnit.Count, m.targets);
  metrics.addMetric("DiscoveryErrors", MetricUnit.Count, m.discoveryErrors);
}

/** One line per round from the Notify stage: the numbers an operator graphs and alarms on. */
export interface RoundMetrics {
  targets: number;
  newExposures: number;
  openExposures: number;
  incompleteScans: number;
  alertsPublished: number;
  alertsFailed: number;
  roundDurationMs: number;
}

export function recordRoundMetrics(m: RoundMetrics): void {
  metrics.addMetric("RoundTargets", MetricUnit.Count, m.targets);
  metrics.addMetric("RoundNewExposures", MetricUnit.Count, m.newExposures);
  metrics.addMetric("OpenExposures", MetricUnit.Count, m.openExposures);
  metrics.addMetric("RoundIncompleteScans", MetricUnit.Count, m.incompleteScans);
  metrics.addMetric("AlertsPublished", MetricUnit.Count, m.alertsPublished);
  metrics.addMetric("AlertsFailed", MetricUnit.Count, m.alertsFailed);
  metrics.addMetric("RoundDuration", MetricUnit.Milliseconds, m.roundDurationMs);
}

/**
 * Runs a handler body with logging context and a metrics flush even when it throws. Errors are
 * logged by message only (no stacks with request data in alerts) and rethrown so Step Functions
 * sees the failure and its error name.
 */
export async function instrumented<T>(stage: string, body: () => Promise<T>): Promise<T> {
  logger.appendKeys({ stage });
  try {
    return await body();
  } catch (error) {
    logger.error(`${stage} failed`, {
      errorName: error instanceof Error ? error.name : "Error",
      errorMessage: error instanceof Error ? error.message : String(error),
    });
    throw error;
  } finally {
    metrics.publishStoredMetrics();
  }
}
