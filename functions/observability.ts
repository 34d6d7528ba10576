import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { Tracer } from "@aws-lambda-powertools/tracer";
import type { Context } from "aws-lambda";
import { METRICS_NAMESPACE, SERVICE_NAME } from "../lib/contracts/deployment.ts";
import {
  DISCOVERY_METRICS,
  type DiscoveryMetrics,
  type MetricTable,
  ROUND_METRICS,
  type RoundMetrics,
  SCAN_METRICS,
  type ScanMetrics,
} from "../lib/contracts/metrics.ts";
import { safeText, sanitizeDeep } from "../lib/text/sanitize.ts";

/** JSON replacer for log lines: strings cleaned (redacted, unsafe characters out), the rest as is. */
export function logReplacer(_key: string, value: unknown): unknown {
  return typeof value === "string" ? sanitizeDeep(value) : value;
}

/**
 * Logger, Metrics and Tracer, made once per cold start. Service name and namespace come from the
 * environment CDK sets (POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE). The Tracer is
 * off outside Lambda (no AWS_EXECUTION_ENV): locally and in tests it passes clients through as-is.
 */
const serviceName = process.env.POWERTOOLS_SERVICE_NAME ?? SERVICE_NAME;
export const logger = new Logger({
  serviceName,
  // Every string of every log line through the one sanitiser: no secrets, no control/bidi characters.
  jsonReplacerFn: logReplacer,
});
export const metrics = new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? METRICS_NAMESPACE,
  serviceName,
});
export const tracer = new Tracer({ serviceName });

function record<T extends Record<string, number>>(table: MetricTable<T>, values: T): void {
  for (const key of Object.keys(table) as (keyof T)[]) {
    const [name, unit] = table[key];
    metrics.addMetric(name, MetricUnit[unit], values[key] as number);
  }
}

export type { DiscoveryMetrics, RoundMetrics, ScanMetrics };
export const recordScanMetrics = (m: ScanMetrics): void => record(SCAN_METRICS, m);
export const recordDiscoveryMetrics = (m: DiscoveryMetrics): void => record(DISCOVERY_METRICS, m);
export const recordRoundMetrics = (m: RoundMetrics): void => record(ROUND_METRICS, m);

/**
 * Runs a handler body the Powertools way: the Lambda context on every log line, a `ColdStart`
 * metric once per cold start, an X-Ray subsegment per invocation (cold start and service
 * annotated), and a metrics flush even when it throws. Errors are logged by message only (no
 * stacks with request data, none in traces either) and rethrown so Step Functions sees the
 * failure and its error name.
 */
export async function instrumented<T>(
  stage: string,
  context: Partial<Pick<Context, "functionName" | "awsRequestId">> | undefined,
  body: () => Promise<T>,
): Promise<T> {
  if (context?.awsRequestId !== undefined) logger.addContext(context as Context);
  logger.appendKeys({ stage });
  metrics.captureColdStartMetric(context?.functionName);
  const segment = tracer.isTracingEnabled() ? tracer.getSegment() : undefined;
  const subsegment = segment?.addNewSubsegment(`## ${stage}`);
  if (subsegment) tracer.setSegment(subsegment);
  tracer.annotateColdStart();
  tracer.addServiceNameAnnotation();
  try {
    return await body();
  } catch (error) {
    subsegment?.addErrorFlag();
    logger.error(`${stage} failed`, {
      errorName: error instanceof Error ? error.name : "Error",
      errorMessage: safeText(error instanceof Error ? error.message : String(error), 2000),
    });
    throw error;
  } finally {
    if (segment && subsegment) {
      subsegment.close();
      tracer.setSegment(segment);
    }
    metrics.publishStoredMetrics();
  }
}
