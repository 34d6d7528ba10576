import { randomUUID } from "node:crypto";
import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  TransactionCanceledException,
} from "@aws-sdk/client-dynamodb";
import {
  DynamoDBDocumentClient,
  PutCommand,
  paginateQuery,
  paginateScan,
  type QueryCommandInput,
  TransactWriteCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { parseInput } from "../config/zod-input.ts";
import { InputError } from "../errors/errors.ts";
import type { ExposureRecord } from "../findings/types.ts";
import {
  DEFAULT_TTL_DAYS,
  ipFromPartitionKey,
  OUTBOX_INDEX_NAME,
  OUTBOX_PARTITION_KEY,
  OUTBOX_PARTITIONS,
  PARTITION_KEY,
  partitionKeyFor,
  SORT_KEY,
  sortKeyFor,
  TTL_ATTRIBUTE,
} from "./dynamo-schema.ts";
import { exposureRecordSchema, nextVersion } from "./stored-record.ts";
import { StaleRecordError, type StateStore } from "./types.ts";

export interface DynamoStateStoreOptions {
  /** Made by AwsClients; the store never creates clients. */
  client: DynamoDBClient;
  tableName: string;
  /** Resolved records expire this many days after their last write. Default: 30. */
  ttlDays?: number;
  /** Clock for TTL stamps. Default: Date.now. */
  now?: () => number;
}

/** DynamoDB's TransactWriteItems limit. */
const MAX_TRANSACTION_ITEMS = 100;
/** Parallel markAlerted updates: enough to be quick, few enough not to throttle a small table. */
const MARK_CONCURRENCY = 8;
const SECONDS_PER_DAY = 86_400;

type Item = ExposureRecord & Record<string, unknown>;

interface ConditionalPut {
  TableName: string;
  Item: Item;
  ConditionExpression: string;
  ExpressionAttributeNames: Record<string, string>;
  ExpressionAttributeValues?: Record<string, unknown>;
}

/**
 * StateStore on one DynamoDB table (layout in dynamo-schema.ts). A node's records are one Query;
 * writes are conditional on the loaded `version` and go in one transaction per call (chunked at
 * 100 items), so of two scanners that loaded the same version exactly one wins and the other gets
 * StaleRecordError without any of its records applied: no double alert.
 */
export class DynamoStateStore implements StateStore {
  private readonly documents: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly ttlSeconds: number;
  private readonly now: () => number;

  constructor(options: DynamoStateStoreOptions) {
    if (!options.tableName) throw new InputError("tableName", "must not be empty");
    const ttlDays = options.ttlDays ?? DEFAULT_TTL_DAYS;
    if (!Number.isFinite(ttlDays) || ttlDays <= 0) {
      throw new InputError("ttlDays", `${ttlDays} is not a positive number of days`);
    }
    this.documents = DynamoDBDocumentClient.from(options.client, {
      marshallOptions: { removeUndefinedValues: true },
    });
    this.tableName = options.tableName;
    this.ttlSeconds = Math.round(ttlDays * SECONDS_PER_DAY);
    this.now = options.now ?? Date.now;
  }

  async loadIp(ip: string): Promise<ExposureRecord[]> {
    return this.queryRecords({
      KeyConditionExpression: "#pk = :pk",
      ExpressionAttributeNames: { "#pk": PARTITION_KEY },
      ExpressionAttributeValues: { ":pk": partitionKeyFor(ip) },
      ConsistentRead: true,
    });
  }

  async saveRecords(records: readonly ExposureRecord[]): Promise<void> {
    if (records.length === 0) return;
    if (records.length === 1) {
      await this.putOne(records[0] as ExposureRecord);
      return;
    }
    for (let i = 0; i < records.length; i += MAX_TRANSACTION_ITEMS) {
      await this.putTransaction(records.slice(i, i + MAX_TRANSACTION_ITEMS));
    }
  }

  async listPendingAlerts(): Promise<ExposureRecord[]> {
    const records: ExposureRecord[] = [];
    for (const pending of OUTBOX_PARTITIONS)
      records.push(
        ...(await this.queryRecords({
          IndexName: OUTBOX_INDEX_NAME,
          KeyConditionExpression: "#pending = :pending",
          ExpressionAttributeNames: { "#pending": OUTBOX_PARTITION_KEY },
          ExpressionAttributeValues: { ":pending": pending },
        })),
      );
    return records;
  }

  async markAlerted(records: readonly ExposureRecord[], at: string): Promise<void> {
    const pending = records.filter((r) => r.pendingAlert);
    // Conditional updates cannot be batched outside a transaction, and one lost race must not
    // undo the others: independent updates, a few at a time.
    for (let i = 0; i < pending.length; i += MARK_CONCURRENCY) {
      await Promise.all(pending.slice(i, i + MARK_CONCURRENCY).map((r) => this.clearPending(r, at)));
    }
  }

  async listIps(): Promise<string[]> {
    const ips = new Set<string>();
    const pages = paginateScan(
      { client: this.documents },
      {
        TableName: this.tableName,
        ProjectionExpression: "#pk",
        ExpressionAttributeNames: { "#pk": PARTITION_KEY },
      },
    );
    for await (const page of pages)
      for (const item of page.Items ?? []) {
        const ip = ipFromPartitionKey(String(item[PARTITION_KEY]));
        if (ip) ips.add(ip);
      }
    return [...ips].sort();
  }

  /** Every page of a Query on the table (or an index), each item checked to be a record. */
  private async queryRecords(query: Omit<QueryCommandInput, "TableName">): Promise<ExposureRecord[]> {
    const records: ExposureRecord[] = [];
    const pages = paginateQuery({ client: this.documents }, { TableName: this.tableName, ...query });
    for await (const page of pages) for (const item of page.Items ?? []) records.push(recordFromItem(item));
    return records;
  }

  private putRequest(record: ExposureRecord): ConditionalPut {
    const isNew = record.version === 0;
    return {
      TableName: this.tableName,
      Item: this.itemFor(nextVersion(record)),
      ConditionExpression: isNew ? "attribute_not_exists(#pk)" : "#version = :loaded",
      ExpressionAttributeNames: isNew ? { "#pk": PARTITION_KEY } : { "#version": "version" },
      ...(isNew ? {} : { ExpressionAttributeValues: { ":loaded": record.version } }),
    };
  }

  private async putOne(record: ExposureRecord): Promise<void> {
    try {
      await this.documents.send(new PutCommand(this.putRequest(record)));
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) throw new StaleRecordError(record.key);
      throw error;
    }
  }

  private async putTransaction(records: readonly ExposureRecord[]): Promise<void> {
    try {
      await this.documents.send(
        new TransactWriteCommand({
          TransactItems: records.map((r) => ({ Put: this.putRequest(r) })),
          // The SDK's own retry of a transaction that did commit then succeeds instead of looking stale.
          ClientRequestToken: randomUUID(),
        }),
      );
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const reasons = error.CancellationReasons ?? [];
      const failedAt = reasons.findIndex((reason) => reason.Code === "ConditionalCheckFailed");
      // Cancelled for another reason (a conflicting transaction in flight): the same race, lost.
      const conflict = reasons.some((reason) => reason.Code === "TransactionConflict");
      if (failedAt < 0 && !conflict) throw error;
      throw new StaleRecordError((records[Math.max(failedAt, 0)] as ExposureRecord).key);
    }
  }

  private async clearPending(record: ExposureRecord, at: string): Promise<void> {
    try {
      await this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keyFor(record),
          UpdateExpression: "SET #alertedAt = :at, #version = #version + :one REMOVE #pending",
          ConditionExpression: "#pending = :pending",
          ExpressionAttributeNames: {
            "#alertedAt": "lastAlertedAt",
            "#version": "version",
            "#pending": OUTBOX_PARTITION_KEY,
          },
          ExpressionAttributeValues: { ":at": at, ":one": 1, ":pending": record.pendingAlert },
        }),
      );
    } catch (error) {
      // Another writer replaced or cleared the pending alert: that newer alert must stay queued.
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  private itemFor(record: ExposureRecord): Item {
    const item: Item = { ...record, ...keyFor(record) };
    // Open records never expire (an expired open record would alert again as new); resolved
    // ones are history and age out, the TTL refreshed on every write.
    if (record.status === "resolved") item[TTL_ATTRIBUTE] = Math.floor(this.now() / 1000) + this.ttlSeconds;
    return item;
  }
}

function keyFor(record: ExposureRecord): Record<string, string> {
  return { [PARTITION_KEY]: partitionKeyFor(record.ip), [SORT_KEY]: sortKeyFor(record.port, record.kind) };
}

/** A stored item as a record: keys and TTL dropped, the rest validated (a corrupt or foreign item is an error naming it). */
function recordFromItem(item: Record<string, unknown>): ExposureRecord {
  const { [PARTITION_KEY]: pk, [SORT_KEY]: sk, [TTL_ATTRIBUTE]: _ttl, ...record } = item;
  return parseInput(exposureRecordSchema, record, `dynamodb item ${String(pk)}/${String(sk)}`);
}
