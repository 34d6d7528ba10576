import { CreateTopicCommand, SNSClient } from "@aws-sdk/client-sns";
import { SQSClient } from "@aws-sdk/client-sqs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AlertMessageV1 } from "../../lib/alerts/format.ts";
import { SnsNotifier } from "../../lib/alerts/sns-notifier.ts";
import type { RoundSummary } from "../../lib/alerts/types.ts";
import { InputError } from "../../lib/errors/errors.ts";
import { useMoto } from "../support/moto.ts";
import { receiveAllMessages, subscribeQueue } from "../support/sns-queue.ts";
import { alertEvent } from "./events.ts";

const summary: RoundSummary = {
  roundId: "r-7",
  startedAt: "2026-11-29T03:00:00.000Z",
  targets: 4,
  complete: true,
  newExposures: 0,
  resolved: 0,
  openExposures: 3,
  incompleteScans: 0,
};

describe("SnsNotifier against moto (SNS → SQS with raw delivery)", () => {
  const moto = useMoto();
  let sns: SNSClient;
  let sqs: SQSClient;

  beforeEach(async () => {
    await moto.reset();
    sns = new SNSClient({ region: "us-east-1" });
    sqs = new SQSClient({ region: "us-east-1" });
  });
  afterEach(() => {
    sns.destroy();
    sqs.destroy();
  });

  /** A queue subscribed to the topic with raw delivery (optionally filtered): what SNS sent, unwrapped. */
  const subscribedQueue = (topicArn: string, name: string, filterPolicy?: object) =>
    subscribeQueue(sns, sqs, topicArn, name, filterPolicy);

  const receiveAll = (queueUrl: string) => receiveAllMessages(sqs, queueUrl);

  async function topic(name = "portwarden-alerts"): Promise<string> {
    const attributes = name.endsWith(".fifo") ? { FifoTopic: "true" } : undefined;
    const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: name, Attributes: attributes }));
    return TopicArn as string;
  }

  it("delivers the versioned JSON body to an SQS subscriber", async () => {
    // Prepare
    const topicArn = await topic();
    const queue = await subscribedQueue(topicArn, "all-alerts");
    const event = alertEvent();
    // Act
    await new SnsNotifier({ client: sns, topicArn }).publish([event]);
    // Assess
    const [message] = await receiveAll(queue);
    const body = JSON.parse(message?.Body ?? "") as AlertMessageV1;
    expect(body).toMatchObject({
      schemaVersion: 1,
      id: event.id,
      eventType: "new",
      firstSeen: "2026-11-29T03:00:00.000Z",
      finding: { ip: "127.0.2.1", port: 10250, service: "kubelet", severity: "critical", kind: "exposed" },
    });
  });

  it("sets the attributes subscriptions filter on", async () => {
    // Prepare
    const topicArn = await topic();
    const queue = await subscribedQueue(topicArn, "all-alerts");
    // Act
    await new SnsNotifier({ client: sns, topicArn }).publish([alertEvent()]);
    // Assess
    const [message] = await receiveAll(queue);
    const attributes = Object.fromEntries(
      Object.entries(message?.MessageAttributes ?? {}).map(([name, value]) => [name, value.StringValue]),
    );
    expect(attributes).toEqual({
      severity: "critical",
      findingSeverity: "critical",
      kind: "exposed",
      eventType: "new",
      account: "111122223333",
      cluster: "prod",
      alertId: alertEvent().id,
    });
  });

  it("leaves out attributes that would be empty", async () => {
    // Prepare
    const topicArn = await topic();
    const queue = await subscribedQueue(topicArn, "all-alerts");
    const event = alertEvent({}, { account: undefined, cluster: "" });
    // Act
    const outcome = await new SnsNotifier({ client: sns, topicArn }).publish([event]);
    // Assess
    expect(outcome.accepted).toEqual([event.id]);
    const [message] = await receiveAll(queue);
    expect(Object.keys(message?.MessageAttributes ?? {}).sort()).toEqual([
      "alertId",
      "eventType",
      "findingSeverity",
      "kind",
      "severity",
    ]);
  });

  it("lets a pager subscription filtered on critical and high receive only those", async () => {
    // Prepare
    const topicArn = await topic();
    const pager = await subscribedQueue(topicArn, "pager", { severity: ["critical", "high"] });
    const events = (["critical", "high", "medium", "low", "info"] as const).map((severity, i) =>
      alertEvent({ id: `a-${severity}` }, { port: 10000 + i, severity }),
    );
    // Act
    await new SnsNotifier({ client: sns, topicArn }).publish(events);
    // Assess
    const received = (await receiveAll(pager)).map((m) => (JSON.parse(m.Body ?? "") as AlertMessageV1).id);
    expect(received.sort()).toEqual(["a-critical", "a-high"]);
  });

  it("publishes 23 alerts in batches of at most 10 and reports every one accepted", async () => {
    // Prepare
    const topicArn = await topic();
    const queue = await subscribedQueue(topicArn, "all-alerts");
    const events = Array.from({ length: 23 }, (_, i) => alertEvent({ id: `a-${i}` }, { port: 30000 + i }));
    const batchSizes: number[] = [];
    sns.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { PublishBatchRequestEntries?: unknown[] };
        if (context.commandName === "PublishBatchCommand")
          batchSizes.push(input.PublishBatchRequestEntries?.length ?? 0);
        return next(args);
      },
      { step: "initialize", name: "countBatches" },
    );
    // Act
    const outcome = await new SnsNotifier({ client: sns, topicArn }).publish(events);
    // Assess
    expect(batchSizes).toEqual([10, 10, 3]);
    expect(outcome.accepted.sort()).toEqual(events.map((e) => e.id).sort());
    expect(await receiveAll(queue)).toHaveLength(23);
  });

  it("lets a FIFO topic drop a retried alert with the same id", async () => {
    // Prepare
    const topicArn = await topic("portwarden-alerts.fifo");
    const queue = await subscribedQueue(topicArn, "all-alerts");
    const notifier = new SnsNotifier({ client: sns, topicArn });
    await notifier.publish([alertEvent()]);
    // Act
    const retry = await notifier.publish([alertEvent()]);
    // Assess
    expect(retry.accepted).toEqual([alertEvent().id]);
    expect(await receiveAll(queue)).toHaveLength(1);
  });

  it("publishes the summary of an incomplete round", async () => {
    // Prepare
    const topicArn = await topic();
    const queue = await subscribedQueue(topicArn, "all-alerts");
    // Act
    await new SnsNotifier({ client: sns, topicArn }).summary({
      ...summary,
      complete: false,
      incompleteScans: 1,
    });
    // Assess
    const [message] = await receiveAll(queue);
    expect(JSON.parse(message?.Body ?? "")).toMatchObject({
      schemaVersion: 1,
      eventType: "round-summary",
      summary: { roundId: "r-7", complete: false },
    });
    expect(message?.MessageAttributes?.eventType?.StringValue).toBe("round-summary");
  });

  it("keeps quiet about a complete round by default", async () => {
    // Prepare
    const topicArn = await topic();
    const queue = await subscribedQueue(topicArn, "all-alerts");
    // Act
    await new SnsNotifier({ client: sns, topicArn }).summary(summary);
    // Assess
    expect(await receiveAll(queue)).toEqual([]);
  });

  it("rejects a topic ARN that is not one, naming the field and value", () => {
    // Prepare
    // Act
    const make = () => new SnsNotifier({ client: sns, topicArn: "portwarden-alerts" });
    // Assess
    expect(make).toThrow(InputError);
    expect(make).toThrow('topicArn: "portwarden-alerts" is not an SNS topic ARN');
  });
});
