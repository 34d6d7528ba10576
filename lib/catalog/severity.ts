/** Finding severities, most severe first. */
export const SEVERITIES = ["critical", "high", "medium", "low", "info"] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Rank for sorting and thresholds: critical = 0 … info = 4. */
export function severityRank(severity: Severity): number {
  return SEVERITIES.indexOf(severity);
}

/** True if `a` is at least as severe as `b`. */
export function atLeast(a: Severity, b: Severity): boolean {
  return severityRank(a) <= severityRank(b);
}

export function isSeverity(value: unknown): value is Severity {
  return typeof value === "string" && (SEVERITIES as readonly string[]).includes(value);
}
