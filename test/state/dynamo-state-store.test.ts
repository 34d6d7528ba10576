import { DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, PutCommand } from "@aws-sdk/lib-dynamodb";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { InputError } from "../../lib/errors/errors.ts";
import type { ExposureRecord } from "../../lib/findings/types.ts";
import { partitionKeyFor, SORT_KEY, sortKeyFor, TTL_ATTRIBUTE } from "../../lib/state/dynamo-schema.ts";
import { DynamoStateStore } from "../../lib/state/dynamo-state-store.ts";
import { StaleRecordError } from "../../lib/state/types.ts";
import { useMoto } from "../support/moto.ts";
import { createStateTable, recordCommands } from "./dynamo-table.ts";
import { exposureRecord } from "./records.ts";

const TABLE = "portwarden-state";

function onlyRecord(records: ExposureRecord[]): ExposureRecord {
  expect(records).toHaveLength(1);
  return records[0] as ExposureRecord;
}
const WRITE_COMMANDS = new Set(["PutItemCommand", "UpdateItemCommand", "TransactWriteItemsCommand"]);

describe("DynamoStateStore against moto", () => {
  const moto = useMoto();
  let client: DynamoDBClient;
  let store: DynamoStateStore;

  beforeEach(async () => {
    await moto.reset();
    client = new DynamoDBClient({ region: "us-east-1" });
    await createStateTable(client, TABLE);
    store = new DynamoStateStore({ client, tableName: TABLE });
  });
  afterEach(() => {
    client.destroy();
  });

  it("loads every record of one IP, in port order, and none of other IPs", async () => {
    // Prepare
    await store.saveRecords([
      exposureRecord({ port: 10250 }),
      exposureRecord({ port: 22, service: "ssh" }),
      exposureRecord({ ip: "127.0.2.2", port: 6443, service: "kube-apiserver" }),
    ]);
    // Act
    const records = await store.loadIp("127.0.2.1");
    // Assess
    expect(records.map((r) => r.port)).toEqual([22, 10250]);
  });

  it("returns stored records with the version bumped and no table-internal attributes", async () => {
    // Prepare
    const record = exposureRecord({ status: "resolved" });
    await store.saveRecords([record]);
    // Act
    const [loaded] = await store.loadIp(record.ip);
    // Assess
    expect(loaded).toEqual({ ...record, version: 1 });
  });

  it("keeps a latent finding beside the open finding on the same port", async () => {
    // Prepare
    await store.saveRecords([
      exposureRecord({ port: 30000 }),
      exposureRecord({ port: 30000, kind: "latent" }),
    ]);
    // Act
    const records = await store.loadIp("127.0.2.1");
    // Assess
    expect(records.map((r) => r.kind).sort()).toEqual(["exposed", "latent"]);
  });

  it("refuses to create a record that already exists (StaleRecordError)", async () => {
    // Prepare
    await store.saveRecords([exposureRecord()]);
    // Act
    const second = store.saveRecords([exposureRecord()]);
    // Assess
    await expect(second).rejects.toBeInstanceOf(StaleRecordError);
  });

  it("refuses a write from an outdated version", async () => {
    // Prepare
    await store.saveRecords([exposureRecord()]);
    const loaded = onlyRecord(await store.loadIp("127.0.2.1"));
    await store.saveRecords([{ ...loaded, lastSeen: "2026-11-29T04:00:00.000Z" }]);
    // Act
    const outdated = store.saveRecords([{ ...loaded, missedCompleteScans: 1 }]);
    // Assess
    await expect(outdated).rejects.toThrow(/127\.0\.2\.1#10250 changed concurrently/);
  });

  it("lets exactly one of two concurrent scanners of one IP write its alert", async () => {
    // Prepare: both scanners loaded version 1 and both decided the port is newly open again.
    await store.saveRecords([exposureRecord({ status: "resolved" }), exposureRecord({ port: 22 })]);
    const loaded = await store.loadIp("127.0.2.1");
    const otherClient = new DynamoDBClient({ region: "us-east-1" });
    const other = new DynamoStateStore({ client: otherClient, tableName: TABLE });
    const reopen = loaded.map((r) => ({ ...r, status: "open" as const, pendingAlert: "new" as const }));
    // Act
    const outcomes = await Promise.allSettled([store.saveRecords(reopen), other.saveRecords(reopen)]);
    otherClient.destroy();
    // Assess
    const rejected = outcomes.filter((o) => o.status === "rejected");
    expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(1);
    expect(rejected.map((o) => (o as PromiseRejectedResult).reason)).toEqual([expect.any(StaleRecordError)]);
  });

  it("applies none of a call's records when one of them is stale", async () => {
    // Prepare
    await store.saveRecords([exposureRecord({ port: 22 })]);
    const fresh = exposureRecord({ port: 10250, pendingAlert: "new" });
    const staleCopy = exposureRecord({ port: 22, pendingAlert: "new" });
    // Act
    await expect(store.saveRecords([fresh, staleCopy])).rejects.toBeInstanceOf(StaleRecordError);
    // Assess
    expect((await store.loadIp("127.0.2.1")).map((r) => r.port)).toEqual([22]);
  });

  it("sends no request when there is nothing to write", async () => {
    // Prepare
    const commands = recordCommands(client);
    // Act
    await store.saveRecords([]);
    await store.markAlerted([], "2026-11-29T03:05:00.000Z");
    // Assess
    expect(commands).toEqual([]);
  });

  it("writes only the records it is given: 3 changes among 40 records cost one transaction", async () => {
    // Prepare
    const initial = Array.from({ length: 40 }, (_, i) => exposureRecord({ port: 30000 + i }));
    await store.saveRecords(initial);
    const loaded = await store.loadIp("127.0.2.1");
    const changed = loaded.slice(0, 3).map((r) => ({ ...r, lastSeen: "2026-11-29T04:00:00.000Z" }));
    const commands = recordCommands(client);
    // Act
    await store.saveRecords(changed);
    // Assess
    expect(commands.filter((c) => WRITE_COMMANDS.has(c))).toEqual(["TransactWriteItemsCommand"]);
    const versions = (await store.loadIp("127.0.2.1")).map((r) => r.version);
    expect(versions.filter((v) => v === 2)).toHaveLength(3);
  });

  it("splits more than 100 records into transactions of at most 100", async () => {
    // Prepare
    const records = Array.from({ length: 230 }, (_, i) => exposureRecord({ port: 30000 + i }));
    const commands = recordCommands(client);
    // Act
    await store.saveRecords(records);
    // Assess
    expect(commands.filter((c) => c === "TransactWriteItemsCommand")).toHaveLength(3);
    expect(await store.loadIp("127.0.2.1")).toHaveLength(230);
  });

  it("pages through a node whose records exceed one 1 MB query page", async () => {
    // Prepare: 600 records × ~2.2 KB ≈ 1.3 MB (evidence at its 2,000-character limit), above DynamoDB's (and moto's) page size.
    const evidence = "x".repeat(2000);
    await store.saveRecords(
      Array.from({ length: 600 }, (_, i) => exposureRecord({ port: 30000 + i, evidence })),
    );
    const commands = recordCommands(client);
    // Act
    const records = await store.loadIp("127.0.2.1");
    // Assess
    expect(records).toHaveLength(600);
    expect(commands.filter((c) => c === "QueryCommand").length).toBeGreaterThan(1);
  });

  it("refuses an item that is not a record, naming the item and the field", async () => {
    // Prepare: an item written by something else (a hand edit, an older schema)
    await DynamoDBDocumentClient.from(client).send(
      new PutCommand({
        TableName: TABLE,
        Item: {
          ...exposureRecord({ port: 22 }),
          severity: "urgent",
          pk: partitionKeyFor("127.0.2.1"),
          [SORT_KEY]: sortKeyFor(22),
        },
      }),
    );
    // Act
    const load = store.loadIp("127.0.2.1");
    // Assess
    await expect(load).rejects.toThrow(
      `dynamodb item ${partitionKeyFor("127.0.2.1")}/${sortKeyFor(22)}.severity`,
    );
  });

  it("stamps a TTL on resolved records, refreshed from the time of the write", async () => {
    // Prepare
    const now = Date.parse("2026-11-29T03:00:00.000Z");
    const clocked = new DynamoStateStore({ client, tableName: TABLE, ttlDays: 7, now: () => now });
    // Act
    await clocked.saveRecords([exposureRecord({ status: "resolved" })]);
    // Assess
    const item = await client.send(
      new GetItemCommand({
        TableName: TABLE,
        Key: { pk: { S: partitionKeyFor("127.0.2.1") }, [SORT_KEY]: { S: sortKeyFor(10250) } },
      }),
    );
    expect(item.Item?.[TTL_ATTRIBUTE]?.N).toBe(String(now / 1000 + 7 * 86_400));
  });

  it("never puts a TTL on an open record", async () => {
    // Prepare
    // Act
    await store.saveRecords([exposureRecord({ status: "open" })]);
    // Assess
    const item = await client.send(
      new GetItemCommand({
        TableName: TABLE,
        Key: { pk: { S: partitionKeyFor("127.0.2.1") }, [SORT_KEY]: { S: sortKeyFor(10250) } },
      }),
    );
    expect(item.Item?.[TTL_ATTRIBUTE]).toBeUndefined();
  });

  it("lists only records with a pending alert (the outbox)", async () => {
    // Prepare
    await store.saveRecords([
      exposureRecord({ port: 22, pendingAlert: "new" }),
      exposureRecord({ port: 80 }),
      exposureRecord({ ip: "127.0.2.2", port: 6443, status: "resolved", pendingAlert: "resolved" }),
    ]);
    // Act
    const pending = await store.listPendingAlerts();
    // Assess
    expect(pending.map((r) => r.key).sort()).toEqual(["127.0.2.1#22", "127.0.2.2#6443"]);
  });

  it("pages through an outbox larger than one query page", async () => {
    // Prepare
    const evidence = "x".repeat(2000);
    await store.saveRecords(
      Array.from({ length: 600 }, (_, i) =>
        exposureRecord({ port: 30000 + i, evidence, pendingAlert: "new" }),
      ),
    );
    const commands = recordCommands(client);
    // Act
    const pending = await store.listPendingAlerts();
    // Assess
    expect(pending).toHaveLength(600);
    expect(commands.filter((c) => c === "QueryCommand").length).toBeGreaterThan(2);
  });

  it("clears an alerted record from the outbox, stamping lastAlertedAt and bumping the version", async () => {
    // Prepare
    await store.saveRecords([exposureRecord({ pendingAlert: "new" })]);
    const pending = await store.listPendingAlerts();
    // Act
    await store.markAlerted(pending, "2026-11-29T03:05:00.000Z");
    // Assess
    expect(await store.listPendingAlerts()).toEqual([]);
    const [record] = await store.loadIp("127.0.2.1");
    expect(record).toMatchObject({ lastAlertedAt: "2026-11-29T03:05:00.000Z", version: 2 });
    expect(record?.pendingAlert).toBeUndefined();
  });

  it("keeps a newer pending alert that replaced the one that was published", async () => {
    // Prepare: "new" was published while a scanner resolved the port and queued "resolved".
    await store.saveRecords([exposureRecord({ pendingAlert: "new" })]);
    const published = await store.listPendingAlerts();
    await store.saveRecords(
      published.map((r) => ({ ...r, status: "resolved" as const, pendingAlert: "resolved" as const })),
    );
    // Act
    await store.markAlerted(published, "2026-11-29T03:05:00.000Z");
    // Assess
    expect((await store.listPendingAlerts()).map((r) => r.pendingAlert)).toEqual(["resolved"]);
  });

  it("makes a scanner holding the pre-alert copy fail instead of re-queueing the alert", async () => {
    // Prepare
    await store.saveRecords([exposureRecord({ pendingAlert: "new" })]);
    const scannerCopy = onlyRecord(await store.loadIp("127.0.2.1"));
    await store.markAlerted(await store.listPendingAlerts(), "2026-11-29T03:05:00.000Z");
    // Act
    const write = store.saveRecords([{ ...scannerCopy, lastSeen: "2026-11-29T04:00:00.000Z" }]);
    // Assess
    await expect(write).rejects.toBeInstanceOf(StaleRecordError);
  });

  it("lists every IP that has records, once each", async () => {
    // Prepare
    await store.saveRecords([
      exposureRecord({ ip: "127.0.2.2", port: 22 }),
      exposureRecord({ ip: "127.0.2.2", port: 80 }),
      exposureRecord({ ip: "::1", port: 22 }),
      exposureRecord({ ip: "127.0.2.1", port: 22 }),
    ]);
    // Act
    const ips = await store.listIps();
    // Assess
    expect(ips).toEqual(["127.0.2.1", "127.0.2.2", "::1"]);
  });

  it("rejects a non-positive ttlDays, naming the field and value", () => {
    // Prepare
    // Act
    const make = () => new DynamoStateStore({ client, tableName: TABLE, ttlDays: 0 });
    // Assess
    expect(make).toThrow(InputError);
    expect(make).toThrow("ttlDays: 0 is not a positive number of days");
  });
});
