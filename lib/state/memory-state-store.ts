import type { ExposureRecord } from "../findings/types.ts";
import { nextVersion, versionConditionHolds, withAlertCleared } from "./stored-record.ts";
import { StaleRecordError, type StateStore } from "./types.ts";

/**
 * In-process StateStore with the same version-conditional semantics as the file and DynamoDB
 * stores; for tests of the domain. Returns copies so callers cannot mutate what is stored.
 */
export class MemoryStateStore implements StateStore {
  private readonly records = new Map<string, ExposureRecord>();
  /** How many records were written (saveRecords + markAlerted), for "writes nothing" assertions. */
  writes = 0;

  constructor(initial: readonly ExposureRecord[] = []) {
    for (const record of initial) this.records.set(record.key, structuredClone(record));
  }

  async loadIp(ip: string): Promise<ExposureRecord[]> {
    return [...this.records.values()].filter((r) => r.ip === ip).map((r) => structuredClone(r));
  }

  async saveRecords(records: readonly ExposureRecord[]): Promise<void> {
    // All-or-nothing, like the DynamoDB transaction: check every condition before writing any.
    for (const record of records) {
      if (!versionConditionHolds(this.records.get(record.key), record))
        throw new StaleRecordError(record.key);
    }
    for (const record of records) this.records.set(record.key, nextVersion(record));
    this.writes += records.length;
  }

  async listPendingAlerts(): Promise<ExposureRecord[]> {
    return [...this.records.values()].filter((r) => r.pendingAlert).map((r) => structuredClone(r));
  }

  async markAlerted(records: readonly ExposureRecord[], at: string): Promise<void> {
    for (const record of records) {
      const cleared = withAlertCleared(this.records.get(record.key), record, at);
      if (!cleared) continue;
      this.records.set(record.key, cleared);
      this.writes += 1;
    }
  }

  async listIps(): Promise<string[]> {
    return [...new Set([...this.records.values()].map((r) => r.ip))].sort();
  }
}
