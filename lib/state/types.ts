import type { ExposureRecord } from "../findings/types.ts";
import type { ClaimLease } from "./stored-record.ts";

export type { ClaimLease } from "./stored-record.ts";

/** Another writer changed a record since it was loaded: the caller must not alert from its copy. */
export class StaleRecordError extends Error {
  constructor(readonly key: string) {
    super(`record ${key} changed concurrently`);
    this.name = "StaleRecordError";
  }
}

/** One page of the outbox; no `cursor`: the outbox was read to its end. */
export interface OutboxPage {
  records: ExposureRecord[];
  /** Opaque; pass it back to read the next page (it survives a Step Functions round trip). */
  cursor?: string;
}

/** What `flush` reports: records whose staged write lost a race with another process. */
export interface FlushResult {
  stale: string[];
}

/**
 * Where exposure history lives. Adapters: JSON file (local default) and DynamoDB (production).
 * Domain code receives a StateStore; it never constructs one.
 *
 * Exactly-once publishing: a publisher claims each pending alert (claimAlerts: a conditional write
 * with a lease) before sending it, marks it (markAlerted) right after the channel accepted it, and
 * releases what the channel refused. Two publishers cannot both hold a live claim on one alert.
 */
export interface StateStore {
  /** Outbox records worth reading per page (the file store holds them all in memory anyway). */
  readonly outboxPageSize?: number;
  /** Every record for one IP (DynamoDB: one Query on the IP's partition). */
  loadIp(ip: string): Promise<ExposureRecord[]>;
  /**
   * Writes the given records, each conditional on the `version` it was loaded with (new records:
   * must not exist). Stores bump `version`. Callers pass only records that changed.
   * Throws StaleRecordError when a condition fails.
   */
  saveRecords(records: readonly ExposureRecord[]): Promise<void>;
  /** Records whose `pendingAlert` is set (the outbox). Small stores and tests; rounds page. */
  listPendingAlerts(): Promise<ExposureRecord[]>;
  /** At most `limit` records of the outbox after `cursor` ("new" alerts before "resolved" ones). */
  pendingAlertPage(options: { cursor?: string; limit: number }): Promise<OutboxPage>;
  /**
   * Claims the pending alert of each record for `lease.owner` until `lease.now + lease.leaseMs`:
   * only if the stored record is still the version read and no other owner holds a live claim.
   * Returns the records claimed, as stored now (with `alertClaim`); the others are left alone.
   */
  claimAlerts(records: readonly ExposureRecord[], lease: ClaimLease): Promise<ExposureRecord[]>;
  /**
   * Clears `pendingAlert` on these records and stamps lastAlertedAt: a claimed record only while
   * its claimant still holds it for the same alert; an unclaimed one only if still the same
   * pending alert (a newer alert set meanwhile must survive).
   */
  markAlerted(records: readonly ExposureRecord[], at: string): Promise<void>;
  /** Drops the claims these (claimed) records still hold, so the alerts are claimable again now. */
  releaseAlerts(records: readonly ExposureRecord[]): Promise<void>;
  /** Every IP with records, for stale-node reporting. */
  listIps(): Promise<string[]>;
  /**
   * A named lease (the round lock, a digest being sent): true if `lease.owner` holds it now (it
   * was free, expired, or already this owner's; the expiry is then renewed).
   */
  acquireLease(name: string, lease: ClaimLease): Promise<boolean>;
  /** Releases the lease if `owner` still holds it. */
  releaseLease(name: string, owner: string): Promise<void>;
  /** Every mark (small named values, e.g. up to when a cluster's digest covered its alerts). */
  readMarks(): Promise<Map<string, string>>;
  writeMark(name: string, value: string): Promise<void>;
  /**
   * Stores that stage a round's writes (the file store: one atomic write per round) commit them
   * here; a staged write whose condition no longer holds is reported stale, not applied.
   */
  flush?(): Promise<FlushResult>;
}
