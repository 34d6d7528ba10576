import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { STATE_STORE_ACTIONS, type StateStoreMethod } from "../../lib/state/dynamo-schema.ts";
import { DynamoStateStore } from "../../lib/state/dynamo-state-store.ts";
import { type Moto, startMoto } from "../support/moto.ts";
import { createStateTable, recordCommands } from "./dynamo-table.ts";
import { exposureRecord } from "./records.ts";

// The handlers' IAM grants are derived from STATE_STORE_ACTIONS (infra `bindStateTable`): this
// checks, against moto, that each store method sends only the commands its entry authorises.

/** The IAM action a DynamoDB API call is authorised by (TransactWriteItems: per entry, here Puts). */
const ACTION_OF: Record<string, string> = {
  QueryCommand: "dynamodb:Query",
  ScanCommand: "dynamodb:Scan",
  PutItemCommand: "dynamodb:PutItem",
  UpdateItemCommand: "dynamodb:UpdateItem",
  TransactWriteItemsCommand: "dynamodb:PutItem",
};

describe("each DynamoStateStore method sends only what its grant allows (moto)", () => {
  let moto: Moto;
  let client: DynamoDBClient;
  let store: DynamoStateStore;
  let sent: string[];

  beforeAll(async () => {
    moto = await startMoto();
    client = new DynamoDBClient({ region: "us-east-1" });
    await createStateTable(client, "grants");
    store = new DynamoStateStore({ client, tableName: "grants" });
    sent = recordCommands(client);
  });
  afterAll(async () => {
    client.destroy();
    await moto.stop();
  });

  let nextPort = 1000;
  const lease = () => ({ owner: "grants-test", now: Date.now(), leaseMs: 60_000 });
  /** One record (PutItem) and several (TransactWriteItems), on ports not stored yet. */
  const save = async () => {
    await store.saveRecords([exposureRecord({ port: nextPort++, pendingAlert: "new" })]);
    await store.saveRecords([
      exposureRecord({ port: nextPort++, pendingAlert: "new" }),
      exposureRecord({ port: nextPort++ }),
    ]);
  };
  const calls: Record<StateStoreMethod, () => Promise<unknown>> = {
    saveRecords: save,
    loadIp: () => store.loadIp("127.0.2.1"),
    listPendingAlerts: () => store.listPendingAlerts(),
    pendingAlertPage: () => store.pendingAlertPage({ limit: 10 }),
    claimAlerts: async () => store.claimAlerts(await store.listPendingAlerts(), lease()),
    markAlerted: async () => store.markAlerted(await store.listPendingAlerts(), "2026-11-29T04:00:00.000Z"),
    releaseAlerts: async () =>
      store.releaseAlerts(await store.claimAlerts(await store.listPendingAlerts(), lease())),
    listIps: () => store.listIps(),
    acquireLease: () => store.acquireLease(`round-${nextPort}`, lease()),
    releaseLease: async () => {
      await store.acquireLease("held", lease());
      sent.length = 0;
      await store.releaseLease("held", "grants-test");
    },
    readMarks: () => store.readMarks(),
    writeMark: () => store.writeMark(`mark-${nextPort}`, "2026-11-29T04:00:00.000Z"),
  };

  it.each(Object.keys(calls) as StateStoreMethod[])("%s", async (method) => {
    await save();
    sent.length = 0;
    await calls[method]();
    // The methods whose input is read from the outbox first may also send what that read sends.
    const reads: Partial<Record<StateStoreMethod, readonly string[]>> = {
      claimAlerts: STATE_STORE_ACTIONS.listPendingAlerts.actions,
      markAlerted: STATE_STORE_ACTIONS.listPendingAlerts.actions,
      releaseAlerts: [
        ...STATE_STORE_ACTIONS.listPendingAlerts.actions,
        ...STATE_STORE_ACTIONS.claimAlerts.actions,
      ],
    };
    const pendingRead = reads[method] ?? [];
    const allowed = new Set([...STATE_STORE_ACTIONS[method].actions, ...pendingRead]);
    const used = [...new Set(sent.map((name) => ACTION_OF[name] ?? name))];
    expect(used.length).toBeGreaterThan(0);
    for (const action of used) expect(allowed).toContain(action);
  });
});
