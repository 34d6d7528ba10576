import { PublishBatchCommand, type PublishBatchCommandInput, SNSClient } from "@aws-sdk/client-sns";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { SnsNotifier } from "../../lib/alerts/sns-notifier.ts";
import { alertEvent } from "./events.ts";

// Partial failures and throttling cannot be provoked from moto: these use aws-sdk-client-mock.
const TOPIC = "arn:aws:sns:us-east-1:123456789012:portwarden-alerts";
const snsMock = mockClient(SNSClient);

describe("SnsNotifier when SNS refuses", () => {
  afterEach(() => {
    snsMock.reset();
  });

  it("reports accepted only the entries SNS confirmed and the rest as failed with SNS's reason", async () => {
    // Prepare
    snsMock.on(PublishBatchCommand).resolves({
      Successful: [{ Id: "e0", MessageId: "m-0" }],
      Failed: [{ Id: "e1", Code: "InternalError", Message: "try again", SenderFault: false }],
    });
    const events = [alertEvent({ id: "a-0" }), alertEvent({ id: "a-1" }, { port: 22 })];
    // Act
    const outcome = await new SnsNotifier({ client: new SNSClient({}), topicArn: TOPIC }).publish(events);
    // Assess
    expect(outcome).toEqual({
      accepted: ["a-0"],
      failed: [{ id: "a-1", error: "InternalError: try again" }],
    });
  });

  it("treats an entry SNS did not answer for as failed, so it stays in the outbox", async () => {
    // Prepare
    snsMock.on(PublishBatchCommand).resolves({ Successful: [{ Id: "e0", MessageId: "m-0" }], Failed: [] });
    const events = [alertEvent({ id: "a-0" }), alertEvent({ id: "a-1" }, { port: 22 })];
    // Act
    const outcome = await new SnsNotifier({ client: new SNSClient({}), topicArn: TOPIC }).publish(events);
    // Assess
    expect(outcome.failed).toEqual([{ id: "a-1", error: "no result from SNS" }]);
  });

  it("fails every entry of a throttled batch without throwing, and still sends the next batch", async () => {
    // Prepare
    const throttled = Object.assign(new Error("Rate exceeded"), { name: "ThrottledException" });
    snsMock
      .on(PublishBatchCommand)
      .rejectsOnce(throttled)
      .resolves({ Successful: [{ Id: "e0", MessageId: "m-10" }] });
    const events = Array.from({ length: 11 }, (_, i) => alertEvent({ id: `a-${i}` }, { port: 30000 + i }));
    const notifier = new SnsNotifier({ client: new SNSClient({ maxAttempts: 1 }), topicArn: TOPIC });
    // Act
    const outcome = await notifier.publish(events);
    // Assess
    expect(outcome.accepted).toEqual(["a-10"]);
    expect(outcome.failed).toHaveLength(10);
    expect(outcome.failed[0]).toEqual({ id: "a-0", error: "Rate exceeded" });
  });

  it("sends JSON-structured messages with a subject under 100 characters and one key per protocol", async () => {
    // Prepare
    snsMock.on(PublishBatchCommand).resolves({ Successful: [{ Id: "e0", MessageId: "m-0" }] });
    // Act
    await new SnsNotifier({ client: new SNSClient({}), topicArn: TOPIC }).publish([
      alertEvent({}, { service: "s".repeat(300) }),
    ]);
    // Assess
    const input = snsMock.commandCalls(PublishBatchCommand)[0]?.args[0].input as PublishBatchCommandInput;
    const [entry] = input.PublishBatchRequestEntries ?? [];
    expect(entry?.MessageStructure).toBe("json");
    expect(entry?.Subject?.length).toBeLessThan(100);
    expect(Object.keys(JSON.parse(entry?.Message ?? "{}")).sort()).toEqual(
      ["default", "email", "email-json", "firehose", "http", "https", "lambda", "sms", "sqs"].sort(),
    );
  });
});
