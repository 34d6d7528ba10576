// npm run bench:outbox — drains N pending alerts (default 50,000) from a DynamoDB table to an SNS
// topic (both moto on loopback; an SQS queue subscribed to the topic counts what was sent), with
// the drainer process held to a 256 MB Lambda's memory (and CPU share, when run as root with
// cgroup v1; otherwise node's --max-old-space-size) and killed with SIGKILL at ~40% of the
// alerts, then started again once its claims' lease ran out. Prints time, passes, peak RSS,
// delivered, lost and repeated alert ids.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SNSClient } from "@aws-sdk/client-sns";
import { GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import { seedPendingAlerts } from "../alerts/fixtures/outbox-seed.ts";
import { createStateTable } from "../state/dynamo-table.ts";
import { pendingRecords } from "../state/records.ts";
import { startMoto } from "../support/moto.ts";
import { countById, receiveAllBodies, topicWithQueue } from "../support/sns-queue.ts";

const ALERTS = Number(process.env.ALERTS ?? 50_000);
const MEMORY_MB = Number(process.env.MEMORY_MB ?? 256);
const KILL_AT = Number(process.env.KILL_AT ?? 0.4);
const LEASE_MS = 10_000;
const PASS_SECONDS = 100; // Notify's 2-minute timeout minus its margin
const DRAINER = join(import.meta.dirname, "..", "alerts", "fixtures", "drain-outbox.ts");
const TABLE = "portwarden-state";

const cgroup = `portwarden-outbox-bench-${process.pid}`;
const useCgroup =
  process.getuid?.() === 0 && existsSync("/sys/fs/cgroup/memory") && existsSync("/sys/fs/cgroup/cpu");
if (useCgroup) {
  mkdirSync(`/sys/fs/cgroup/memory/${cgroup}`);
  mkdirSync(`/sys/fs/cgroup/cpu/${cgroup}`);
  writeFileSync(`/sys/fs/cgroup/memory/${cgroup}/memory.limit_in_bytes`, String(MEMORY_MB * 1024 * 1024));
  writeFileSync(`/sys/fs/cgroup/cpu/${cgroup}/cpu.cfs_period_us`, "100000");
  writeFileSync(
    `/sys/fs/cgroup/cpu/${cgroup}/cpu.cfs_quota_us`,
    String(Math.round((100000 * MEMORY_MB) / 1769)),
  );
}
const limits = useCgroup
  ? `cgroup: ${MEMORY_MB} MB memory, ${Math.round((100 * MEMORY_MB) / 1769)}% of one core (a ${MEMORY_MB} MB Lambda)`
  : `--max-old-space-size=${MEMORY_MB} (not root or no cgroup v1: no CPU limit)`;

function drainer(topicArn: string) {
  const node = `exec ${process.execPath} --max-old-space-size=${MEMORY_MB} --import tsx ${DRAINER} ${TABLE} ${topicArn} ${PASS_SECONDS}`;
  const enter = useCgroup
    ? `echo $$ > /sys/fs/cgroup/memory/${cgroup}/tasks && echo $$ > /sys/fs/cgroup/cpu/${cgroup}/tasks && `
    : "";
  const child = spawn("bash", ["-c", enter + node], {
    env: { ...process.env, LEASE_MS: String(LEASE_MS) },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exit = new Promise<string>((resolve) =>
    child.once("exit", (code, signal) => resolve(signal ?? String(code))),
  );
  return { child, exit, output: () => output };
}

const moto = await startMoto();
const dynamo = new DynamoDBClient({ region: "us-east-1" });
const sns = new SNSClient({ region: "us-east-1" });
const sqs = new SQSClient({ region: "us-east-1" });
try {
  await createStateTable(dynamo, TABLE);
  const { topicArn, queueUrl } = await topicWithQueue(sns, sqs, "alerts");
  console.log(`outbox bench: ${ALERTS} pending alerts; drainer limits: ${limits}`);
  let t = Date.now();
  await seedPendingAlerts(dynamo, TABLE, ALERTS);
  console.log(`seeded in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  const queued = async () =>
    Number(
      (
        await sqs.send(
          new GetQueueAttributesCommand({
            QueueUrl: queueUrl,
            AttributeNames: ["ApproximateNumberOfMessages"],
          }),
        )
      ).Attributes?.ApproximateNumberOfMessages ?? 0,
    );
  t = Date.now();
  const first = drainer(topicArn);
  while ((await queued()) < ALERTS * KILL_AT && first.child.exitCode === null)
    await new Promise((r) => setTimeout(r, 500));
  first.child.kill("SIGKILL");
  const firstExit = await first.exit;
  const atKill = await queued();
  console.log(
    `drainer 1: ${firstExit} after ${((Date.now() - t) / 1000).toFixed(1)} s, ${atKill} messages sent`,
  );
  await new Promise((r) => setTimeout(r, LEASE_MS + 1000));
  const second = drainer(topicArn);
  const secondExit = await second.exit;
  const seconds = (Date.now() - t) / 1000;
  const done = second.output().match(/done (.*)/)?.[1] ?? "{}";
  console.log(`drainer 2: exit ${secondExit}; ${done}`);
  const counts = countById(await receiveAllBodies(sqs, queueUrl));
  const expected = pendingRecords(ALERTS).map((r) => `${r.key}|new|${r.firstSeen}`);
  const lost = expected.filter((id) => !counts.has(id)).length;
  const repeated = [...counts.values()].filter((n) => n > 1).length;
  const peak = (JSON.parse(done) as { peakRssMb?: number }).peakRssMb;
  console.log(
    [
      "",
      "| alerts | killed at | total time | alerts/s | drainer 2 passes | drainer 2 peak RSS | delivered | lost | repeated |",
      "|---|---|---|---|---|---|---|---|---|",
      `| ${ALERTS} | ${atKill} sent | ${seconds.toFixed(0)} s | ${(ALERTS / seconds).toFixed(0)} | ${(JSON.parse(done) as { passes?: number }).passes} | ${peak} MB | ${counts.size} | ${lost} | ${repeated} |`,
    ].join("\n"),
  );
  if (lost > 0 || secondExit !== "0") process.exitCode = 1;
} finally {
  for (const client of [dynamo, sns, sqs]) client.destroy();
  await moto.stop();
  if (useCgroup) {
    rmdirSync(`/sys/fs/cgroup/memory/${cgroup}`);
    rmdirSync(`/sys/fs/cgroup/cpu/${cgroup}`);
  }
}
