import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { selectNodeTags } from "../../lib/discovery/node-tags.ts";
import { DynamoStateStore } from "../../lib/state/dynamo-state-store.ts";
import { FileStateStore } from "../../lib/state/file-state-store.ts";
import { MemoryStateStore } from "../../lib/state/memory-state-store.ts";
import { StaleRecordError, type StateStore } from "../../lib/state/types.ts";
import { type Moto, startMoto } from "../support/moto.ts";
import { createStateTable } from "./dynamo-table.ts";
import { exposureRecord } from "./records.ts";

/** How to get a fresh, empty store of one kind (and what it needs running around it). */
interface StoreHarness {
  start?: () => Promise<void>;
  stop?: () => Promise<void>;
  make: (dir: string) => Promise<StateStore>;
}

/** DynamoStateStore on a table made from dynamo-schema.ts, in a moto server on loopback. */
function dynamoHarness(): StoreHarness {
  let moto: Moto | undefined;
  let client: DynamoDBClient | undefined;
  return {
    start: async () => {
      moto = await startMoto();
    },
    stop: async () => {
      client?.destroy();
      await moto?.stop();
    },
    make: async () => {
      await moto?.reset();
      client?.destroy();
      client = new DynamoDBClient({ region: "us-east-1" });
      await createStateTable(client, "portwarden-contract");
      return new DynamoStateStore({ client, tableName: "portwarden-contract" });
    },
  };
}

// Every store must behave the same: the round logic is tested once against these rules.
describe.each<[string, StoreHarness]>([
  ["MemoryStateStore", { make: async () => new MemoryStateStore() }],
  ["FileStateStore", { make: async (dir) => new FileStateStore({ path: join(dir, "state.json") }) }],
  ["DynamoStateStore (moto)", dynamoHarness()],
])("%s contract", (_name, harness) => {
  let dir: string;
  let store: StateStore;

  beforeAll(async () => {
    await harness.start?.();
  });
  afterAll(async () => {
    await harness.stop?.();
  });
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "portwarden-state-"));
    store = await harness.make(dir);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("starts empty", async () => {
    // Prepare
    // Act
    const ips = await store.listIps();
    // Assess
    expect(ips).toEqual([]);
  });

  it("loads only the records of the requested IP, version bumped", async () => {
    // Prepare
    await store.saveRecords([exposureRecord(), exposureRecord({ ip: "127.0.2.2" })]);
    // Act
    const records = await store.loadIp("127.0.2.1");
    // Assess
    expect(records).toEqual([{ ...exposureRecord(), version: 1 }]);
  });

  it("keeps a record's node tags as written (unicode, empty values) beside records that have none", async () => {
    // Prepare
    const tags = selectNodeTags({ Name: "🌍 node-1", "kubernetes.io/cluster/prod": "", team: "a=b:c/d@e" });
    const tagged = exposureRecord({ tags });
    const older = exposureRecord({ port: 22 });
    // Act
    await store.saveRecords([tagged, older]);
    const records = await store.loadIp("127.0.2.1");
    // Assess
    expect(records.find((r) => r.port === 10250)?.tags).toEqual(tags);
    expect(records.find((r) => r.port === 22)).not.toHaveProperty("tags");
  });

  it("refuses to create a record that already exists", async () => {
    // Prepare
    await store.saveRecords([exposureRecord()]);
    // Act
    const again = store.saveRecords([exposureRecord()]);
    // Assess
    await expect(again).rejects.toBeInstanceOf(StaleRecordError);
  });

  it("refuses a write from an outdated version and keeps the newer one", async () => {
    // Prepare
    await store.saveRecords([exposureRecord()]);
    const loaded = await store.loadIp("127.0.2.1");
    await store.saveRecords(loaded.map((r) => ({ ...r, missedCompleteScans: 1 })));
    // Act
    const outdated = store.saveRecords(loaded.map((r) => ({ ...r, pendingAlert: "new" as const })));
    // Assess
    await expect(outdated).rejects.toBeInstanceOf(StaleRecordError);
    expect(await store.loadIp("127.0.2.1")).toMatchObject([{ missedCompleteScans: 1, version: 2 }]);
  });

  it("applies none of a call's records when one of them is stale", async () => {
    // Prepare
    await store.saveRecords([exposureRecord({ port: 22 })]);
    // Act
    const mixed = store.saveRecords([exposureRecord({ port: 80 }), exposureRecord({ port: 22 })]);
    // Assess
    await expect(mixed).rejects.toBeInstanceOf(StaleRecordError);
    expect((await store.loadIp("127.0.2.1")).map((r) => r.port)).toEqual([22]);
  });

  it("lets exactly one of two concurrent writers from the same version win", async () => {
    // Prepare
    await store.saveRecords([exposureRecord({ status: "resolved" })]);
    const loaded = await store.loadIp("127.0.2.1");
    const reopened = loaded.map((r) => ({ ...r, status: "open" as const, pendingAlert: "new" as const }));
    // Act
    const outcomes = await Promise.allSettled([store.saveRecords(reopened), store.saveRecords(reopened)]);
    // Assess
    expect(outcomes.map((o) => o.status).sort()).toEqual(["fulfilled", "rejected"]);
  });

  it("lists the outbox and clears only alerts that are still the same pending alert", async () => {
    // Prepare
    await store.saveRecords([
      exposureRecord({ port: 22, pendingAlert: "new" }),
      exposureRecord({ port: 80, pendingAlert: "new" }),
      exposureRecord({ port: 443 }),
    ]);
    const published = await store.listPendingAlerts();
    const [port22] = (await store.loadIp("127.0.2.1")).filter((r) => r.port === 22);
    await store.saveRecords([
      { ...(port22 ?? exposureRecord()), status: "resolved", pendingAlert: "resolved" },
    ]);
    // Act
    await store.markAlerted(published, "2026-11-29T03:05:00.000Z");
    // Assess
    const outbox = await store.listPendingAlerts();
    expect(outbox.map((r) => [r.port, r.pendingAlert])).toEqual([[22, "resolved"]]);
    const [port80] = (await store.loadIp("127.0.2.1")).filter((r) => r.port === 80);
    expect(port80).toMatchObject({ lastAlertedAt: "2026-11-29T03:05:00.000Z", version: 2 });
  });

  it("lists each IP with records once", async () => {
    // Prepare
    await store.saveRecords([
      exposureRecord({ ip: "127.0.2.2", port: 22 }),
      exposureRecord({ ip: "127.0.2.2", port: 80 }),
      exposureRecord({ ip: "127.0.2.1", port: 22 }),
    ]);
    // Act
    const ips = await store.listIps();
    // Assess
    expect(ips).toEqual(["127.0.2.1", "127.0.2.2"]);
  });
});
