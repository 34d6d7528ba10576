import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { CreateTopicCommand, DeleteTopicCommand, SNSClient, SubscribeCommand } from "@aws-sdk/client-sns";
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AlertMessageV1 } from "../../lib/alerts/format.ts";
import { SnsNotifier } from "../../lib/alerts/sns-notifier.ts";
import { ALLOW_INTERNAL } from "../../lib/net/address-policy.ts";
import { parsePortSpec } from "../../lib/ports/port-spec.ts";
import { runRound } from "../../lib/round/run-round.ts";
import { targetsFromHosts } from "../../lib/round/targets.ts";
import type { ScanOptions, ScanResult } from "../../lib/scan/types.ts";
import { DynamoStateStore } from "../../lib/state/dynamo-state-store.ts";
import { createStateTable, recordCommands } from "../state/dynamo-table.ts";
import { useMoto } from "../support/moto.ts";

// The production adapters (DynamoDB state + SNS) under the real round pipeline. The scanner is a
// table of open ports (no sockets): what is under test is state, outbox and delivery.
const TABLE = "portwarden-state";
const TOPIC_NAME = "portwarden-alerts";
const NODE = "127.0.5.1";
const PORTS = parsePortSpec("22,10250");
const WRITE_COMMANDS = new Set(["PutItemCommand", "UpdateItemCommand", "TransactWriteItemsCommand"]);
const T0 = Date.parse("2026-11-29T03:00:00.000Z");
const minute = (n: number) => () => new Date(T0 + n * 60_000);

function scanOf(open: number[]) {
  return async (hosts: string[], _options: ScanOptions): Promise<ScanResult[]> =>
    hosts.map((ip) => ({ target: ip, ip, open, closed: 0, filtered: 0, complete: true, durationMs: 1 }));
}

describe("a round on DynamoDB state with SNS alerts (moto)", () => {
  const moto = useMoto();
  let dynamo: DynamoDBClient;
  let sns: SNSClient;
  let sqs: SQSClient;
  let topicArn: string;

  beforeEach(async () => {
    await moto.reset();
    dynamo = new DynamoDBClient({ region: "us-east-1" });
    sns = new SNSClient({ region: "us-east-1" });
    sqs = new SQSClient({ region: "us-east-1" });
    await createStateTable(dynamo, TABLE);
    topicArn = (await sns.send(new CreateTopicCommand({ Name: TOPIC_NAME }))).TopicArn as string;
  });
  afterEach(() => {
    for (const client of [dynamo, sns, sqs]) client.destroy();
  });

  async function subscribedQueue(): Promise<string> {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: "alerts" }));
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["QueueArn"] }),
    );
    await sns.send(
      new SubscribeCommand({
        TopicArn: topicArn,
        Protocol: "sqs",
        Endpoint: Attributes?.QueueArn,
        Attributes: { RawMessageDelivery: "true" },
      }),
    );
    return QueueUrl as string;
  }

  async function receivedIds(queueUrl: string): Promise<string[]> {
    const messages: Message[] = [];
    for (;;) {
      const { Messages } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 300 }),
      );
      if (!Messages?.length) break;
      messages.push(...Messages);
    }
    return messages.map((m) => (JSON.parse(m.Body ?? "") as AlertMessageV1).id).sort();
  }

  function round(open: number[], minutes: number) {
    const deps = {
      scan: scanOf(open),
      probe: async () => [],
      store: new DynamoStateStore({ client: dynamo, tableName: TABLE }),
      notifier: new SnsNotifier({ client: sns, topicArn }),
      addressPolicy: ALLOW_INTERNAL,
    };
    return runRound(targetsFromHosts([NODE]), deps, { ports: PORTS, now: minute(minutes) });
  }

  it("writes nothing to DynamoDB in a round that finds what the last one found", async () => {
    // Prepare
    await subscribedQueue();
    await round([22, 10250], 0);
    const commands = recordCommands(dynamo);
    // Act
    const report = await round([22, 10250], 60);
    // Assess
    expect(report.newExposures).toEqual([]);
    expect(commands).toContain("QueryCommand"); // the recorder does see this round's traffic
    expect(commands.filter((c) => WRITE_COMMANDS.has(c))).toEqual([]);
  });

  it("delivers each new exposure once, however many rounds see it", async () => {
    // Prepare
    const queue = await subscribedQueue();
    // Act
    await round([22, 10250], 0);
    await round([22, 10250], 60);
    await round([22, 10250], 120);
    // Assess
    const ids = await receivedIds(queue);
    expect(ids).toHaveLength(2);
    expect(ids.every((id) => id.startsWith(`${NODE}#`))).toBe(true);
  });

  it("keeps alerts SNS could not take in the outbox and delivers them once the next round", async () => {
    // Prepare: the topic is gone during round 1 (a real failure, not a mock).
    await sns.send(new DeleteTopicCommand({ TopicArn: topicArn }));
    const first = await round([10250], 0);
    await sns.send(new CreateTopicCommand({ Name: TOPIC_NAME }));
    const queue = await subscribedQueue();
    // Act
    const second = await round([10250], 60);
    const third = await round([10250], 120);
    // Assess
    expect(first.alerts).toMatchObject({ published: 0, failed: 1 });
    expect(second.alerts).toMatchObject({ published: 1, failed: 0 });
    expect(third.alerts).toMatchObject({ published: 0, failed: 0 });
    expect(await receivedIds(queue)).toHaveLength(1);
  });
});
