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

/** `count` stored-to-be records with a pending "new" alert, spread over IPs 127.1.x.y. */
export function pendingRecords(count: number, overrides: Partial<ExposureRecord> = {}): ExposureRecord[] {
  return Array.from({ length: count }, (_, i) =>
    exposureRecord({
      ip: `127.1.${Math.floor(i / 250)}.${(i % 250) + 1}`,
      pendingAlert: "new",
      ...overrides,
    }),
  );
}
