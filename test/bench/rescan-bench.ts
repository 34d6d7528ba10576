// npm run bench:rescan — how long from a change event's arrival on the scanner's bus to the alert a
// subscriber receives, for event-driven rescans (issue goal: within 5 minutes). The measured part
// runs the real pieces here (test/events/rescan-pipeline.ts): moto's EventBridge with the
// construct's rules → SQS → the real rescan handler → inventory from moto → scan and probes of a
// loopback listener in this private netns → state (DynamoDB in moto) → SNS (moto) → the subscribed
// queue. The waits the deployment adds and this machine does not sit through (SQS batching window,
// the launch queue's delivery delay, the visibility timeout after a throttled batch) are added from
// lib/contracts/deployment.ts RESCAN_TIMING, which infra/event-rescans.ts deploys.
// Usage: npm run bench:rescan [-- RUNS]   (default 5 runs per case)

import { RESCAN_TIMING } from "../../lib/contracts/deployment.ts";
import { type CaseResult, RESCAN_PORTS, RescanPipeline, type StageTimes } from "../events/rescan-pipeline.ts";
import { requirePrivateNetns } from "../support/netns.ts";

const RUNS = Number(process.argv[2] ?? 5);
const GOAL_S = 300;

if (!requirePrivateNetns()) {
  console.error("bench:rescan must run inside its private netns: use npm run bench:rescan (root)");
  process.exit(2);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)] ?? 0;
};
const fmt = (xs: number[]) =>
  `${median(xs).toFixed(0).padStart(6)} / ${Math.max(...xs)
    .toFixed(0)
    .padStart(6)}`;

async function repeat(run: () => Promise<CaseResult>, check: (r: CaseResult) => void): Promise<CaseResult[]> {
  const out: CaseResult[] = [];
  for (let i = 0; i < RUNS; i++) {
    const r = await run();
    check(r);
    out.push(r);
  }
  return out;
}

const pipeline = await RescanPipeline.start();
try {
  const change = await repeat(
    async () => {
      const node = await pipeline.addNode({ listening: true, open: false });
      await pipeline.openPort(node);
      return pipeline.run("authorize-security-group-ingress", { "sg-0f63fecfa17ef4fee": node.sg }, node);
    },
    (r) => {
      if (r.alerts.length !== 1) throw new Error(`change: expected 1 alert, got ${r.alerts.length}`);
    },
  );
  const launch = await repeat(
    async () => {
      const node = await pipeline.addNode({ listening: true, open: true });
      return pipeline.run(
        "run-instances",
        { "i-0f2f135de18b555e3": node.instanceId, "eni-043138569d4a31e90": node.eni },
        node,
      );
    },
    (r) => {
      if (r.alerts.length !== 1) throw new Error(`launch: expected 1 alert, got ${r.alerts.length}`);
    },
  );
  const quiet = await repeat(
    async () => {
      const node = await pipeline.addNode({ listening: false, open: false });
      return pipeline.run("modify-network-interface-attribute", { "eni-0123456789abcdef0": node.eni }, node);
    },
    (r) => {
      if (r.alerts.length !== 0) throw new Error(`quiet: expected no alert, got ${r.alerts.length}`);
    },
  );

  const stages: [keyof StageTimes, string][] = [
    ["busToQueue", "PutEvents → rule → SQS receive (moto)"],
    ["inventory", "inventory read: EC2 + EKS (moto)"],
    ["scan", `TCP scan, ${RESCAN_PORTS.size} ports, 1 node (loopback)`],
    ["probe", "probes of the open ports"],
    ["publish", "SNS Publish (moto)"],
    ["handler", "rescan handler, whole invocation"],
    ["delivery", "SNS → subscribed SQS receive (moto)"],
    ["total", "MEASURED: event on bus → alert received"],
  ];
  console.log(`rescan latency on this machine, ${RUNS} runs per case, ms as median / max`);
  console.log(
    `${"stage".padEnd(46)} ${"change (SG)".padStart(15)} ${"launch".padStart(15)} ${"quiet".padStart(15)}`,
  );
  for (const [key, label] of stages) {
    const col = (rs: CaseResult[]) => fmt(rs.map((r) => r.times[key]));
    console.log(
      `${label.padEnd(46)} ${col(change)} ${col(launch)} ${key === "total" || key === "delivery" ? "         (none)" : col(quiet)}`,
    );
  }

  const T = RESCAN_TIMING;
  const measuredMax = (rs: CaseResult[]) => Math.max(...rs.map((r) => r.times.total)) / 1000;
  const cases: [string, number, [string, number][]][] = [
    [
      "change (AuthorizeSecurityGroupIngress, …)",
      measuredMax(change),
      [["batching window", T.batchingWindow]],
    ],
    [
      "launch (RunInstances, StartInstances, running)",
      measuredMax(launch),
      [
        ["launch delay", T.launchDelay],
        ["batching window", T.batchingWindow],
      ],
    ],
    [
      "change deferred by the concurrency guard",
      measuredMax(change),
      [
        ["batching window", T.batchingWindow],
        ["visibility timeout", T.visibilityTimeout],
      ],
    ],
    [
      "launch deferred by the concurrency guard",
      measuredMax(launch),
      [
        ["launch delay", T.launchDelay],
        ["batching window", T.batchingWindow],
        ["visibility timeout", T.visibilityTimeout],
      ],
    ],
  ];
  console.log(
    "\nevent arrival → alert: measured (max of the runs) + configured waits (RESCAN_TIMING, not waited here)",
  );
  for (const [name, measured, waits] of cases) {
    const configured = waits.reduce((sum, [, s]) => sum + s, 0);
    const total = measured + configured;
    const parts = waits.map(([w, s]) => `${w} ${s} s`).join(" + ");
    console.log(
      `${name.padEnd(48)} measured ${measured.toFixed(1).padStart(5)} s + configured ${configured} s (${parts}) = ${total.toFixed(1)} s ${total <= GOAL_S ? "≤" : ">"} ${GOAL_S} s goal`,
    );
  }
  const q = quiet[0] as CaseResult;
  console.log(
    `\na change that opens nothing: ${quiet.every((r) => r.scans.calls === 1 && r.scans.addresses === 1) ? "every run" : "NOT every run"} one scanner call of ${q.scans.addresses} address × ${q.scans.portsPerAddress.join(", ")} ports, ${quiet.reduce((n, r) => n + r.alerts.length, 0)} alerts; handler ${fmt(quiet.map((r) => r.times.handler)).trim()} ms`,
  );
} finally {
  await pipeline.stop();
}
