/**
 * One Scan Lambda invocation as the Distributed Map makes it: the real handler (functions/scan.ts)
 * with the real scanner and probes, state in memory (DynamoDB calls are counted, not made: the
 * cost table prices them). Run by fleet-bench.ts inside a netns and a Lambda-sized cgroup.
 * Usage: node fleet-batch.js '{"items":[...],"ports":"kubernetes","timeoutMs":600000,"out":"FILE"}'
 */
import { writeFileSync } from "node:fs";
import { makeScanHandler } from "../../functions/scan.ts";
import type { ExposureRecord } from "../../lib/findings/types.ts";
import { ALLOW_INTERNAL } from "../../lib/net/address-policy.ts";
import { parsePortSpec } from "../../lib/ports/port-spec.ts";
import { probeOpenPorts } from "../../lib/probes/probe-open-ports.ts";
import { scanHosts } from "../../lib/scan/scanner.ts";
import { parseTimingAnchor } from "../../lib/scan/timing-anchor-setting.ts";
import type { ScanResult } from "../../lib/scan/types.ts";
import { MemoryStateStore } from "../../lib/state/memory-state-store.ts";

const input = JSON.parse(process.argv[2] ?? "{}") as {
  items: unknown[];
  ports: string;
  timeoutMs: number;
  out: string;
  /** off, region-endpoint or HOST:PORT (a loopback listener in the bench netns). */
  timingAnchor?: string;
};
const calls = { loadIp: 0, saveRecords: 0, recordsWritten: 0 };
class CountingStore extends MemoryStateStore {
  override loadIp(ip: string): Promise<ExposureRecord[]> {
    calls.loadIp++;
    return super.loadIp(ip);
  }
  override saveRecords(records: readonly ExposureRecord[]): Promise<void> {
    calls.saveRecords++;
    calls.recordsWritten += records.length;
    return super.saveRecords(records);
  }
}
const store = new CountingStore();
let results: ScanResult[] = [];
const handler = makeScanHandler(() => ({
  scan: async (hosts, options) => {
    results = await scanHosts(hosts, options);
    return results;
  },
  probe: probeOpenPorts,
  store,
  ports: parsePortSpec(input.ports, "ports"),
  // The bench's nodes are loopback addresses in a private netns (the Lambda's opt-in, ALLOW_PRIVATE_TARGETS).
  addressPolicy: ALLOW_INTERNAL,
  timingAnchor: parseTimingAnchor(input.timingAnchor ?? "off", "timingAnchor"),
}));
const started = performance.now();
const cpu0 = process.cpuUsage();
const output = await handler(
  { Items: input.items, BatchInput: { roundId: "bench" } },
  { getRemainingTimeInMillis: () => input.timeoutMs - (performance.now() - started) },
);
const cpu = process.cpuUsage(cpu0);
writeFileSync(
  input.out,
  JSON.stringify({
    output,
    handlerMs: performance.now() - started,
    handlerCpuMs: (cpu.user + cpu.system) / 1000,
    calls,
    scans: results.map((r) => ({
      ip: r.ip,
      open: r.open,
      complete: r.complete,
      filtered: r.filtered,
      closed: r.closed,
    })),
  }),
);
process.exit(0);
