// npm run bench:outbox — drains N pending alerts (default 50,000) from a DynamoDB table to an SNS
// topic (both moto on loopback; an SQS queue subscribed to the topic counts what was sent), with
// the drainer process held to a 256 MB Lambda's memory (and CPU share, when run as root with
// cgroup v1; otherwise node's --max-old-space-size) and killed with SIGKILL at ~40% of the
// alerts, then started again once its claims' lease ran out. A consumer receives and deletes the
// queue's messages while the drain runs (as a real subscriber does; moto's ReceiveMessage and
// GetQueueAttributes walk every message the queue holds, so a queue left to grow to 50,000 costs
// moto more than the drain). Prints time, passes, peak RSS, time per AWS operation, delivered, lost
// and repeated alert ids. FIFO=1: a FIFO topic and queue (messages kept until the end, so that moto's
// queue can drop a repeated deduplication id: use a small ALERTS).
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SNSClient } from "@aws-sdk/client-sns";
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { seedPendingAlerts } from "../alerts/fixtures/outbox-seed.ts";
import { createStateTable } from "../state/dynamo-table.ts";
import { pendingRecords } from "../state/records.ts";
import { startMoto } from "../support/moto.ts";
import { topicWithQueue } from "../support/sns-queue.ts";

const ALERTS = Number(process.env.ALERTS ?? 50_000);
const MEMORY_MB = Number(process.env.MEMORY_MB ?? 256);
const KILL_AT = Number(process.env.KILL_AT ?? 0.4);
const FIFO = process.env.FIFO === "1";
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

/** VmHWM of a live process (the drainer: bash exec'd node in place, so the pid is node's). */
function peakRssMb(pid: number | undefined): number {
  try {
    const line = readFileSync(`/proc/${pid}/status`, "utf8")
      .split("\n")
      .find((l) => l.startsWith("VmHWM:"));
    return Math.round(Number(line?.replace(/\D/g, "") ?? 0) / 1024);
  } catch {
    return 0;
  }
}

const moto = await startMoto();
const dynamo = new DynamoDBClient({ region: "us-east-1" });
const sns = new SNSClient({ region: "us-east-1" });
const sqs = new SQSClient({ region: "us-east-1" });
try {
  await createStateTable(dynamo, TABLE);
  const { topicArn, queueUrl } = await topicWithQueue(sns, sqs, FIFO ? "alerts.fifo" : "alerts");
  console.log(`outbox bench: ${ALERTS} pending alerts; drainer limits: ${limits}`);
  let t = Date.now();
  await seedPendingAlerts(dynamo, TABLE, ALERTS);
  console.log(`seeded in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  const counts = new Map<string, number>();
  let messages = 0;
  let draining = true;
  const consumer = (async () => {
    // Until the drainers are done and the queue answered empty three times in a row.
    for (let empty = 0; draining || empty < 3; ) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 3600 }),
      );
      if (Messages.length === 0) {
        empty += 1;
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      empty = 0;
      messages += Messages.length;
      for (const message of Messages) {
        const id = String((JSON.parse(message.Body ?? "{}") as { id?: unknown }).id);
        counts.set(id, (counts.get(id) ?? 0) + 1);
      }
      if (!FIFO)
        await sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: Messages.map((m, i) => ({ Id: `m${i}`, ReceiptHandle: m.ReceiptHandle })),
          }),
        );
    }
  })();
  t = Date.now();
  const first = drainer(topicArn);
  while (messages < ALERTS * KILL_AT && first.child.exitCode === null)
    await new Promise((r) => setTimeout(r, 200));
  const firstPeak = peakRssMb(first.child.pid);
  first.child.kill("SIGKILL");
  const firstExit = await first.exit;
  const atKill = messages;
  console.log(
    `drainer 1: ${firstExit} after ${((Date.now() - t) / 1000).toFixed(1)} s, ${atKill} messages received, peak RSS ${firstPeak} MB`,
  );
  await new Promise((r) => setTimeout(r, LEASE_MS + 1000));
  const second = drainer(topicArn);
  const secondExit = await second.exit;
  const seconds = (Date.now() - t) / 1000;
  draining = false;
  await consumer;
  const done = second.output().match(/done (.*)/)?.[1] ?? "{}";
  console.log(`drainer 2: exit ${secondExit}; ${done}`);
  const expected = pendingRecords(ALERTS).map((r) => `${r.key}|new|${r.firstSeen}`);
  const lost = expected.filter((id) => !counts.has(id)).length;
  const repeated = [...counts.values()].filter((n) => n > 1).length;
  const peak = Math.max(firstPeak, (JSON.parse(done) as { peakRssMb?: number }).peakRssMb ?? 0);
  console.log(
    [
      "",
      "| alerts | topic | killed at | total time | alerts/s | drainer 2 passes | peak RSS (both drainers) | delivered | lost | repeated (messages) |",
      "|---|---|---|---|---|---|---|---|---|---|",
      `| ${ALERTS} | ${FIFO ? "FIFO" : "standard"} | ${atKill} received | ${seconds.toFixed(0)} s | ${(ALERTS / seconds).toFixed(0)} | ${(JSON.parse(done) as { passes?: number }).passes} | ${peak} MB | ${counts.size} | ${lost} | ${repeated} (${messages - counts.size}) |`,
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
