import {
  BatchImportFindingsCommand,
  BatchUpdateFindingsCommand,
  SecurityHubClient,
} from "@aws-sdk/client-securityhub";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { ConsoleNotifier } from "../../lib/alerts/console-notifier.ts";
import { FanOutNotifier } from "../../lib/alerts/fanout-notifier.ts";
import { SecurityHubNotifier } from "../../lib/securityhub/publisher.ts";
import { alertEvent } from "../alerts/events.ts";

// Throttling and per-finding failures cannot be provoked from moto: these use aws-sdk-client-mock.
const hubMock = mockClient(SecurityHubClient);
const TO = { account: "123456789012", region: "us-east-1", partition: "aws" };

function throttling(): Error {
  return Object.assign(new Error("Rate exceeded"), {
    name: "TooManyRequestsException",
    $metadata: { httpStatusCode: 429 },
  });
}

function notifier(extra: { onRejected?: (r: { id: string; error: string }[]) => void } = {}) {
  const sleeps: number[] = [];
  const hub = new SecurityHubNotifier({
    client: new SecurityHubClient({ region: "us-east-1" }),
    destination: TO,
    maxAttempts: 4,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    ...extra,
  });
  return { hub, sleeps };
}

describe("SecurityHubNotifier when Security Hub refuses", () => {
  afterEach(() => {
    hubMock.reset();
  });

  it("retries a throttled call with backoff and then reports the alert accepted", async () => {
    hubMock
      .on(BatchImportFindingsCommand)
      .rejectsOnce(throttling())
      .rejectsOnce(throttling())
      .resolves({ SuccessCount: 1, FailedCount: 0, FailedFindings: [] });
    const { hub, sleeps } = notifier();
    const out = await hub.publish([alertEvent({ id: "a-0" })]);
    expect(out).toEqual({ accepted: ["a-0"], failed: [] });
    expect(hubMock.commandCalls(BatchImportFindingsCommand)).toHaveLength(3);
    expect(sleeps).toHaveLength(2);
  });

  it("leaves an alert that stays throttled unaccepted, so the outbox keeps it", async () => {
    hubMock.on(BatchImportFindingsCommand).rejects(throttling());
    const { hub } = notifier();
    const out = await hub.publish([alertEvent({ id: "a-0" })]);
    expect(out.accepted).toEqual([]);
    expect(out.failed).toEqual([{ id: "a-0", error: "Rate exceeded" }]);
    expect(hubMock.commandCalls(BatchImportFindingsCommand)).toHaveLength(4);
  });

  it("retries only the FailedFindings that were throttled, and drops (reports) the ones refused for good", async () => {
    const rejected: { id: string; error: string }[] = [];
    hubMock
      .on(BatchImportFindingsCommand)
      .resolvesOnce({
        SuccessCount: 1,
        FailedCount: 2,
        FailedFindings: [
          { Id: "portwarden/127.0.2.1#22", ErrorCode: "ThrottlingException", ErrorMessage: "slow down" },
          { Id: "portwarden/127.0.2.1#443", ErrorCode: "InvalidInput", ErrorMessage: "bad resource" },
        ],
      })
      .resolves({ SuccessCount: 1, FailedCount: 0, FailedFindings: [] });
    const { hub } = notifier({ onRejected: (r) => rejected.push(...r) });
    const out = await hub.publish([
      alertEvent({ id: "a-kubelet" }),
      alertEvent({ id: "a-ssh" }, { port: 22 }),
      alertEvent({ id: "a-https" }, { port: 443 }),
    ]);
    expect(out.accepted.sort()).toEqual(["a-https", "a-kubelet", "a-ssh"]);
    expect(rejected).toEqual([{ id: "portwarden/127.0.2.1#443", error: "InvalidInput: bad resource" }]);
    const second = hubMock.commandCalls(BatchImportFindingsCommand)[1]?.args[0].input.Findings ?? [];
    expect(second.map((f) => f.Id)).toEqual(["portwarden/127.0.2.1#22"]);
  });

  it("does not retry when Security Hub is not enabled: the alert is not resent to every channel each round", async () => {
    const rejected: { id: string; error: string }[] = [];
    hubMock.on(BatchImportFindingsCommand).rejects(
      Object.assign(new Error("Account is not subscribed to AWS Security Hub"), {
        name: "InvalidAccessException",
        $metadata: { httpStatusCode: 401 },
      }),
    );
    const { hub } = notifier({ onRejected: (r) => rejected.push(...r) });
    const out = await hub.publish([alertEvent({ id: "a-0" })]);
    expect(out.accepted).toEqual(["a-0"]);
    expect(rejected[0]?.error).toMatch(/not subscribed/);
    expect(hubMock.commandCalls(BatchImportFindingsCommand)).toHaveLength(1);
  });

  it("fan-out: an alert Security Hub could not take yet is accepted by no one (stays pending for both)", async () => {
    hubMock.on(BatchImportFindingsCommand).rejects(throttling());
    const lines: string[] = [];
    const fan = new FanOutNotifier([new ConsoleNotifier({ write: (l) => lines.push(l) }), notifier().hub]);
    const out = await fan.publish([
      alertEvent({ id: "a-0" }),
      alertEvent({ id: "rf", eventType: "round-failed" }),
    ]);
    expect(lines).toHaveLength(2);
    expect(out.accepted).toEqual(["rf"]);
    expect(out.failed).toEqual([{ id: "a-0", error: "Rate exceeded" }]);
  });

  it("sets Workflow RESOLVED on the findings it archived (moto has no BatchUpdateFindings)", async () => {
    hubMock.on(BatchImportFindingsCommand).resolves({ SuccessCount: 2, FailedCount: 0, FailedFindings: [] });
    hubMock.on(BatchUpdateFindingsCommand).resolves({ ProcessedFindings: [], UnprocessedFindings: [] });
    const { hub } = notifier();
    const out = await hub.publish([
      alertEvent({ id: "gone", eventType: "resolved" }),
      alertEvent({ id: "still" }, { port: 22 }),
    ]);
    expect(out.accepted.sort()).toEqual(["gone", "still"]);
    const update = hubMock.commandCalls(BatchUpdateFindingsCommand)[0]?.args[0].input;
    expect(update?.FindingIdentifiers).toEqual([
      {
        Id: "portwarden/127.0.2.1#10250",
        ProductArn: "arn:aws:securityhub:us-east-1:123456789012:product/123456789012/default",
      },
    ]);
    expect(update?.Workflow).toEqual({ Status: "RESOLVED" });
  });

  it("still delivers a resolved alert when the workflow update fails, and says so", async () => {
    const rejected: { id: string; error: string }[] = [];
    hubMock.on(BatchImportFindingsCommand).resolves({ SuccessCount: 1, FailedCount: 0, FailedFindings: [] });
    hubMock
      .on(BatchUpdateFindingsCommand)
      .rejects(Object.assign(new Error("denied"), { name: "AccessDeniedException" }));
    const { hub } = notifier({ onRejected: (r) => rejected.push(...r) });
    const out = await hub.publish([alertEvent({ id: "gone", eventType: "resolved" })]);
    expect(out.accepted).toEqual(["gone"]);
    expect(rejected).toEqual([{ id: "portwarden/127.0.2.1#10250", error: "workflow not set: denied" }]);
  });
});
