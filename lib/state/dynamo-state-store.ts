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
  QueryCommand,
  type QueryCommandInput,
  TransactWriteCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { parseInput } from "../config/zod-input.ts";
import { InputError } from "../errors/errors.ts";
import type { ExposureRecord } from "../findings/types.ts";
import {
  CLAIM_ALERT_ID_ATTRIBUTE,
  CLAIM_OWNER_ATTRIBUTE,
  CLAIM_UNTIL_ATTRIBUTE,
  CONTROL_PARTITION,
  DEFAULT_TTL_DAYS,
  ipFromPartitionKey,
  LEASE_SORT_PREFIX,
  MARK_SORT_PREFIX,
  OUTBOX_INDEX_NAME,
  OUTBOX_PARTITION_KEY,
  OUTBOX_PARTITIONS,
  PARTITION_KEY,
  partitionKeyFor,
  SORT_KEY,
  sortKeyFor,
  TTL_ATTRIBUTE,
} from "./dynamo-schema.ts";
import {
  assertStorable,
  type ClaimLease,
  exposureRecordSchema,
  nextVersion,
  withClaim,
} from "./stored-record.ts";
import { type OutboxPage, StaleRecordError, type StateStore } from "./types.ts";

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
/** Conditional updates (claims, marks) in flight at once: one publish batch. */
const UPDATE_CONCURRENCY = 10;
const SECONDS_PER_DAY = 86_400;

type Item = ExposureRecord & Record<string, unknown>;

interface ConditionalUpdate {
  TableName: string;
  Key: Record<string, string>;
  UpdateExpression: string;
  ConditionExpression: string;
  ExpressionAttributeNames: Record<string, string>;
  ExpressionAttributeValues: Record<string, unknown>;
}

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
/** Placeholders of the claim attributes, shared by the claim and release updates. */
const CLAIM_ATTRIBUTE_NAMES = {
  "#owner": CLAIM_OWNER_ATTRIBUTE,
  "#alert": CLAIM_ALERT_ID_ATTRIBUTE,
  "#until": CLAIM_UNTIL_ATTRIBUTE,
  "#version": "version",
} as const;

export class DynamoStateStore implements StateStore {
  /**
   * One outbox Query page per 100 publish batches, not per 10: about one DynamoDB page (1 MB) of
   * records, a few MB of memory. Each Query costs a round trip (and, in moto, a pass over the table).
   */
  readonly outboxPageSize = 1000;
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
    assertStorable(records);
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

  async pendingAlertPage(options: { cursor?: string; limit: number }): Promise<OutboxPage> {
    let { partition, startKey } =
      options.cursor !== undefined ? decodeCursor(options.cursor) : { partition: 0, startKey: undefined };
    const records: ExposureRecord[] = [];
    while (partition < OUTBOX_PARTITIONS.length && records.length < options.limit) {
      const page = await this.documents.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: OUTBOX_INDEX_NAME,
          KeyConditionExpression: "#pending = :pending",
          ExpressionAttributeNames: { "#pending": OUTBOX_PARTITION_KEY },
          ExpressionAttributeValues: { ":pending": OUTBOX_PARTITIONS[partition] },
          ExclusiveStartKey: startKey,
          Limit: options.limit - records.length,
        }),
      );
      for (const item of page.Items ?? []) records.push(recordFromItem(item));
      startKey = page.LastEvaluatedKey;
      if (!startKey) partition += 1;
    }
    return partition < OUTBOX_PARTITIONS.length
      ? { records, cursor: encodeCursor(partition, startKey) }
      : { records };
  }

  async claimAlerts(records: readonly ExposureRecord[], lease: ClaimLease): Promise<ExposureRecord[]> {
    // Decided on the copy read; the write's condition (same version) makes the decision hold.
    const claims = records.flatMap((read) => {
      const claimed = withClaim(read, read, lease);
      return claimed ? [{ read, claimed }] : [];
    });
    const updates = claims.map(({ read, claimed }) => ({
      TableName: this.tableName,
      Key: keyFor(read),
      UpdateExpression: "SET #owner = :owner, #alert = :alert, #until = :until, #version = :next",
      ConditionExpression: "#version = :read",
      ExpressionAttributeNames: CLAIM_ATTRIBUTE_NAMES,
      ExpressionAttributeValues: {
        ":owner": claimed.alertClaim?.owner,
        ":alert": claimed.alertClaim?.alertId,
        ":until": claimed.alertClaim?.until,
        ":next": claimed.version,
        ":read": read.version,
      },
    }));
    const won = await this.conditionalUpdates(updates);
    return claims.filter((_, i) => won[i]).map(({ claimed }) => claimed);
  }

  async markAlerted(records: readonly ExposureRecord[], at: string): Promise<void> {
    const pending = records.filter((r) => r.pendingAlert);
    await this.conditionalUpdates(pending.map((r) => this.clearPendingRequest(r, at)));
  }

  async releaseAlerts(records: readonly ExposureRecord[]): Promise<void> {
    const claimed = records.filter((r) => r.alertClaim);
    await this.conditionalUpdates(
      claimed.map((r) => ({
        TableName: this.tableName,
        Key: keyFor(r),
        UpdateExpression: "SET #version = #version + :one REMOVE #owner, #alert, #until",
        ConditionExpression: "#owner = :owner AND #alert = :alert",
        ExpressionAttributeNames: CLAIM_ATTRIBUTE_NAMES,
        ExpressionAttributeValues: {
          ":one": 1,
          ":owner": r.alertClaim?.owner,
          ":alert": r.alertClaim?.alertId,
        },
      })),
    );
  }

  async acquireLease(name: string, lease: ClaimLease): Promise<boolean> {
    try {
      await this.documents.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            [PARTITION_KEY]: CONTROL_PARTITION,
            [SORT_KEY]: `${LEASE_SORT_PREFIX}${name}`,
            owner: lease.owner,
            until: lease.now + lease.leaseMs,
          },
          ConditionExpression: "attribute_not_exists(#pk) OR #until < :now OR #owner = :owner",
          ExpressionAttributeNames: { "#pk": PARTITION_KEY, "#until": "until", "#owner": "owner" },
          ExpressionAttributeValues: { ":now": lease.now, ":owner": lease.owner },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async releaseLease(name: string, owner: string): Promise<void> {
    try {
      // An update, not a delete: the same item actions as every other write of the store.
      await this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { [PARTITION_KEY]: CONTROL_PARTITION, [SORT_KEY]: `${LEASE_SORT_PREFIX}${name}` },
          UpdateExpression: "SET #until = :zero",
          ConditionExpression: "#owner = :owner",
          ExpressionAttributeNames: { "#until": "until", "#owner": "owner" },
          ExpressionAttributeValues: { ":zero": 0, ":owner": owner },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  async readMarks(): Promise<Map<string, string>> {
    const marks = new Map<string, string>();
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.documents.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: "#pk = :pk AND begins_with(#sk, :prefix)",
          ExpressionAttributeNames: { "#pk": PARTITION_KEY, "#sk": SORT_KEY },
          ExpressionAttributeValues: { ":pk": CONTROL_PARTITION, ":prefix": MARK_SORT_PREFIX },
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? [])
        marks.set(String(item[SORT_KEY]).slice(MARK_SORT_PREFIX.length), String(item.value));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return marks;
  }

  async writeMark(name: string, value: string): Promise<void> {
    await this.documents.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { [PARTITION_KEY]: CONTROL_PARTITION, [SORT_KEY]: `${MARK_SORT_PREFIX}${name}`, value },
      }),
    );
  }

  /**
   * Independent conditional updates, a publish batch at a time in parallel: one lost race must not
   * undo the others (so no transaction), and each applies atomically on its own. Returns which
   * updates applied.
   */
  private async conditionalUpdates(updates: readonly ConditionalUpdate[]): Promise<boolean[]> {
    const applied: boolean[] = [];
    for (let i = 0; i < updates.length; i += UPDATE_CONCURRENCY) {
      const chunk = updates.slice(i, i + UPDATE_CONCURRENCY);
      applied.push(...(await Promise.all(chunk.map((update) => this.conditionalUpdate(update)))));
    }
    return applied;
  }

  private async conditionalUpdate(update: ConditionalUpdate): Promise<boolean> {
    try {
      await this.documents.send(new UpdateCommand(update));
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
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

  private clearPendingRequest(record: ExposureRecord, at: string): ConditionalUpdate {
    const names: Record<string, string> = {
      "#alertedAt": "lastAlertedAt",
      "#version": "version",
      "#pending": OUTBOX_PARTITION_KEY,
      "#owner": CLAIM_OWNER_ATTRIBUTE,
      "#alert": CLAIM_ALERT_ID_ATTRIBUTE,
      "#until": CLAIM_UNTIL_ATTRIBUTE,
    };
    const values: Record<string, unknown> = { ":at": at, ":one": 1, ":pending": record.pendingAlert };
    // A claimed alert is cleared only while its claimant holds the claim for that same alert (a
    // write that changed the alert dropped the claim); an unclaimed one while it is still pending.
    let condition = "#pending = :pending";
    if (record.alertClaim) {
      condition += " AND #owner = :owner AND #alert = :alert";
      values[":owner"] = record.alertClaim.owner;
      values[":alert"] = record.alertClaim.alertId;
    }
    return {
      TableName: this.tableName,
      Key: keyFor(record),
      UpdateExpression:
        "SET #alertedAt = :at, #version = #version + :one REMOVE #pending, #owner, #alert, #until",
      ConditionExpression: condition,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    };
  }

  private itemFor(record: ExposureRecord): Item {
    const { alertClaim, ...rest } = record;
    const item: Item = { ...rest, ...keyFor(record) } as Item;
    if (alertClaim) {
      item[CLAIM_OWNER_ATTRIBUTE] = alertClaim.owner;
      item[CLAIM_ALERT_ID_ATTRIBUTE] = alertClaim.alertId;
      item[CLAIM_UNTIL_ATTRIBUTE] = alertClaim.until;
    }
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
  const {
    [PARTITION_KEY]: pk,
    [SORT_KEY]: sk,
    [TTL_ATTRIBUTE]: _ttl,
    [CLAIM_OWNER_ATTRIBUTE]: owner,
    [CLAIM_ALERT_ID_ATTRIBUTE]: alertId,
    [CLAIM_UNTIL_ATTRIBUTE]: until,
    ...record
  } = item;
  if (owner !== undefined || alertId !== undefined || until !== undefined)
    record.alertClaim = { owner, alertId, until };
  return parseInput(exposureRecordSchema, record, `dynamodb item ${String(pk)}/${String(sk)}`);
}

interface OutboxCursor {
  partition: number;
  startKey: Record<string, unknown> | undefined;
}

function encodeCursor(partition: number, startKey: Record<string, unknown> | undefined): string {
  return Buffer.from(JSON.stringify({ p: partition, k: startKey ?? null })).toString("base64url");
}

function decodeCursor(cursor: string): OutboxCursor {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as {
      p?: unknown;
      k?: unknown;
    };
    if (
      typeof parsed.p === "number" &&
      Number.isInteger(parsed.p) &&
      parsed.p >= 0 &&
      (parsed.k === null || (typeof parsed.k === "object" && !Array.isArray(parsed.k)))
    )
      return { partition: parsed.p, startKey: (parsed.k as Record<string, unknown> | null) ?? undefined };
  } catch {
    // fall through
  }
  throw new InputError("cursor", "is not an outbox cursor this store made");
}
