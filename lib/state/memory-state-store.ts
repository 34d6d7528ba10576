import type { ExposureRecord } from "../findings/types.ts";
import { acquiredLease, pageOfPending, type StoredLease } from "./local-outbox.ts";
import {
  assertStorable,
  type ClaimLease,
  nextVersion,
  versionConditionHolds,
  withAlertCleared,
  withClaim,
  withClaimReleased,
} from "./stored-record.ts";
import { type OutboxPage, StaleRecordError, type StateStore } from "./types.ts";

/**
 * In-process StateStore with the same version-conditional semantics as the file and DynamoDB
 * stores; for tests of the domain. Returns copies so callers cannot mutate what is stored.
 */
export class MemoryStateStore implements StateStore {
  private readonly records = new Map<string, ExposureRecord>();
  private readonly leases = new Map<string, StoredLease>();
  private readonly marks = new Map<string, string>();
  /** How many records were written (saveRecords + markAlerted), for "writes nothing" assertions. */
  writes = 0;

  constructor(initial: readonly ExposureRecord[] = []) {
    for (const record of initial) this.records.set(record.key, structuredClone(record));
  }

  async loadIp(ip: string): Promise<ExposureRecord[]> {
    return [...this.records.values()].filter((r) => r.ip === ip).map((r) => structuredClone(r));
  }

  async saveRecords(records: readonly ExposureRecord[]): Promise<void> {
    assertStorable(records);
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

  async pendingAlertPage(options: { cursor?: string; limit: number }): Promise<OutboxPage> {
    return pageOfPending(this.records.values(), options);
  }

  async claimAlerts(records: readonly ExposureRecord[], lease: ClaimLease): Promise<ExposureRecord[]> {
    const claimed: ExposureRecord[] = [];
    for (const record of records) {
      const next = withClaim(this.records.get(record.key), record, lease);
      if (!next) continue;
      this.records.set(record.key, next);
      claimed.push(structuredClone(next));
    }
    return claimed;
  }

  async markAlerted(records: readonly ExposureRecord[], at: string): Promise<void> {
    for (const record of records) {
      const cleared = withAlertCleared(this.records.get(record.key), record, at);
      if (!cleared) continue;
      this.records.set(record.key, cleared);
      this.writes += 1;
    }
  }

  async releaseAlerts(records: readonly ExposureRecord[]): Promise<void> {
    for (const record of records) {
      const released = withClaimReleased(this.records.get(record.key), record);
      if (released) this.records.set(record.key, released);
    }
  }

  async listIps(): Promise<string[]> {
    return [...new Set([...this.records.values()].map((r) => r.ip))].sort();
  }

  async acquireLease(name: string, lease: ClaimLease): Promise<boolean> {
    const next = acquiredLease(this.leases.get(name), lease);
    if (next) this.leases.set(name, next);
    return next !== undefined;
  }

  async releaseLease(name: string, owner: string): Promise<void> {
    if (this.leases.get(name)?.owner === owner) this.leases.delete(name);
  }

  async readMarks(): Promise<Map<string, string>> {
    return new Map(this.marks);
  }

  async writeMark(name: string, value: string): Promise<void> {
    this.marks.set(name, value);
  }
}
