import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { InputError } from "../../lib/errors/errors.ts";
import { probeOpenPorts } from "../../lib/probes/probe-open-ports.ts";
import { freshLoopbackAddress, requirePrivateNetns } from "../support/netns.ts";
import { type Listening, startRawService } from "./support/fake-services.ts";
import { makeSelfSigned } from "./support/tls-material.ts";

const TIMEOUT_MS = 300;
// A port's probe ends within 6 step timeouts; allow scheduling slack on a busy 2-core machine.
const PORT_BOUND_MS = 6 * TIMEOUT_MS + 500;

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; elapsedMs: number }> {
  const started = performance.now();
  const value = await fn();
  return { value, elapsedMs: performance.now() - started };
}

describe.runIf(requirePrivateNetns())("probe timeouts against hostile services", () => {
  let cert: { cert: string; key: string };
  let running: Listening[] = [];

  beforeAll(() => {
    cert = makeSelfSigned("hostile.test", "127.0.0.1");
  });

  afterEach(async () => {
    await Promise.all(running.map((service) => service.close()));
    running = [];
  });

  it("gives up on a kubelet port that trickles response headers forever", async () => {
    const ip = freshLoopbackAddress();
    running.push(
      await startRawService({
        ip,
        port: 10250,
        tls: cert,
        greeting: "HTTP/1.1 200 OK\r\nX-Slow: ",
        trickleEveryMs: 20,
      }),
    );

    const { value, elapsedMs } = await timed(() => probeOpenPorts(ip, [10250], { timeoutMs: TIMEOUT_MS }));

    expect(value[0]).toMatchObject({
      port: 10250,
      service: "unknown",
      verdict: "no-answer",
      evidence: "could not tell what answers: GET /pods: no answer within 300 ms",
    });
    expect(value[0]?.severity).toBeUndefined();
    expect(elapsedMs).toBeLessThan(PORT_BOUND_MS);
  });

  it("gives up on a kubelet port that accepts TCP but never answers the TLS handshake", async () => {
    const ip = freshLoopbackAddress();
    running.push(await startRawService({ ip, port: 10250 }));

    const { value, elapsedMs } = await timed(() => probeOpenPorts(ip, [10250], { timeoutMs: TIMEOUT_MS }));

    // Silence to a ClientHello is not proof of plain text: one plain try follows, then it gives up.
    expect(value[0]).toMatchObject({
      port: 10250,
      service: "unknown",
      verdict: "no-answer",
      evidence: "could not tell what answers: GET /pods: no answer within 300 ms",
    });
    expect(value[0]?.severity).toBeUndefined();
    expect(elapsedMs).toBeLessThan(2 * TIMEOUT_MS + 400);
  });

  it("reports a silent unknown port as no-answer within the bound", async () => {
    const ip = freshLoopbackAddress();
    running.push(await startRawService({ ip, port: 40000 }));

    const { value, elapsedMs } = await timed(() => probeOpenPorts(ip, [40000], { timeoutMs: TIMEOUT_MS }));

    expect(value[0]).toMatchObject({ port: 40000, verdict: "no-answer", service: "unknown" });
    expect(elapsedMs).toBeLessThan(PORT_BOUND_MS);
  });

  it("stops reading a banner that trickles bytes without a newline forever", async () => {
    const ip = freshLoopbackAddress();
    running.push(await startRawService({ ip, port: 40001, trickleEveryMs: 10 }));

    const { value, elapsedMs } = await timed(() => probeOpenPorts(ip, [40001], { timeoutMs: TIMEOUT_MS }));

    expect(value[0]?.evidence).toMatch(/^banner "x+"$/);
    expect(elapsedMs).toBeLessThan(PORT_BOUND_MS);
  });

  it("cuts the HTTP body of a trickling NodePort at its time limit and still fingerprints it", async () => {
    const ip = freshLoopbackAddress();
    const headers =
      "HTTP/1.1 200 OK\r\nServer: slowpoke\r\nContent-Length: 1000000\r\n\r\n<title>slow</title>";
    running.push(
      await startRawService({
        ip,
        port: 30080,
        greeting: headers,
        trickleEveryMs: 10,
        speakWhenSpokenTo: true,
      }),
    );

    const { value, elapsedMs } = await timed(() => probeOpenPorts(ip, [30080], { timeoutMs: TIMEOUT_MS }));

    expect(value[0]).toMatchObject({
      port: 30080,
      verdict: "fingerprint",
      evidence: 'HTTP GET / answered 200, Server: slowpoke, title "slow"',
    });
    expect(elapsedMs).toBeLessThan(PORT_BOUND_MS);
  });

  it("returns every port by the caller's deadline even with long step timeouts", async () => {
    const ip = freshLoopbackAddress();
    const ports = [10250, 2379, 6443, 40002];
    for (const port of ports)
      running.push(await startRawService({ ip, port, tls: cert, trickleEveryMs: 50 }));
    const deadline = Date.now() + 700;

    const { value, elapsedMs } = await timed(() =>
      probeOpenPorts(ip, ports, { timeoutMs: 10_000, concurrency: 2, deadline }),
    );

    expect(value.map((r) => r.port)).toEqual([2379, 6443, 10250, 40002]);
    expect(elapsedMs).toBeLessThan(700 + 400);
  });

  it("marks ports it had no time left for as not probed", async () => {
    const ip = freshLoopbackAddress();

    const results = await probeOpenPorts(ip, [22, 80], { deadline: Date.now() - 1 });

    expect(results).toMatchObject([
      {
        port: 22,
        service: "unknown",
        verdict: "error",
        evidence: "not probed: no probe time left this round",
      },
      {
        port: 80,
        service: "unknown",
        verdict: "error",
        evidence: "not probed: no probe time left this round",
      },
    ]);
    expect(results.map((r) => [r.expected?.service, r.severity])).toEqual([
      ["ssh", undefined],
      ["http", undefined],
    ]);
  });
});

describe("probeOpenPorts input errors", () => {
  it("rejects an address that is not an IP, naming the field and value", async () => {
    const probing = probeOpenPorts("node-1.example", [22]);

    await expect(probing).rejects.toBeInstanceOf(InputError);
    await expect(probing).rejects.toThrow("ip: 'node-1.example' is not an IPv4 or IPv6 address");
  });

  it("rejects a zero timeout, naming the field and value", async () => {
    await expect(probeOpenPorts("127.0.0.1", [22], { timeoutMs: 0 })).rejects.toThrow(
      "timeoutMs: must be a positive integer, got 0",
    );
  });

  it("rejects a fractional concurrency, naming the field and value", async () => {
    await expect(probeOpenPorts("127.0.0.1", [22], { concurrency: 1.5 })).rejects.toThrow(
      "concurrency: must be a positive integer, got 1.5",
    );
  });

  it("reports an impossible port number as an error result instead of throwing", async () => {
    const results = await probeOpenPorts("127.0.0.1", [70000]);

    expect(results).toEqual([
      { port: 70000, service: "unknown", verdict: "error", evidence: "not a TCP port: 70000" },
    ]);
  });
});
