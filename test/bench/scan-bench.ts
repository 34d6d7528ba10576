/**
 * Scan benchmark: portwarden vs nmap -sT -T4 -n -Pn on the same testbeds, in one run.
 * Each measurement runs in a fresh network namespace (only lo) with `ulimit -n 1024`, Lambda's limit.
 * Options: --runs N (loss case, default 10), --only CASE, --slow-nmap (also run nmap on the
 * two-listener SG case, which took it 1,352 s here, and the silent-beside-answering case), --skip-nmap
 * (portwarden only, for quick iterations). `--only 2,4` runs the cases whose names start with 2 or 4.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { parseArgs } from "node:util";
import { dropAllSyn, dropSynExcept, dropSynRandomly } from "../scan/fixtures/iptables-rules.ts";

const HOST = "127.0.2.1";
// Code-split like a deployed CLI: `scan` loads its own chunk, not the AWS SDK of `run`/`inventory`.
const BUNDLE = process.env.PW_BENCH_BUNDLE ?? ".bench/cli/main.js";

interface Case {
  name: string;
  open: number[];
  /** iptables rules for the target (after `iptables -w`). */
  rules: (open: number[]) => string[][];
  runs: number;
  nmap: boolean;
  /** Hosts scanned beside HOST that drop every SYN (a well-secured node): exact = all filtered. */
  silent?: string[];
}

interface Measurement {
  tool: string;
  wallS: number;
  cpuS: number;
  rssMb: number;
  open: number[];
  exact: boolean;
}

const { values } = parseArgs({
  options: {
    runs: { type: "string" },
    only: { type: "string" },
    "slow-nmap": { type: "boolean" },
    "skip-nmap": { type: "boolean" },
  },
});
const lossRuns = Number(values.runs ?? 10);

const dropAllBut = (open: number[]) => dropSynExcept(HOST, open);
const CASES: Case[] = [
  { name: "1-rst", open: [22, 6443, 10250, 31337], rules: () => [], runs: 5, nmap: true },
  { name: "2-sg-drop", open: [22, 6443, 10250, 31337], rules: dropAllBut, runs: 1, nmap: true },
  {
    name: "2b-sg-drop-two-unlisted",
    open: [40123, 51234],
    rules: dropAllBut,
    runs: 1,
    nmap: Boolean(values["slow-nmap"]),
  },
  {
    name: "3-loss-8pct",
    open: [22, 2379, 6443, 10250, 10255, 30080, 31337],
    rules: () => dropSynRandomly(HOST, 0.08),
    runs: lossRuns,
    nmap: true,
  },
  {
    // Group timing: the silent host borrows the RTT its answering neighbour teaches (issue 13).
    name: "4-silent-beside-answering",
    open: [22, 6443, 10250, 31337],
    rules: () => dropAllSyn("127.0.2.2"),
    silent: ["127.0.2.2"],
    runs: 3,
    nmap: Boolean(values["slow-nmap"]),
  },
];

function shellQuote(args: string[]): string {
  return args.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
}

/** Runs `command` in a fresh netns with the testbed up; returns stdout and GNU time's figures. */
function measure(c: Case, command: string[]): { stdout: string; wallS: number; cpuS: number; rssMb: number } {
  const setup = [
    "set -e",
    "ip link set lo up",
    ...c.rules(c.open).map((r) => `iptables -w ${shellQuote(r)}`),
    "ready=$(mktemp)",
    `node test/bench/listeners.mjs ${HOST} ${c.open.join(" ")} > "$ready" &`,
    `until grep -q ready "$ready"; do sleep 0.05; done`,
    "ulimit -n 1024",
    "tf=$(mktemp)",
    `/usr/bin/time -f 'PWTIME %e %U %S %M' -o "$tf" ${shellQuote(command)} || true`,
    `cat "$tf" >&2; rm -f "$tf" "$ready"`,
    "kill %1",
  ].join("\n");
  const out = spawnSync("unshare", ["--net", "--", "bash", "-c", setup], {
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  const match = /PWTIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)/.exec(out.stderr);
  if (out.status !== 0 || !match) throw new Error(`benchmark run failed (${out.status}): ${out.stderr}`);
  return {
    stdout: out.stdout,
    wallS: Number(match[1]),
    cpuS: Number(match[2]) + Number(match[3]),
    rssMb: Number(match[4]) / 1024,
  };
}

function runPortwarden(c: Case, connector = "auto"): Measurement {
  const hosts = [HOST, ...(c.silent ?? [])];
  const m = measure(c, [
    "node",
    BUNDLE,
    "scan",
    ...hosts,
    "--ports",
    "all",
    "--json",
    "--connector",
    connector,
  ]);
  const doc = JSON.parse(m.stdout) as {
    scans: { ip: string; open: number[]; complete: boolean; filtered: number }[];
  };
  const open = doc.scans[0]?.open ?? [];
  const silentExact = (c.silent ?? []).every((ip) => {
    const scan = doc.scans.find((x) => x.ip === ip);
    return scan?.complete === true && scan.open.length === 0 && scan.filtered === 65535;
  });
  return {
    tool:
      connector === "auto" ? "portwarden" : `portwarden (${connector === "net" ? "net.Socket" : connector})`,
    wallS: m.wallS,
    cpuS: m.cpuS,
    rssMb: m.rssMb,
    open,
    exact: sameSet(open, c.open) && doc.scans[0]?.complete === true && silentExact,
  };
}

function runNmap(c: Case): Measurement {
  const m = measure(c, ["nmap", "-sT", "-T4", "-n", "-Pn", "-p-", "-oG", "-", HOST, ...(c.silent ?? [])]);
  const hostLine =
    m.stdout.split("\n").find((l) => l.startsWith(`Host: ${HOST} `) && l.includes("Ports:")) ?? "";
  const open = [...hostLine.matchAll(/(\d+)\/open\/tcp/g)].map((x) => Number(x[1])).sort((a, b) => a - b);
  return {
    tool: "nmap -sT -T4",
    wallS: m.wallS,
    cpuS: m.cpuS,
    rssMb: m.rssMb,
    open,
    exact: sameSet(open, c.open),
  };
}

function sameSet(a: number[], b: number[]): boolean {
  return (
    a.length === b.length &&
    [...a].sort((x, y) => x - y).every((v, i) => v === [...b].sort((x, y) => x - y)[i])
  );
}

const fmt = (n: number, d = 2) => n.toFixed(d);
const rows: string[] = [];
const header =
  "| case | tool | runs | wall s (median) | CPU s (median) | ports/s | peak RSS MB (max) | open set exact |";
rows.push(header, "|---|---|---|---|---|---|---|---|");
console.log(
  `node ${process.version}, nmap ${execFileSync("nmap", ["--version"], { encoding: "utf8" }).split("\n")[0]?.replace("Nmap version ", "")}, ${new Date().toISOString()}`,
);
for (const c of CASES) {
  if (values.only && !values.only.split(",").some((prefix) => c.name.startsWith(prefix))) continue;
  const tools: [string, (c: Case) => Measurement][] = [["portwarden", runPortwarden]];
  if (c.name === "1-rst") tools.push(["portwarden (net.Socket)", (x) => runPortwarden(x, "net")]);
  if (c.nmap && !values["skip-nmap"]) tools.push(["nmap", runNmap]);
  for (const [, run] of tools) {
    const ms: Measurement[] = [];
    for (let i = 0; i < c.runs; i++) {
      const m = run(c);
      ms.push(m);
      console.error(
        `  ${c.name} ${m.tool} run ${i + 1}/${c.runs}: ${fmt(m.wallS)} s wall, ${fmt(m.cpuS)} s CPU, ${fmt(m.rssMb, 0)} MB, open ${m.open.join(",")}${m.exact ? "" : "  <-- NOT the ground truth"}`,
      );
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
    const wall = median(ms.map((m) => m.wallS));
    const row = `| ${c.name} | ${ms[0]?.tool} | ${c.runs} | ${fmt(wall)} | ${fmt(median(ms.map((m) => m.cpuS)))} | ${Math.round((65535 * (1 + (c.silent?.length ?? 0))) / wall)} | ${fmt(Math.max(...ms.map((m) => m.rssMb)), 0)} | ${ms.filter((m) => m.exact).length}/${c.runs} |`;
    rows.push(row);
    console.log(row);
  }
}
console.log(`\n${rows.join("\n")}`);
