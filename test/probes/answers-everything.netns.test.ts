import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ALLOW_INTERNAL } from "../../lib/net/address-policy.ts";
import { parsePortSpec } from "../../lib/ports/port-spec.ts";
import { DEFAULT_HOST_PROBE_BUDGET_MS, probeOpenPorts } from "../../lib/probes/probe-open-ports.ts";
import { scanTargets } from "../../lib/round/scan-stage.ts";
import { scanHosts } from "../../lib/scan/scanner.ts";
import { MemoryStateStore } from "../../lib/state/memory-state-store.ts";
import { freshLoopbackAddress, iptables, requirePrivateNetns } from "../support/netns.ts";
import { type Listening, startRawService } from "./support/fake-services.ts";

/**
 * A host that answers on every port (a SYN proxy or tarpit): iptables REDIRECTs every TCP
 * connection to the host to one listener that accepts and never says a word. With the default
 * probe settings (2 s steps), the round must report one finding and bound its probing.
 */
const SINK_PORT = 45999;

describe.runIf(requirePrivateNetns())("a host answering on every port", () => {
  const ip = freshLoopbackAddress();
  const rule = ["OUTPUT", "-d", ip, "-p", "tcp", "-j", "REDIRECT", "--to-ports", String(SINK_PORT)];
  let sink: Listening;

  beforeAll(async () => {
    sink = await startRawService({ ip: "127.0.0.1", port: SINK_PORT });
    iptables("-t", "nat", "-A", ...rule);
  });
  afterAll(async () => {
    iptables("-t", "nat", "-D", ...rule);
    await sink?.close();
  });

  it("yields one finding with the count, and probing ends within the documented bound", async () => {
    const ports = parsePortSpec("kubernetes");
    const store = new MemoryStateStore();
    let probeMs = 0;
    const started = performance.now();

    const out = await scanTargets(
      [{ ip }],
      {
        scan: scanHosts,
        // A loopback address of the private netns: as if named on the command line.
        addressPolicy: ALLOW_INTERNAL,
        probe: async (host, open, options) => {
          const t = performance.now();
          const results = await probeOpenPorts(host, open, options);
          probeMs = performance.now() - t;
          return results;
        },
        store,
      },
      { roundId: "r1", ports },
    );
    const totalMs = performance.now() - started;

    // The sink's accept queue overflows now and then (dropped SYNs): most ports, not all, answer.
    const open = out.results[0]?.open ?? [];
    expect(open.length).toBeGreaterThan(ports.size / 2);
    expect(out.newExposures).toHaveLength(1);
    expect(out.newExposures[0]).toMatchObject({
      ip,
      port: 0,
      portSpec: `${open[0]}-${open[open.length - 1]}`,
      service: "tarpit",
      severity: "medium",
    });
    expect(out.newExposures[0]?.evidence).toContain(
      `answers on ${open.length} of ${ports.size} scanned ports`,
    );
    // The documented bound: at most DEFAULT_HOST_PROBE_BUDGET_MS per host (15 s); a silent
    // tarpit stops after 8 silent probes (2 waves of 4 x 2 steps of 2 s = 8 s).
    expect(probeMs).toBeLessThan(DEFAULT_HOST_PROBE_BUDGET_MS + 1_000);
    console.log(
      `answers-everything host: ${ports.size} open, probing ${Math.round(probeMs)} ms, round ${Math.round(totalMs)} ms`,
    );
  }, 60_000);
});
