/**
 * `npm run bench:fleet`: the real Scan handler (functions/scan.ts, bundled like the Lambda) under a
 * Lambda's cgroup limits (CPU share = memory / 1,769 MB of one core, memory limit, 1,024 fds), for
 * several batch sizes, memory sizes and node mixes, each batch in a fresh netns that has only `lo`
 * (nodes are 127.0.2.x: silent = drops every SYN; firewalled = SG-like DROP but 22,443,10250 listen;
 * open = no firewall, RST everywhere, 10250 and 31337 listen). Then the monthly cost table for
 * 100 / 1,000 / 10,000 nodes from the measured batch times. Root only.
 * Options: --quick (256/512 MB, batches 16/48 only), --memory 256,512 --batches 4,16,48,
 * --concurrency N (round duration; default 100, the construct's default), --mixes typical,silent,open
 * (default all three), --hourly-only (typical mix without the coverage-slice runs), --timing-anchor
 * on|off (default on: a loopback listener 127.0.9.1:443 inside each batch's netns stands for the
 * region's EC2 endpoint; never an AWS address). PW_FLEET_DRIVER=FILE runs another bundle of
 * fleet-batch.ts (an old build, for interleaved before/after runs).
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { coverageSlice } from "../../lib/coverage/coverage.ts";
import { dropAllSyn, dropSynExcept } from "../scan/fixtures/iptables-rules.ts";
import { type FleetPricing, monthlyCost, PRICES, roundMinutes } from "./fleet-cost.ts";

const { values } = parseArgs({
  options: {
    quick: { type: "boolean" },
    memory: { type: "string" },
    batches: { type: "string" },
    concurrency: { type: "string" },
    mixes: { type: "string" },
    "hourly-only": { type: "boolean" },
    "timing-anchor": { type: "string" },
  },
});
const MEMORY = (values.memory ?? (values.quick ? "256,512" : "256,512,1024")).split(",").map(Number);
const BATCHES = (values.batches ?? (values.quick ? "16,48" : "4,16,48")).split(",").map(Number);
const DRIVER = process.env.PW_FLEET_DRIVER ?? ".bench/fleet/fleet-batch.js";
const MIX_NAMES = (values.mixes ?? "typical,silent,open").split(",");
const COVERAGE = values["hourly-only"] ? [false] : [false, true];
const ANCHOR_ON = (values["timing-anchor"] ?? "on") === "on";
/** The timing anchor of every batch: a listener in the batch's own netns (only `lo` there). */
const ANCHOR = "127.0.9.1:443";
const TIMEOUT_MS = 600_000;
const SLICES = 24;

type Role = "silent" | "firewalled" | "open";
interface Mix {
  name: string;
  roles: (size: number) => Role[];
}
/** A typical fleet: most nodes drop everything, some publish a few ports, some have no host firewall. */
const TYPICAL: Mix = {
  name: "typical (50% silent, 25% firewalled, 25% open)",
  roles: (n) =>
    Array.from({ length: n }, (_, i) => (i % 4 < 2 ? "silent" : i % 4 === 2 ? "firewalled" : "open")),
};
const OTHER_MIXES: Record<string, Mix> = {
  silent: { name: "all silent", roles: (n) => new Array<Role>(n).fill("silent") },
  open: { name: "all open", roles: (n) => new Array<Role>(n).fill("open") },
};
const OPEN_LISTENERS: Record<Role, number[]> = {
  silent: [],
  firewalled: [22, 443, 10250],
  open: [10250, 31337],
};
/** What the node's security group opens to the world (scanned every round on top of the profile). */
const SG_OPEN: Record<Role, string> = {
  silent: "",
  firewalled: "22,443,10250",
  open: "22,443,10250,30000-32767",
};

interface BatchRun {
  mix: string;
  memoryMb: number;
  batch: number;
  coverage: boolean;
  wallS: number;
  cpuS: number;
  rssMb: number;
  handlerS: number;
  exact: boolean;
  complete: boolean;
  loads: number;
}

function shellQuote(args: string[]): string {
  return args.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
}

function makeCgroup(memoryMb: number): { name: string; remove: () => void } {
  const name = `portwarden-fleet-${process.pid}-${memoryMb}`;
  const cpu = `/sys/fs/cgroup/cpu/${name}`;
  const mem = `/sys/fs/cgroup/memory/${name}`;
  mkdirSync(cpu);
  mkdirSync(mem);
  writeFileSync(`${cpu}/cpu.cfs_period_us`, "100000");
  writeFileSync(`${cpu}/cpu.cfs_quota_us`, String(Math.round((100_000 * memoryMb) / 1769)));
  writeFileSync(`${mem}/memory.limit_in_bytes`, String(memoryMb * 1024 * 1024));
  return {
    name,
    remove: () => {
      for (const dir of [cpu, mem])
        try {
          rmdirSync(dir);
        } catch {
          // still draining: the kernel removes an empty group later
        }
    },
  };
}

function runBatch(mix: Mix, memoryMb: number, cgroup: string, batch: number, coverage: boolean): BatchRun {
  const roles = mix.roles(batch);
  const ips = roles.map((_, i) => `127.0.2.${i + 1}`);
  const rules = roles.flatMap((role, i) => {
    const ip = ips[i] as string;
    if (role === "silent") return dropAllSyn(ip);
    if (role === "firewalled") return dropSynExcept(ip, OPEN_LISTENERS.firewalled);
    return [];
  });
  const pairs = [ANCHOR, ...roles.flatMap((role, i) => OPEN_LISTENERS[role].map((p) => `${ips[i]}:${p}`))];
  const slice = coverageSlice(0, SLICES).toSpec();
  const items = roles.map((role, i) => ({
    ip: ips[i],
    account: "111122223333",
    region: "eu-west-1",
    cluster: "bench",
    instanceId: `i-${i}`,
    internetAllowed: SG_OPEN[role],
    ...(coverage ? { coveragePorts: slice } : {}),
  }));
  const dir = mkdtempSync(join(tmpdir(), "pw-fleet-"));
  const out = join(dir, "out.json");
  const arg = JSON.stringify({
    items,
    ports: "kubernetes",
    timeoutMs: TIMEOUT_MS,
    out,
    timingAnchor: ANCHOR_ON ? ANCHOR : "off",
  });
  const setup = [
    "set -e",
    "ip link set lo up",
    ...rules.map((r) => `iptables -w ${shellQuote(r)}`),
    "ready=$(mktemp)",
    `node test/bench/listeners.mjs --pairs ${pairs.join(" ")} > "$ready" &`,
    `for i in $(seq 400); do grep -q ready "$ready" && break; sleep 0.05; done; grep -q ready "$ready"`,
    "ulimit -n 1024",
    `echo $BASHPID > /sys/fs/cgroup/cpu/${cgroup}/tasks`,
    `echo $BASHPID > /sys/fs/cgroup/memory/${cgroup}/tasks`,
    "tf=$(mktemp)",
    `/usr/bin/time -f 'PWTIME %e %U %S %M' -o "$tf" node ${DRIVER} ${shellQuote([arg])} > /dev/null || true`,
    `cat "$tf" >&2; rm -f "$tf" "$ready"`,
    "kill %1",
  ].join("\n");
  const run = spawnSync("unshare", ["--net", "--", "bash", "-c", setup], { encoding: "utf8" });
  const match = /PWTIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)/.exec(run.stderr);
  if (run.status !== 0 || !match) throw new Error(`batch failed (${run.status}): ${run.stderr}`);
  const doc = JSON.parse(readFileSync(out, "utf8")) as {
    handlerMs: number;
    calls: { loadIp: number };
    scans: { ip: string; open: number[]; complete: boolean }[];
  };
  const exact = roles.every((role, i) => {
    const scan = doc.scans.find((s) => s.ip === ips[i]);
    return scan !== undefined && scan.open.join(",") === OPEN_LISTENERS[role].join(",");
  });
  return {
    mix: mix.name,
    memoryMb,
    batch,
    coverage,
    wallS: Number(match[1]),
    cpuS: Number(match[2]) + Number(match[3]),
    rssMb: Number(match[4]) / 1024,
    handlerS: doc.handlerMs / 1000,
    exact,
    complete: doc.scans.length === batch && doc.scans.every((s) => s.complete),
    loads: doc.calls.loadIp,
  };
}

const fmt = (n: number, d = 2) => n.toFixed(d);
const runs: BatchRun[] = [];
console.log(
  `node ${process.version}, ${new Date().toISOString()}, Lambda cgroup limits, fds 1024, driver ${DRIVER}, timing anchor ${ANCHOR_ON ? ANCHOR : "off"}`,
);
console.log(
  "| mix | memory MB | batch | ports | process wall s | CPU s | handler s (billed, warm) | peak RSS MB | exact + complete | handler s per node |",
);
console.log("|---|---|---|---|---|---|---|---|---|---|");
const report = (r: BatchRun) =>
  console.log(
    `| ${r.mix} | ${r.memoryMb} | ${r.batch} | ${r.coverage ? `kubernetes + SG + 1/${SLICES} slice` : "kubernetes + SG"} | ${fmt(r.wallS)} | ${fmt(r.cpuS)} | ${fmt(r.handlerS)} | ${fmt(r.rssMb, 0)} | ${r.exact && r.complete ? "yes" : "NO"} | ${fmt(r.handlerS / r.batch, 3)} |`,
  );
for (const memoryMb of MEMORY) {
  const cgroup = makeCgroup(memoryMb);
  try {
    for (const batch of MIX_NAMES.includes("typical") ? BATCHES : [])
      for (const coverage of COVERAGE) {
        const r = runBatch(TYPICAL, memoryMb, cgroup.name, batch, coverage);
        runs.push(r);
        report(r);
      }
    if (memoryMb === MEMORY[0]) {
      const largest = Math.max(...BATCHES);
      for (const mix of MIX_NAMES.flatMap((name) => OTHER_MIXES[name] ?? []))
        for (const coverage of COVERAGE) {
          const r = runBatch(mix, memoryMb, cgroup.name, largest, coverage);
          runs.push(r);
          report(r);
        }
    }
  } finally {
    cgroup.remove();
  }
}

// --- the cost table, from the typical mix ---
const typical = runs.filter((r) => r.mix === TYPICAL.name);
const options = typical
  .filter((r) => !r.coverage)
  .map((r) => {
    const withSlice = typical.find((c) => c.coverage && c.memoryMb === r.memoryMb && c.batch === r.batch);
    return { hourly: r, withSlice };
  });
/** The construct's default maxConcurrency (infra/portwarden-props.ts). */
const CONCURRENCY = Number(values.concurrency ?? 100);

/** Monthly cost of hourly rounds from one batch run, and what the coverage slice's run adds. */
function costWithSlice(hourly: BatchRun, withSlice: BatchRun | undefined, nodes: number, express: boolean) {
  const pricing: FleetPricing = {
    nodes,
    batch: hourly.batch,
    memoryMb: hourly.memoryMb,
    batchSeconds: hourly.handlerS,
    initSeconds: hourly.wallS - hourly.handlerS,
    concurrency: CONCURRENCY,
    expressChildren: express,
  };
  const cost = monthlyCost(pricing);
  const slice = withSlice
    ? monthlyCost({ ...pricing, batchSeconds: withSlice.handlerS }).total - cost.total
    : Number.NaN;
  return { cost, slice };
}
console.log(
  `\nMonthly cost (us-east-1 list prices, ${PRICES.roundsPerMonth} hourly rounds, concurrency ${CONCURRENCY}):`,
);
console.log(
  "| memory MB | batch | children | nodes | Lambda | Step Functions | DynamoDB | SNS + KMS | CloudWatch + S3 | total / month | + daily full range | round min |",
);
console.log("|---|---|---|---|---|---|---|---|---|---|---|---|");
let best: { cost: number; memoryMb: number; batch: number; express: boolean } | undefined;
for (const { hourly, withSlice } of options) {
  for (const express of [false, true]) {
    if (express && hourly.wallS > 240) continue; // Express children stop at 5 minutes: keep a margin
    for (const nodes of [100, 1000, 10_000]) {
      const { cost, slice } = costWithSlice(hourly, withSlice, nodes, express);
      // The slice rounds are the longest: the round must fit with them.
      const minutes = roundMinutes(
        nodes,
        hourly.batch,
        CONCURRENCY,
        Math.max(hourly.handlerS, withSlice?.handlerS ?? 0),
        hourly.wallS - hourly.handlerS,
      );
      console.log(
        `| ${hourly.memoryMb} | ${hourly.batch} | ${express ? "Express" : "Standard"} | ${nodes.toLocaleString("en-US")} | $${fmt(cost.lambda)} | $${fmt(cost.stepFunctions)} | $${fmt(cost.dynamodb)} | $${fmt(cost.snsKms)} | $${fmt(cost.cloudwatch)} | **$${fmt(cost.total)}** | $${fmt(slice)} | ${fmt(minutes, 1)} |`,
      );
      if (nodes === 10_000 && minutes <= 15 && (!best || cost.total < best.cost))
        best = { cost: cost.total, memoryMb: hourly.memoryMb, batch: hourly.batch, express };
    }
  }
}
const others = runs.filter((r) => r.mix !== TYPICAL.name && !r.coverage);
if (others.length > 0) {
  console.log("\nWhole fleet of one mix (hourly, Standard children, 10,000 nodes):");
  console.log("| mix | memory MB | batch | handler s | Lambda | total / month | + daily full range |");
  console.log("|---|---|---|---|---|---|---|");
  for (const r of others) {
    const withSlice = runs.find((c) => c.coverage && c.mix === r.mix && c.memoryMb === r.memoryMb);
    const { cost, slice } = costWithSlice(r, withSlice, 10_000, false);
    console.log(
      `| ${r.mix} | ${r.memoryMb} | ${r.batch} | ${fmt(r.handlerS)} | $${fmt(cost.lambda)} | **$${fmt(cost.total)}** | +$${fmt(slice)} |`,
    );
  }
}
if (best)
  console.log(
    `\nCheapest at 10,000 nodes with a round <= 15 min: ${best.memoryMb} MB, batch ${best.batch}, ${best.express ? "Express" : "Standard"} children: $${fmt(best.cost)}/month`,
  );
const bad = runs.filter((r) => !r.exact || !r.complete);
if (bad.length > 0) {
  console.log(`\n${bad.length} batch(es) NOT exact and complete: the figures above are not valid`);
  process.exitCode = 1;
}
