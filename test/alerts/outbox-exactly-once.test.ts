import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SNSClient } from "@aws-sdk/client-sns";
import { SQSClient } from "@aws-sdk/client-sqs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SnsNotifier } from "../../lib/alerts/sns-notifier.ts";
import type { RoundSummary } from "../../lib/alerts/types.ts";
import { ALLOW_INTERNAL } from "../../lib/net/address-policy.ts";
import { parsePortSpec } from "../../lib/ports/port-spec.ts";
import { notifyPending } from "../../lib/round/notify-stage.ts";
import { runRound } from "../../lib/round/run-round.ts";
import { targetsFromHosts } from "../../lib/round/targets.ts";
import { DynamoStateStore } from "../../lib/state/dynamo-state-store.ts";
import { createStateTable, recordCommands } from "../state/dynamo-table.ts";
import { pendingRecords } from "../state/records.ts";
import { freePort, useMoto } from "../support/moto.ts";
import { countById, receiveAllBodies, topicWithQueue } from "../support/sns-queue.ts";
import { seedPendingAlerts } from "./fixtures/outbox-seed.ts";

// Concurrent publishers on one DynamoDB table and one topic (moto). What reaches the subscribed
// queue is what was sent: each alert id must arrive exactly once.
const TABLE = "portwarden-state";
const summary: RoundSummary = {
  roundId: "r1",
  startedAt: "2026-11-29T03:00:00.000Z",
  targets: 0,
  complete: true,
  newExposures: 0,
  resolved: 0,
  openExposures: 0,
  incompleteScans: 0,
};

describe("outbox publishing on DynamoDB + SNS (moto)", () => {
  const moto = useMoto();
  let dynamo: DynamoDBClient;
  let sns: SNSClient;
  let sqs: SQSClient;

  beforeEach(async () => {
    await moto.reset();
    dynamo = new DynamoDBClient({ region: "us-east-1" });
    sns = new SNSClient({ region: "us-east-1" });
    sqs = new SQSClient({ region: "us-east-1" });
    await createStateTable(dynamo, TABLE);
  });
  afterEach(() => {
    for (const client of [dynamo, sns, sqs]) client.destroy();
  });

  const store = () => new DynamoStateStore({ client: dynamo, tableName: TABLE });

  it("sends each alert exactly once when three rounds drain one outbox at the same time", async () => {
    // Prepare
    const { topicArn, queueUrl } = await topicWithQueue(sns, sqs, "alerts");
    await store().saveRecords(pendingRecords(120));
    const publisher = (owner: string) =>
      notifyPending({ store: store(), notifier: new SnsNotifier({ client: sns, topicArn }) }, summary, {
        owner,
        baseline: false,
        pageSize: 20,
      });
    // Act
    const results = await Promise.all([publisher("a"), publisher("b"), publisher("c")]);
    // Assess
    const counts = countById(await receiveAllBodies(sqs, queueUrl));
    expect(counts.size).toBe(120);
    expect([...counts.values()].filter((n) => n > 1)).toEqual([]);
    expect(results.reduce((n, r) => n + r.published, 0)).toBe(120);
    expect(await store().listPendingAlerts()).toEqual([]);
  });

  it("reads the outbox in pages of 1,000 records: one Query for 250 alerts, not one per 100", async () => {
    // Prepare
    const { topicArn } = await topicWithQueue(sns, sqs, "alerts");
    await seedPendingAlerts(dynamo, TABLE, 250);
    const commands = recordCommands(dynamo);
    // Act
    const result = await notifyPending(
      { store: store(), notifier: new SnsNotifier({ client: sns, topicArn }) },
      summary,
      { baseline: false },
    );
    // Assess: readMarks, then one Query per outbox partition (new, escalated, de-escalated,
    // resolved); pages of 100 take 7 (three on "new").
    expect(result.published).toBe(250);
    expect(commands.filter((name) => name === "QueryCommand")).toHaveLength(5);
  });

  it("leaves an alert claimed by a live publisher alone and takes it over once the lease ran out", async () => {
    // Prepare: a publisher claimed the alert and crashed before sending it.
    const { topicArn, queueUrl } = await topicWithQueue(sns, sqs, "alerts");
    await store().saveRecords(pendingRecords(1));
    const [read] = await store().listPendingAlerts();
    const leaseMs = 1500;
    await store().claimAlerts(read ? [read] : [], { owner: "crashed", now: Date.now(), leaseMs });
    const notifier = new SnsNotifier({ client: sns, topicArn });
    // Act
    const during = await notifyPending({ store: store(), notifier }, summary, {
      owner: "b",
      baseline: false,
    });
    await new Promise((r) => setTimeout(r, leaseMs + 200));
    const after = await notifyPending({ store: store(), notifier }, summary, { owner: "b", baseline: false });
    // Assess
    expect([during.published, during.skipped]).toEqual([0, 1]);
    expect(after.published).toBe(1);
    expect([...countById(await receiveAllBodies(sqs, queueUrl)).values()]).toEqual([1]);
  });

  it("sends one digest per cluster for two concurrent first rounds, and pages nobody per alert", async () => {
    // Prepare
    const { topicArn, queueUrl } = await topicWithQueue(sns, sqs, "alerts");
    await store().saveRecords([
      ...pendingRecords(30, { account: "111122223333", cluster: "prod" }),
      ...pendingRecords(2, {
        account: "111122223333",
        cluster: "dev",
        port: 22,
        service: "ssh",
        severity: "medium",
      }),
    ]);
    const publisher = (owner: string) =>
      notifyPending({ store: store(), notifier: new SnsNotifier({ client: sns, topicArn }) }, summary, {
        owner,
      });
    // Act
    const results = await Promise.all([publisher("a"), publisher("b")]);
    const settle = await publisher("c");
    // Assess
    const bodies = (await receiveAllBodies(sqs, queueUrl)) as { eventType: string; id: string }[];
    expect(bodies.filter((b) => b.eventType === "digest").map((b) => b.id)).toEqual([
      "digest|111122223333|prod|r1",
    ]);
    expect(bodies.filter((b) => b.eventType === "new")).toHaveLength(2); // dev: 2 ≤ firstRoundAbove
    expect([...results, settle].reduce((n, r) => n + r.recorded, 0)).toBe(30);
    expect(await store().listPendingAlerts()).toEqual([]);
  });

  it("reports the round's findings and gets a round-failed alert out when DynamoDB is unreachable", async () => {
    // Prepare: the state table's endpoint is a closed port; SNS (moto) works.
    const { topicArn, queueUrl } = await topicWithQueue(sns, sqs, "alerts");
    const down = new DynamoDBClient({
      region: "us-east-1",
      endpoint: `http://127.0.0.1:${await freePort()}`,
      maxAttempts: 1,
    });
    // Act
    const report = await runRound(
      targetsFromHosts(["127.0.5.1"]),
      {
        addressPolicy: ALLOW_INTERNAL,
        scan: async (hosts) =>
          hosts.map((ip) => ({
            target: ip,
            ip,
            open: [10250],
            closed: 0,
            filtered: 0,
            complete: true,
            durationMs: 1,
          })),
        probe: async () => [],
        store: new DynamoStateStore({ client: down, tableName: TABLE }),
        notifier: new SnsNotifier({ client: sns, topicArn }),
      },
      { ports: parsePortSpec("10250"), roundId: "r-down" },
    );
    down.destroy();
    // Assess
    const bodies = (await receiveAllBodies(sqs, queueUrl)) as {
      eventType: string;
      id: string;
      message?: string;
    }[];
    expect(report.round.complete).toBe(false);
    expect(report.unrecorded?.map((f) => [f.ip, f.port, f.severity])).toEqual([["127.0.5.1", 10250, "high"]]);
    const failed = bodies.filter((b) => b.eventType === "round-failed");
    expect(failed.map((b) => b.id)).toEqual(["127.0.5.1|round-failed|r-down", "state|round-failed|r-down"]);
    expect(failed[0]?.message).toMatch(/1 finding\(s\) unrecorded: high unknown 10250/);
  });
});
