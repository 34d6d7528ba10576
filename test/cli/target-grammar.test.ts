import { createServer, type Server } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../lib/cli/main.ts";
import { MAX_TARGET_ADDRESSES, parseTargetList } from "../../lib/round/targets.ts";
import { requirePrivateNetns } from "../support/netns.ts";
import { capture } from "./support.ts";

const ips = (items: string[]) =>
  parseTargetList(items, { field: "HOST" }).map((t) => (t.kind === "ip" ? t.ip : `name:${t.name}`));

describe("the target grammar (scan HOST... and run --targets)", () => {
  it("expands a CIDR to every address, network and broadcast included, host bits ignored", () => {
    expect(ips(["127.0.0.1/30"])).toEqual(["127.0.0.0", "127.0.0.1", "127.0.0.2", "127.0.0.3"]);
    expect(ips(["::1/127"])).toEqual(["::", "::1"]);
  });

  it("takes addresses, [v6], names and comma lists, dropping duplicates in order", () => {
    expect(ips(["127.0.0.2,[::1]", "localhost", "127.0.0.2", "LOCALHOST"])).toEqual([
      "127.0.0.2",
      "::1",
      "name:localhost",
    ]);
  });

  it("accepts exactly the cap and refuses one address more, naming the field", () => {
    expect(ips(["10.0.0.0/20"])).toHaveLength(MAX_TARGET_ADDRESSES);
    expect(() => ips(["10.0.0.0/20", "10.0.16.0"])).toThrow(
      "HOST: more than 4,096 addresses in one run; split the list or use smaller CIDRs",
    );
    expect(() => ips(["10.0.0.0/8"])).toThrow(
      "HOST: '10.0.0.0/8' expands to 16,777,216 addresses, over the cap of 4,096 per run; scan smaller blocks",
    );
    expect(() => ips(["2001:db8::/32"])).toThrow(/expands to 2\^96 addresses, over the cap/);
  });

  it.each([
    [
      "127.0.0.1:10250",
      "is host:port; give the host alone and ports with --ports (e.g. 127.0.0.1 --ports 10250)",
    ],
    [
      "node.example.com:22",
      "is host:port; give the host alone and ports with --ports (e.g. node.example.com --ports 22)",
    ],
    ["[::1]:443", "is host:port; give the address alone and ports with --ports (e.g. --ports 443)"],
    ["10.0.0.1-10.0.0.9", "is an address range; ranges are not supported, write a CIDR (e.g. 10.0.0.0/29)"],
    ["10.0.0.1-9", "is an address range; ranges are not supported, write a CIDR (e.g. 10.0.0.0/29)"],
    ["fe80::1-fe80::9", "is an address range; ranges are not supported, write a CIDR (e.g. 10.0.0.0/29)"],
    ["10.0.0.0/33", "is not a CIDR (e.g. 127.0.0.0/30 or ::1/128)"],
    ["1.2.3", "is not an IP address (nor a host name: names are not all digits)"],
    ["node one", "is not an IP address, CIDR or host name"],
  ])("refuses %s with what to write instead", (item, why) => {
    expect(() => ips([item])).toThrow(`HOST: '${item}' ${why}`);
  });

  it("keeps dashes inside names (my-node-1.example.com is a name, not a range)", () => {
    expect(ips(["my-node-1.example.com"])).toEqual(["name:my-node-1.example.com"]);
  });

  it("gives scan and run the same refusal for the same item (exit 2, the field named)", async () => {
    const scan = capture();
    const run = capture();
    expect(await main(["scan", "127.0.0.1:80"], scan.io)).toBe(2);
    expect(await main(["run", "--targets", "127.0.0.1:80"], run.io)).toBe(2);
    expect(scan.err()).toBe(
      "portwarden scan: HOST: '127.0.0.1:80' is host:port; give the host alone and ports with --ports (e.g. 127.0.0.1 --ports 80)\n",
    );
    expect(run.err()).toBe(
      "portwarden run: --targets: '127.0.0.1:80' is host:port; give the host alone and ports with --ports (e.g. 127.0.0.1 --ports 80)\n",
    );
  });

  it("refuses an oversized CIDR in run before anything is scanned or stored", async () => {
    const c = capture();
    expect(await main(["run", "--targets", "127.0.0.0/16"], c.io)).toBe(2);
    expect(c.err()).toMatch(
      /^portwarden run: --targets: '127.0.0.0\/16' expands to 65,536 addresses, over the cap/,
    );
  });

  it("says which name does not resolve in run --targets", async () => {
    const c = capture();
    expect(await main(["run", "--targets", "no-such-host.invalid"], c.io)).toBe(2);
    expect(c.err()).toMatch(
      /^portwarden run: --targets: 'no-such-host.invalid' does not resolve \(cannot resolve/,
    );
  });
});

describe.runIf(requirePrivateNetns())("a CIDR scanned for real (private netns)", () => {
  // 127.77.0.0/30: one listener on .2, the other three addresses answer RST.
  const servers: Server[] = [];
  beforeAll(async () => {
    const server = createServer((s) => s.destroy());
    await new Promise<void>((resolve) => server.listen(18080, "127.77.0.2", resolve));
    servers.push(server);
  });
  afterAll(() => {
    for (const s of servers) s.close();
  });

  it("scan 127.77.0.0/30 scans all four addresses and finds the one listener", async () => {
    const c = capture();
    const code = await main(["scan", "127.77.0.0/30", "--ports", "18080", "--json"], c.io);
    const scans = JSON.parse(c.out()).scans as { ip: string; open: number[]; complete: boolean }[];
    expect(code).toBe(0);
    expect(scans.map((s) => [s.ip, s.open, s.complete])).toEqual([
      ["127.77.0.0", [], true],
      ["127.77.0.1", [], true],
      ["127.77.0.2", [18080], true],
      ["127.77.0.3", [], true],
    ]);
  });

  it("run --targets 127.77.0.0/30 makes one target per address and finds the exposure", async () => {
    const { mkdtemp } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const dir = await mkdtemp(join(tmpdir(), "pw-cidr-"));
    const c = capture();
    const code = await main(
      ["run", "--targets", "127.77.0.0/30", "--ports", "18080", "--state", join(dir, "s.json"), "--json"],
      c.io,
    );
    const report = JSON.parse(c.out());
    expect([code, report.round.targets]).toEqual([0, 4]);
    expect(report.exposures.map((e: { ip: string; port: number }) => `${e.ip}:${e.port}`)).toEqual([
      "127.77.0.2:18080",
    ]);
  });
});
