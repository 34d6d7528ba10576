import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { measureAnchor } from "../../lib/scan/timing-anchor.ts";
import { requirePrivateNetns } from "../support/netns.ts";
import { dropAllSyn, dropSynExcept, dropSynRandomly } from "./fixtures/iptables-rules.ts";
import { runScenario } from "./fixtures/run-scenario.ts";

// Each scenario runs in a fresh namespace that has only lo: the anchor is a loopback listener in
// it, never an AWS endpoint. It sits in its own /24 so it is nobody's neighbour.
const ANCHOR = { host: "127.0.9.1", port: 443 };
const ANCHOR_LISTENER = [ANCHOR];

describe.runIf(requirePrivateNetns())("timing anchor against real sockets", () => {
  // Two nodes that drop every SYN, 500 ports each, 100 sockets: without an anchor every probe waits
  // the 500 ms initial timeout, 2 passes x 10 waves x 500 ms = 10 s at least. With the anchor they
  // borrow its RTT (floor 50 ms): ~1 s, plus the 5 catalogue ports that keep 500 ms.
  it("an all-silent batch borrows the anchor's RTT: much faster, and the same result as without it", async () => {
    const silent = ["127.0.2.1", "127.0.2.2"];
    const base = {
      listeners: ANCHOR_LISTENER,
      iptables: silent.flatMap((ip) => dropAllSyn(ip)),
      targets: silent,
      ports: "1-500",
      tuning: { socketBudget: 100 },
    };
    const [anchored, unanswered, unresolved] = await Promise.all([
      runScenario({ ...base, timingAnchor: ANCHOR }),
      // The anchor drops SYNs too, or its name does not resolve: today's behaviour.
      runScenario({
        ...base,
        iptables: [...base.iptables, ...dropAllSyn(ANCHOR.host)],
        timingAnchor: ANCHOR,
      }),
      runScenario({ ...base, timingAnchor: { host: "anchor.invalid", port: 443 } }),
    ]);
    const verdicts = (r: typeof anchored) =>
      r.results.map((s) => [s.ip, s.open, s.closed, s.filtered, s.complete]);
    const expected = silent.map((ip) => [ip, [], 0, 500, true]);
    expect(verdicts(anchored)).toEqual(expected);
    expect(verdicts(unanswered)).toEqual(expected);
    expect(verdicts(unresolved)).toEqual(expected);
    // Lower bounds are exact (a timeout cannot fire early); the anchored bound has a wide margin.
    expect(unanswered.wallMs).toBeGreaterThan(9000);
    expect(unresolved.wallMs).toBeGreaterThan(9000);
    expect(anchored.wallMs).toBeLessThan(5000);
    expect(anchored.wallMs * 2).toBeLessThan(unanswered.wallMs);
  }, 120_000);

  // The critical case for a borrowed timeout: a node that answers only on a port outside the
  // catalogue (no sentinel port teaches its RTT), with 8% of all SYNs lost, the anchor's too. A
  // lone listener on a silent host gets the minimum retry passes with or without an anchor (the
  // pass count does not depend on the timeout; 2 passes miss it with p = 0.08^2), so the test asks
  // for 4 passes: what it checks is that the shorter timeout itself loses nothing.
  it("finds the listener of a silent node outside the catalogue under 8% SYN loss", async () => {
    const hosts = { silent: "127.0.2.1", oneListener: "127.0.2.2", otherSubnet: "127.0.3.1" };
    const { results } = await runScenario({
      listeners: [
        ...ANCHOR_LISTENER,
        { host: hosts.oneListener, port: 40123 },
        { host: hosts.otherSubnet, port: 51234 },
      ],
      iptables: [
        ...[hosts.silent, hosts.oneListener, hosts.otherSubnet, ANCHOR.host].flatMap((ip) =>
          dropSynRandomly(ip, 0.08),
        ),
        ...dropAllSyn(hosts.silent),
        ...dropSynExcept(hosts.oneListener, [40123]),
        ...dropSynExcept(hosts.otherSubnet, [51234]),
      ],
      targets: Object.values(hosts),
      ports: "kubernetes,40000-40200,51200-51300",
      tuning: { minRetries: 3 },
      timingAnchor: ANCHOR,
    });
    const size = 2799 + 201 + 101;
    expect(results.map((r) => [r.ip, r.open, r.filtered, r.complete])).toEqual([
      [hosts.silent, [], size, true],
      [hosts.oneListener, [40123], size - 1, true],
      [hosts.otherSubnet, [51234], size - 1, true],
    ]);
  }, 120_000);

  it("measures handshakes to a listening anchor and nothing from a silent one", async () => {
    const server = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    try {
      const samples: number[] = [];
      const n = await measureAnchor(
        { host: "127.0.0.1", port },
        { timeoutMs: 500, onSample: (r) => samples.push(r) },
      );
      expect(n).toBe(5);
      expect(samples).toHaveLength(5);
      for (const rtt of samples) expect(rtt).toBeLessThan(500);
      // A refused connect is an answer too (the scanner times RSTs the same way).
      server.close();
      const refused = await measureAnchor(
        { host: "127.0.0.1", port },
        { timeoutMs: 500, onSample: () => {} },
      );
      expect(refused).toBe(5);
      const unresolved = await measureAnchor(
        { host: "anchor.invalid", port },
        { timeoutMs: 500, onSample: () => {} },
      );
      expect(unresolved).toBe(0);
      // Never the metadata service, whatever a name resolves to.
      const forbidden = await measureAnchor(
        { host: "169.254.169.254", port: 80 },
        { timeoutMs: 500, onSample: () => {} },
      );
      expect(forbidden).toBe(0);
    } finally {
      server.close();
    }
  });
});
