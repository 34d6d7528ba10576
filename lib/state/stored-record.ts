import { z } from "zod";
import { SEVERITIES } from "../catalog/severity.ts";
import { boundedText } from "../config/zod-input.ts";
import {
  ACCOUNT_ID_CHARS,
  CLUSTER_FINDING_ID_CHARS,
  CLUSTER_NAME_MAX_CHARS,
  EVIDENCE_MAX_CHARS,
  FIX_MAX_CHARS,
  INSTANCE_ID_MAX_CHARS,
  IP_MAX_CHARS,
  PORT_SPEC_MAX_CHARS,
  RECORD_KEY_MAX_CHARS,
  REGION_MAX_CHARS,
  SERVICE_MAX_CHARS,
  TIMESTAMP_MAX_CHARS,
} from "../contracts/limits.ts";
import { carriedTagsSchema } from "../discovery/node-tags.ts";
import { InputError } from "../errors/errors.ts";
import type { ExposureRecord } from "../findings/types.ts";

const isoTimestamp = z.string().min(1).max(TIMESTAMP_MAX_CHARS);
/**
 * State written before these limits existed must still load: a field's bound is the contract's
 * limit or what state schemaVersion 1 accepted, whichever is larger (64 for ids, 300 for keys).
 */
const v1 = (limit: number, acceptedByV1: number) => Math.max(limit, acceptedByV1);

/**
 * What a stored ExposureRecord must look like; used to reject a corrupt or foreign state file and,
 * before every write, a record the reader would refuse (limits from lib/contracts/limits.ts, the
 * same ones inventory parsing and discovery use, so what a round may record a store may hold).
 */
export const exposureRecordSchema = z.object({
  key: z.string().min(1).max(v1(RECORD_KEY_MAX_CHARS, 300)),
  ip: z
    .string()
    .min(1)
    .max(v1(Math.max(IP_MAX_CHARS, CLUSTER_FINDING_ID_CHARS), 64)),
  port: z.number().int().min(0).max(65535),
  portSpec: z.string().max(PORT_SPEC_MAX_CHARS).optional(),
  service: boundedText(SERVICE_MAX_CHARS),
  // Added with verdicts from proof; optional so records written before them still load.
  expected: boundedText(SERVICE_MAX_CHARS).optional(),
  basis: z.enum(["probe", "policy"]).optional(),
  verdictSince: isoTimestamp.optional(),
  severity: z.enum(SEVERITIES),
  kind: z.enum(["exposed", "unexplained", "latent"]),
  evidence: boundedText(EVIDENCE_MAX_CHARS),
  fix: boundedText(FIX_MAX_CHARS).optional(),
  account: z.string().max(v1(ACCOUNT_ID_CHARS, 64)).optional(),
  region: boundedText(v1(REGION_MAX_CHARS, 64)).optional(),
  cluster: boundedText(CLUSTER_NAME_MAX_CHARS).optional(),
  instanceId: boundedText(v1(INSTANCE_ID_MAX_CHARS, 64)).optional(),
  // Added with Security Hub resource tags; records written before them have none and still load.
  tags: carriedTagsSchema.optional(),
  status: z.enum(["open", "resolved"]),
  firstSeen: isoTimestamp,
  lastSeen: isoTimestamp,
  missedCompleteScans: z.number().int().min(0),
  pendingAlert: z.enum(["new", "escalated", "de-escalated", "resolved"]).optional(),
  lastAlertedAt: isoTimestamp.optional(),
  alertClaim: z
    .object({
      owner: z.string().min(1).max(200),
      alertId: z.string().min(1).max(600),
      until: z.number().int().min(0),
    })
    .optional(),
  version: z.number().int().min(0),
}) satisfies z.ZodType<ExposureRecord>;

/** A record the store would refuse to read back: its write fails instead (that target fails, not the store). */
export class UnstorableRecordError extends InputError {}

/**
 * Throws UnstorableRecordError (naming the record and field) unless every record passes the schema
 * the store reads with: a store never writes a file or an item it would refuse later.
 */
export function assertStorable(records: readonly ExposureRecord[]): void {
  for (const record of records) {
    const parsed = exposureRecordSchema.safeParse(record);
    if (parsed.success) continue;
    const issue = parsed.error.issues[0];
    const field = issue?.path.join(".") || "record";
    throw new UnstorableRecordError(
      `record ${String(record.key).slice(0, RECORD_KEY_MAX_CHARS)}.${field}`,
      `${issue?.message ?? "invalid"}; not written`,
    );
  }
}

/**
 * Checks the optimistic-concurrency condition of one write against what is stored now:
 * a record with version 0 is new and must not exist; otherwise the stored version must match.
 */
export function versionConditionHolds(stored: ExposureRecord | undefined, incoming: ExposureRecord): boolean {
  if (incoming.version === 0) return stored === undefined;
  return stored !== undefined && stored.version === incoming.version;
}

/** A record as a store writes it: version bumped, a claim on another alert than the pending one dropped. */
export function nextVersion(record: ExposureRecord): ExposureRecord {
  return withValidClaim({ ...structuredClone(record), version: record.version + 1 });
}

/**
 * A stable id per pending alert: the same pending alert gets the same id in every retry, so a
 * consumer (or a FIFO topic) can recognise a repeat; a different alert about the same port gets
 * another. Undefined when nothing is pending.
 */
export function pendingAlertId(record: ExposureRecord): string | undefined {
  if (!record.pendingAlert) return undefined;
  if (record.pendingAlert === "resolved") return `${record.key}|resolved|${record.lastSeen}`;
  // A verdict change is its own alert, identified by when that verdict was first proven.
  if (record.pendingAlert === "escalated" || record.pendingAlert === "de-escalated")
    return `${record.key}|${record.pendingAlert}|${record.verdictSince ?? record.lastSeen}`;
  // One "new" per opening: its identity does not change when the verdict does before delivery.
  return `${record.key}|new|${record.firstSeen}`;
}

/** A claim only ever covers the alert it was taken for: a write that changed the alert drops it. */
export function withValidClaim(record: ExposureRecord): ExposureRecord {
  if (!record.alertClaim || record.alertClaim.alertId === pendingAlertId(record)) return record;
  const { alertClaim: _dropped, ...rest } = record;
  return rest;
}

/** What a publisher needs to claim a pending alert: who, when, for how long. */
export interface ClaimLease {
  owner: string;
  /** Epoch ms. */
  now: number;
  leaseMs: number;
}

/**
 * claimAlerts' rule: the stored record must be the one the publisher read (same version), still
 * have a pending alert, and carry no live claim of someone else (an expired lease is claimable
 * again: its publisher crashed). Returns the record as stored after the claim.
 */
export function withClaim(
  stored: ExposureRecord | undefined,
  read: ExposureRecord,
  lease: ClaimLease,
): ExposureRecord | undefined {
  if (!stored || stored.version !== read.version) return undefined;
  const alertId = pendingAlertId(stored);
  if (!alertId) return undefined;
  const claim = withValidClaim(stored).alertClaim;
  if (claim && claim.until > lease.now && claim.owner !== lease.owner) return undefined;
  return {
    ...stored,
    alertClaim: { owner: lease.owner, alertId, until: lease.now + lease.leaseMs },
    version: stored.version + 1,
  };
}

/** Drops a claim this owner still holds (a publish that failed): the alert is claimable at once. */
export function withClaimReleased(
  stored: ExposureRecord | undefined,
  claimed: ExposureRecord,
): ExposureRecord | undefined {
  if (!stored?.alertClaim || !claimed.alertClaim) return undefined;
  if (stored.alertClaim.owner !== claimed.alertClaim.owner) return undefined;
  if (stored.alertClaim.alertId !== claimed.alertClaim.alertId) return undefined;
  const { alertClaim: _dropped, ...rest } = stored;
  return { ...rest, version: stored.version + 1 };
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
  if (alerted.alertClaim) {
    // A claimed alert is marked only by its claimant, and only while it is still that alert.
    const claim = stored.alertClaim;
    if (!claim || claim.owner !== alerted.alertClaim.owner || claim.alertId !== alerted.alertClaim.alertId)
      return undefined;
    if (pendingAlertId(stored) !== claim.alertId) return undefined;
  }
  const { pendingAlert: _cleared, alertClaim: _claim, ...rest } = stored;
  return { ...rest, lastAlertedAt: at, version: stored.version + 1 };
}
