/**
 * The CloudWatch (EMF) metrics the Lambda handlers emit under `METRICS_NAMESPACE`
 * (lib/contracts/deployment.ts): field of the handler's record -> [metric name, unit]. Dashboards
 * and alarms read these names.
 */
export type MetricUnitName = "Count" | "Milliseconds";
export type MetricTable<T> = { readonly [K in keyof T]: readonly [name: string, unit: MetricUnitName] };

/** What one scan invocation did (one line per invocation, flushed at its end). */
export const SCAN_METRICS = {
  targets: ["Targets", "Count"],
  portsProbed: ["PortsProbed", "Count"],
  openPorts: ["OpenPorts", "Count"],
  newExposures: ["NewExposures", "Count"],
  incompleteScans: ["IncompleteScans", "Count"],
  scanDurationMs: ["ScanDuration", "Milliseconds"],
} as const;
export type ScanMetrics = Record<keyof typeof SCAN_METRICS, number>;

/** What discovery found: the round's size and the accounts/regions it could not read. */
export const DISCOVERY_METRICS = {
  targets: ["DiscoveredTargets", "Count"],
  discoveryErrors: ["DiscoveryErrors", "Count"],
} as const;
export type DiscoveryMetrics = Record<keyof typeof DISCOVERY_METRICS, number>;

/** One line per round from the Notify stage: the numbers an operator graphs and alarms on. */
export const ROUND_METRICS = {
  targets: ["RoundTargets", "Count"],
  newExposures: ["RoundNewExposures", "Count"],
  openExposures: ["OpenExposures", "Count"],
  incompleteScans: ["RoundIncompleteScans", "Count"],
  alertsPublished: ["AlertsPublished", "Count"],
  alertsFailed: ["AlertsFailed", "Count"],
  roundDurationMs: ["RoundDuration", "Milliseconds"],
} as const;
export type RoundMetrics = Record<keyof typeof ROUND_METRICS, number>;
