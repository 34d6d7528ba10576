import type { ExposureRecord } from "../findings/types.ts";

/** Another writer changed a record since it was loaded: the caller must not alert from its copy. */
export class StaleRecordError extends Error {
  constructor(readonly key: string) {
    super(`record ${key} changed concurrently`);
    this.name = "StaleRecordError";
  }
}

/**
 * Where exposure history lives. Adapters: JSON file (local default) and DynamoDB (production).
 * Domain code receives a StateStore; it never constructs one.
 */
export interface StateStore {
  /** Every record for one IP (DynamoDB: one Query on the IP's partition). */
  loadIp(ip: string): Promise<ExposureRecord[]>;
  /**
   * Writes the given records, each conditional on the `version` it was loaded with (new records:
   * must not exist). Stores bump `version`. Callers pass only records that changed.
   * Throws StaleRecordError when a condition fails.
   */
  saveRecords(records: readonly ExposureRecord[]): Promise<void>;
  /** Records whose `pendingAlert` is set (the outbox). */
  listPendingAlerts(): Promise<ExposureRecord[]>;
  /** Clears `pendingAlert` on these records (only if still the same pending alert) and stamps lastAlertedAt. */
  markAlerted(records: readonly ExposureRecord[], at: string): Promise<void>;
  /** Every IP with records, for stale-node reporting. */
  listIps(): Promise<string[]>;
}
