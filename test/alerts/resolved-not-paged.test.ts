import { CreateTopicCommand, SNSClient } from "@aws-sdk/client-sns";
import { type Message, SQSClient } from "@aws-sdk/client-sqs";
import { App, Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Portwarden } from "../../infra/portwarden.ts";
import { ConsoleNotifier } from "../../lib/alerts/console-notifier.ts";
import { SnsNotifier } from "../../lib/alerts/sns-notifier.ts";
import { type Moto, startMoto } from "../support/moto.ts";
import { receiveAllMessages, subscribeQueue } from "../support/sns-queue.ts";
import { alertEvent } from "./events.ts";

// Resolved is not a page: the pager subscription's filter policy, exactly as the construct
// synthesizes it, applied by moto's SNS to what SnsNotifier publishes.

/** The deployed pager subscription's FilterPolicy, from the synthesized template. */
function pagerFilterPolicy(): object {
  const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
  const stack = new Stack(app, "Pager", { env: { account: "111122223333", region: "us-east-1" } });
  new Portwarden(stack, "Portwarden", { pagerUrl: "https://pager.example.com/hook" });
  const subscriptions = Template.fromStack(stack).findResources("AWS::SNS::Subscription", {
    Properties: { Protocol: "https" },
  });
  const [pager] = Object.values(subscriptions) as { Properties: { FilterPolicy: object } }[];
  if (!pager) throw new Error("no pager subscription in the template");
  return pager.Properties.FilterPolicy;
}

const newCritical = alertEvent();
const resolvedCritical = alertEvent({ id: "resolved#127.0.2.1#10250", eventType: "resolved" });
const newHigh = alertEvent(
  { id: "new#127.0.2.1#10257" },
  { port: 10257, severity: "high", service: "kube-controller-manager" },
);
const newMedium = alertEvent({ id: "new#127.0.2.1#22" }, { port: 22, severity: "medium", service: "ssh" });

describe("the default pager filter receives new critical/high alerts, never resolved ones (moto)", () => {
  let moto: Moto;
  let sns: SNSClient;
  let sqs: SQSClient;
  beforeAll(async () => {
    moto = await startMoto();
    sns = new SNSClient({ region: "us-east-1" });
    sqs = new SQSClient({ region: "us-east-1" });
  });
  afterAll(async () => {
    sns.destroy();
    sqs.destroy();
    await moto.stop();
  });

  const queue = (topicArn: string, name: string, filterPolicy?: object) =>
    subscribeQueue(sns, sqs, topicArn, name, filterPolicy);

  const received = (queueUrl: string) => receiveAllMessages(sqs, queueUrl);

  it("pages the new critical and high alerts; email (no filter) gets the resolved one too", async () => {
    const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: "pager-test" }));
    const pager = await queue(TopicArn as string, "pager", pagerFilterPolicy());
    const email = await queue(TopicArn as string, "email");

    await new SnsNotifier({ client: sns, topicArn: TopicArn as string }).publish([
      newCritical,
      resolvedCritical,
      newHigh,
      newMedium,
    ]);

    const ids = (messages: Message[]) => messages.map((m) => JSON.parse(m.Body ?? "{}").id).sort();
    expect(ids(await received(pager))).toEqual([newCritical.id, newHigh.id].sort());
    const all = await received(email);
    expect(ids(all)).toEqual([newCritical.id, resolvedCritical.id, newHigh.id, newMedium.id].sort());
    const resolved = all.find((m) => JSON.parse(m.Body ?? "{}").id === resolvedCritical.id);
    expect([
      resolved?.MessageAttributes?.severity?.StringValue,
      resolved?.MessageAttributes?.findingSeverity?.StringValue,
    ]).toEqual(["info", "critical"]);
  });
});

describe("the console shows a resolved alert as RESOLVED, not at its old severity", () => {
  it("starts the line with RESOLVED, keeps the old severity as 'was', and lists it after new alerts", async () => {
    const lines: string[] = [];
    await new ConsoleNotifier({ write: (t) => lines.push(t) }).publish([resolvedCritical, newMedium]);

    expect(lines[0]).toMatch(/^MEDIUM {3}NEW /);
    expect(lines[1]).toMatch(/^RESOLVED {10}exposed {5}127\.0\.2\.1:10250 .* \(was critical\) +\[account/);
    expect(lines[1]).not.toMatch(/CRITICAL/);
  });
});
