// The construct's rule patterns (infra/change-patterns.ts), as synthesized, evaluated by moto's
// EventBridge against every fixture (recorded CloudTrail events where one exists): each change
// reaches the change queue, each launch the launch queue, every failed call and every event the
// rules do not name reaches neither.

import { readdirSync } from "node:fs";
import { join } from "node:path";
import { EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { PurgeQueueCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Moto, startMoto } from "../support/moto.ts";
import { fixture } from "./fixtures.ts";
import { changeBusWithQueues } from "./rescan-pipeline.ts";

const BUS = "routing-test";
/** Where each fixture must land; the rest must reach no queue. */
const EXPECTED: Record<string, "changes" | "launches" | undefined> = {
  "associate-address": "changes",
  "associate-address-allocation-only": "changes",
  "attach-network-interface": "changes",
  "authorize-security-group-ingress": "changes",
  "authorize-security-group-ingress-console": "changes",
  "authorize-security-group-ingress-go-sdk": "changes",
  "authorize-security-group-ingress-denied": undefined,
  "ec2-instance-running": "launches",
  "eks-create-nodegroup": "changes",
  "eks-update-cluster-config": "changes",
  // The rule forwards it (it names UpdateClusterConfig); the parser then finds no endpoint change.
  "eks-update-cluster-config-logging": "changes",
  "eks-update-nodegroup-config": "changes",
  "modify-instance-attribute-groupset": "changes",
  "modify-instance-attribute-userdata": "changes",
  "modify-network-interface-attribute": "changes",
  "modify-security-group-rules": "changes",
  "run-instances": "launches",
  "run-instances-console": "launches",
  "run-instances-denied": undefined,
  "run-instances-dry-run": undefined,
  "start-instances": "launches",
  "start-instances-console": "launches",
};

let moto: Moto;
let events: EventBridgeClient;
let sqs: SQSClient;
const queues: Record<"changes" | "launches", string> = { changes: "", launches: "" };

beforeAll(async () => {
  moto = await startMoto();
  events = new EventBridgeClient({});
  sqs = new SQSClient({});
  Object.assign(queues, await changeBusWithQueues(events, sqs, BUS));
}, 60_000);
afterAll(async () => {
  events?.destroy();
  sqs?.destroy();
  await moto?.stop();
});

async function landed(): Promise<("changes" | "launches")[]> {
  const out: ("changes" | "launches")[] = [];
  for (const name of ["changes", "launches"] as const) {
    const { Messages } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queues[name], MaxNumberOfMessages: 10 }),
    );
    for (const _ of Messages ?? []) out.push(name);
    await sqs.send(new PurgeQueueCommand({ QueueUrl: queues[name] }));
  }
  return out;
}

describe("the forwarded rule patterns in EventBridge (moto)", () => {
  it("every fixture has an expectation", () => {
    const names = readdirSync(join(import.meta.dirname, "fixtures"))
      .filter((f) => f.endsWith(".json"))
      .map((f) => f.replace(/\.json$/, ""));
    expect(names.sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  it.each(Object.entries(EXPECTED))("%s → %s", async (name, queue) => {
    const event = fixture(name);
    const put = await events.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: BUS,
            Source: event.source as string,
            DetailType: event["detail-type"] as string,
            Detail: JSON.stringify(event.detail),
          },
        ],
      }),
    );
    expect(put.FailedEntryCount).toBe(0);
    expect(await landed()).toEqual(queue ? [queue] : []);
  });
});
