import { readdirSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createConnector, type Probe, UV } from "../../lib/scan/connectors.ts";
import { requirePrivateNetns } from "../support/netns.ts";

// The tcp_wrap connector keeps refused sockets and connects them again (Linux allows a second
// connect() on a socket whose connect was refused). These tests pin the kernel and libuv behaviour
// that optimisation relies on, with real sockets on loopback inside the private test netns.
const V4 = "127.0.3.1";
const V6 = "::1";

function listen(host: string): Promise<{ server: Server; port: number }> {
  return new Promise((resolve, reject) => {
    const server = createServer((s) => s.destroy());
    server.once("error", reject);
    server.listen({ host, port: 0 }, () => {
      const address = server.address();
      if (address === null || typeof address === "string") throw new Error("no port");
      resolve({ server, port: address.port });
    });
  });
}

/** A port nothing listens on: bind one, close it. */
async function closedPort(host: string): Promise<number> {
  const { server, port } = await listen(host);
  await new Promise((r) => server.close(r));
  return port;
}

const openFds = () => readdirSync("/proc/self/fd").length;

describe.runIf(requirePrivateNetns())("tcp_wrap connector socket reuse", () => {
  const answers = new Map<Probe, (status: number) => void>();
  const connector = createConnector("tcp_wrap", (probe, status) => {
    probe.settled = true;
    answers.get(probe)?.(status);
  });
  let open4: { server: Server; port: number };
  let open6: { server: Server; port: number };
  let closed4: number;
  let closed6: number;

  beforeAll(async () => {
    open4 = await listen(V4);
    open6 = await listen(V6);
    closed4 = await closedPort(V4);
    closed6 = await closedPort(V6);
  });
  afterAll(() => {
    connector.trim();
    open4.server.close();
    open6.server.close();
  });

  function probe(ip: string, family: 4 | 6, port: number): { probe: Probe; status: Promise<number> } {
    const p: Probe = { hostIndex: 0, port, attempt: 0, startedAt: 0, settled: false, handle: undefined };
    const status = new Promise<number>((resolve) => answers.set(p, resolve));
    const err = connector.start(p, ip, family);
    if (err !== 0) throw new Error(`connect failed synchronously: ${err}`);
    return { probe: p, status };
  }

  it("is the connector in use here", () => {
    expect(connector.name).toBe("tcp_wrap");
  });

  it("connects a refused socket again, to a closed port and to an open one, with true answers", async () => {
    const first = probe(V4, 4, closed4);
    expect(await first.status).toBe(UV.ECONNREFUSED);
    const kept = first.probe.handle;
    connector.release(first.probe, 4);

    const second = probe(V4, 4, closed4);
    expect(second.probe.handle).toBe(kept);
    expect(await second.status).toBe(UV.ECONNREFUSED);
    connector.release(second.probe, 4);

    const third = probe(V4, 4, open4.port);
    expect(third.probe.handle).toBe(kept);
    expect(await third.status).toBe(0);
    expect(connector.localPort(third.probe)).toBeGreaterThan(0);
    connector.reset(third.probe);
  });

  it("keeps IPv4 and IPv6 sockets apart", async () => {
    const v4 = probe(V4, 4, closed4);
    expect(await v4.status).toBe(UV.ECONNREFUSED);
    connector.release(v4.probe, 4);

    const v6 = probe(V6, 6, open6.port);
    expect(v6.probe.handle).not.toBe(v4.probe.handle);
    expect(await v6.status).toBe(0);
    connector.reset(v6.probe);

    const v6closed = probe(V6, 6, closed6);
    expect(await v6closed.status).toBe(UV.ECONNREFUSED);
    const kept6 = v6closed.probe.handle;
    connector.release(v6closed.probe, 6);
    const again6 = probe(V6, 6, open6.port);
    expect(again6.probe.handle).toBe(kept6);
    expect(await again6.status).toBe(0);
    connector.reset(again6.probe);
    connector.trim();
  });

  it("holds at most 64 idle sockets, and trim() gives their descriptors back", async () => {
    connector.trim();
    await new Promise((r) => setTimeout(r, 20)); // closes complete on the next loop turn
    const before = openFds();
    const probes = Array.from({ length: 100 }, () => probe(V4, 4, closed4));
    for (const p of probes) expect(await p.status).toBe(UV.ECONNREFUSED);
    for (const p of probes) connector.release(p.probe, 4);
    await new Promise((r) => setTimeout(r, 20));
    expect(openFds() - before).toBe(64);
    connector.trim();
    await new Promise((r) => setTimeout(r, 20));
    expect(openFds()).toBe(before);
  });
});
