import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SNSClient } from "@aws-sdk/client-sns";
import { SQSClient } from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import { DynamoStateStore } from "../../lib/state/dynamo-state-store.ts";
import { createStateTable } from "../state/dynamo-table.ts";
import { pendingRecords } from "../state/records.ts";
import { useMoto } from "../support/moto.ts";
import { countById, receiveAllBodies, topicWithQueue } from "../support/sns-queue.ts";
import { seedPendingAlerts } from "./fixtures/outbox-seed.ts";

// The small version of `npm run bench:outbox`: a real drainer process (the Notify stage, pass after
// pass) killed with SIGKILL in the middle, then started again. Nothing may be lost; what may repeat
// is at most the one publish batch SNS had accepted when the kill landed (before its mark).
const DRAINER = join(import.meta.dirname, "fixtures", "drain-outbox.ts");
const ALERTS = 500;
const LEASE_MS = 3000;
const TABLE = "portwarden-state";

function startDrainer(topicArn: string): {
  child: ChildProcess;
  output: () => string;
  exit: Promise<unknown>;
} {
  const child = spawn(process.execPath, ["--import", "tsx", DRAINER, TABLE, topicArn, "2"], {
    env: { ...process.env, LEASE_MS: String(LEASE_MS) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exit = new Promise((resolve) => child.once("exit", (code, signal) => resolve(signal ?? code)));
  return { child, output: () => output, exit };
}

describe("draining a large outbox across a SIGKILL (moto)", () => {
  useMoto();

  it(`sends all ${ALERTS} alerts, none lost, at most one batch twice`, { timeout: 300_000 }, async () => {
    // Prepare
    const dynamo = new DynamoDBClient({ region: "us-east-1" });
    const sns = new SNSClient({ region: "us-east-1" });
    const sqs = new SQSClient({ region: "us-east-1" });
    await createStateTable(dynamo, TABLE);
    const { topicArn, queueUrl } = await topicWithQueue(sns, sqs, "alerts");
    await seedPendingAlerts(dynamo, TABLE, ALERTS);
    // Act: kill the first drainer once it has published something, mid-pass.
    const first = startDrainer(topicArn);
    while (!/"published":[1-9]/.test(first.output())) {
      if (first.child.exitCode !== null) throw new Error(`drainer ended early: ${first.output()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, Math.random() * 500));
    first.child.kill("SIGKILL");
    expect(await first.exit).toBe("SIGKILL");
    await new Promise((r) => setTimeout(r, LEASE_MS + 500)); // the killed drainer's claims expire
    const second = startDrainer(topicArn);
    expect(await second.exit).toBe(0);
    // Assess
    const counts = countById(await receiveAllBodies(sqs, queueUrl));
    const expected = pendingRecords(ALERTS).map((r) => `${r.key}|new|${r.firstSeen}`);
    const lost = expected.filter((id) => !counts.has(id));
    const repeated = [...counts.values()].filter((n) => n > 1).length;
    console.log(`outbox kill test: ${counts.size} ids delivered, ${lost.length} lost, ${repeated} repeated`);
    expect(lost).toEqual([]);
    expect(counts.size).toBe(ALERTS);
    expect(repeated).toBeLessThanOrEqual(10);
    expect(await new DynamoStateStore({ client: dynamo, tableName: TABLE }).listPendingAlerts()).toEqual([]);
    for (const client of [dynamo, sns, sqs]) client.destroy();
  });
});
