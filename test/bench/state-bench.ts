// npm run bench:state — the file state store at fleet size: one `portwarden run` round over 4,096
// targets with 3 open ports each (12,288 new findings, every one alerted), then a second round
// that finds the same. "before" is the old behaviour (one atomic rewrite of the whole file per
// target, measured on 1,024 targets: it grows quadratically); "after" stages the round's writes
// and writes once. Prints wall time, writes, bytes written, state file size and peak RSS.

import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConsoleNotifier } from "../../lib/alerts/console-notifier.ts";
import { ALLOW_INTERNAL } from "../../lib/net/address-policy.ts";
import { parsePortSpec } from "../../lib/ports/port-spec.ts";
import { runRound } from "../../lib/round/run-round.ts";
import { targetsFromHosts } from "../../lib/round/targets.ts";
import { FileStateStore } from "../../lib/state/file-state-store.ts";

const OPEN = [22, 10250, 30080];
const PORTS = parsePortSpec("kubernetes");

async function round(path: string, targets: number, stageWrites: boolean, minute: number) {
  const store = new FileStateStore({ path, stageWrites });
  const hosts = Array.from(
    { length: targets },
    (_, i) => `10.${Math.floor(i / 65536)}.${Math.floor(i / 256) % 256}.${i % 256}`,
  );
  let lines = 0;
  const started = process.hrtime.bigint();
  const report = await runRound(
    targetsFromHosts(hosts),
    {
      addressPolicy: ALLOW_INTERNAL,
      // A table of open ports: no packets are sent, what is measured is the state store.
      scan: async (ips) =>
        ips.map((ip) => ({
          target: ip,
          ip,
          open: OPEN,
          closed: 0,
          filtered: 0,
          complete: true,
          durationMs: 1,
        })),
      probe: async () => [],
      store,
      notifier: new ConsoleNotifier({ write: () => void lines++ }),
    },
    {
      ports: PORTS,
      now: () => new Date(Date.parse("2026-11-29T03:00:00Z") + minute * 60_000),
      baseline: false,
    },
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return {
    seconds,
    writes: store.writes,
    bytes: store.bytesWritten,
    size: (await stat(path)).size,
    newExposures: report.newExposures.length,
    published: report.alerts.published,
  };
}

const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;
const rows: string[] = [];
async function measure(label: string, targets: number, stageWrites: boolean) {
  const dir = await mkdtemp(join(tmpdir(), "portwarden-state-bench-"));
  const path = join(dir, "state.json");
  try {
    for (const [i, name] of ["first round", "second round"].entries()) {
      const r = await round(path, targets, stageWrites, i * 60);
      rows.push(
        `| ${label} | ${targets} | ${name} | ${r.seconds.toFixed(1)} s | ${r.writes} | ${mb(r.bytes)} | ${mb(r.size)} | ${r.newExposures} new, ${r.published} alerted |`,
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const beforeTargets = Number(process.env.BEFORE_TARGETS ?? 1024);
const afterTargets = Number(process.env.TARGETS ?? 4096);
await measure("after: one write per round", afterTargets, true);
const rssAfter = process.resourceUsage().maxRSS;
await measure("before: one write per target", beforeTargets, false);
console.log(
  [
    "| store | targets | round | time | writes | bytes written | state file | findings |",
    "|---|---|---|---|---|---|---|---|",
    ...rows,
    "",
    `peak RSS after the 'after' rounds: ${(rssAfter / 1024).toFixed(0)} MB`,
  ].join("\n"),
);
