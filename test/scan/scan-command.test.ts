import { createServer, type Server } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CliIo } from "../../lib/cli/io.ts";
import { main } from "../../lib/cli/main.ts";
import { freshLoopbackAddress, requirePrivateNetns } from "../support/netns.ts";

function captureIo(): CliIo & { out: string; err: string } {
  const io = {
    out: "",
    err: "",
    interactive: false,
    stdout: (t: string) => {
      io.out += t;
    },
    stderr: (t: string) => {
      io.err += t;
    },
  };
  return io;
}

describe("portwarden scan: input errors", () => {
  it.each([
    [["scan", "127.0.0.1", "--ports", "70000"], /--ports: port 70000/],
    [["scan", "127.0.0.1", "--ports", "5-1"], /--ports: range '5-1'/],
    [["scan", "127.0.0.1", "--socket-budget", "5000"], /--socket-budget: 5000 is above 1000/],
    [["scan", "127.0.0.1", "--socket-budget", "abc"], /--socket-budget: 'abc' is not a positive integer/],
    [["scan", "127.0.0.1", "--max-seconds", "-1"], /--max-seconds/],
    [["scan"], /HOST: give at least one host/],
    [["scan", "127.0.0.1", "--bogus"], /--bogus: unknown flag --bogus; see portwarden scan --help/],
  ])("%j exits 2 naming the field", async (argv, message) => {
    const io = captureIo();
    expect(await main(argv, io)).toBe(2);
    expect(io.err).toMatch(message);
    expect(io.out).toBe("");
  });

  it("prints usage for an unknown command", async () => {
    const io = captureIo();
    expect(await main(["scna"], io)).toBe(2);
    expect(io.err).toMatch(/unknown command 'scna'/);
  });
});

describe.runIf(requirePrivateNetns())("portwarden scan: output", () => {
  const host = freshLoopbackAddress();
  const servers: Server[] = [];
  beforeAll(async () => {
    for (const port of [1000, 1022]) {
      const server = createServer((s) => s.destroy());
      await new Promise<void>((resolve) => server.listen(port, host, resolve));
      servers.push(server);
    }
  });
  afterAll(() => {
    for (const s of servers) s.close();
  });

  it("prints the JSON contract with open ports sorted and counts that add up", async () => {
    const io = captureIo();
    const code = await main(["scan", host, "--ports", "1022,900-1010", "--json"], io);
    const doc = JSON.parse(io.out) as { scans: Record<string, unknown>[] };
    expect(code).toBe(0);
    expect(doc.scans).toHaveLength(1);
    expect(doc.scans[0]).toMatchObject({
      target: host,
      ip: host,
      open: [1000, 1022],
      closed: 110,
      filtered: 0,
      complete: true,
    });
    expect(typeof doc.scans[0]?.durationMs).toBe("number");
  });

  it("prints a readable table with service names", async () => {
    const io = captureIo();
    await main(["scan", host, "--ports", "1000"], io);
    expect(io.out).toMatch(
      new RegExp(`^${host.replaceAll(".", "\\.")}: 1 open, 0 closed, 0 filtered, complete`),
    );
    expect(io.out).toMatch(/1000\s+unknown/);
  });

  it("exits 1 when a scan is incomplete", async () => {
    const io = captureIo();
    expect(await main(["scan", "no-such-host.invalid", "--ports", "22", "--json"], io)).toBe(1);
    expect(JSON.parse(io.out).scans[0]).toMatchObject({ complete: false });
  });
});
