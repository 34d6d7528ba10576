import { type ExposureRecord, findingKey } from "../../lib/findings/types.ts";

/** An open, never-stored (version 0) exposure record; override what the test is about. */
export function exposureRecord(overrides: Partial<ExposureRecord> = {}): ExposureRecord {
  const base = {
    ip: "127.0.2.1",
    port: 10250,
    service: "kubelet",
    severity: "critical" as const,
    kind: "exposed" as const,
    evidence: "GET /pods answered 200 without credentials",
    status: "open" as const,
    firstSeen: "2026-11-29T03:00:00.000Z",
    lastSeen: "2026-11-29T03:00:00.000Z",
    missedCompleteScans: 0,
    version: 0,
    ...overrides,
  };
  return { key: findingKey(base), ...base, ...(overrides.key ? { key: overrides.key } : {}) };
}
