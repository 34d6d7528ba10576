import { z } from "zod";
import { SEVERITIES } from "../catalog/severity.ts";
import type { ExposureRecord } from "../findings/types.ts";

const isoTimestamp = z.string().min(1).max(64);

/** What a stored ExposureRecord must look like; used to reject a corrupt or foreign state file. */
export const exposureRecordSchema = z.object({
  key: z.string().min(1).max(300),
  ip: z.string().min(1).max(64),
  port: z.number().int().min(0).max(65535),
  portSpec: z.string().max(200).optional(),
  service: z.string().max(100),
  severity: z.enum(SEVERITIES),
  kind: z.enum(["exposed", "unexplained", "latent"]),
  evidence: z.string().max(2000),
  fix: z.string().max(2000).optional(),
  account: z.string().max(64).optional(),
  region: z.string().max(64).optional(),
  cluster: z.string().max(200).optional(),
  instanceId: z.string().max(64).optional(),
  status: z.enum(["open", "resolved"]),
  firstSeen: isoTimestamp,
  lastSeen: isoTimestamp,
  missedCompleteScans: z.number().int().min(0),
  pendingAlert: z.enum(["new", "resolved"]).optional(),
  lastAlertedAt: isoTimestamp.optional(),
  version: z.number().int().min(0),
}) satisfies z.ZodType<ExposureRecord>;

/**
 * Checks the optimistic-concurrency condition of one write against what is stored now:
 * a record with version 0 is new and must not exist; otherwise the stored version must match.
 */
export function versionConditionHolds(stored: ExposureRecord | undefined, incoming: ExposureRecord): boolean {
  if (incoming.version === 0) return stored === undefined;
  return stored !== undefined && stored.version === incoming.version;
}

/** A record as a store writes it: version bumped, no fields the store does not own. */
export function nextVersion(record: ExposureRecord): ExposureRecord {
  return { ...structuredClone(record), version: record.version + 1 };
}

/**
 * markAlerted's rule: clear the outbox only if the stored record still has the same pending alert
 * (a newer alert set meanwhile must survive); bump the version so a scanner holding the older copy
 * cannot write the pending alert back.
 */
export function withAlertCleared(
  stored: ExposureRecord | undefined,
  alerted: ExposureRecord,
  at: string,
): ExposureRecord | undefined {
  if (!stored || !alerted.pendingAlert || stored.pendingAlert !== alerted.pendingAlert) return undefined;
  const { pendingAlert: _cleared, ...rest } = stored;
  return { ...rest, lastAlertedAt: at, version: stored.version + 1 };
}
