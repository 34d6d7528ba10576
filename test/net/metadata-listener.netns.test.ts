import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../lib/cli/main.ts";
import type { Inventory } from "../../lib/discovery/types.ts";
import { ALLOW_INTERNAL } from "../../lib/net/address-policy.ts";
import { PortSet } from "../../lib/ports/port-set.ts";
import { parsePortSpec } from "../../lib/ports/port-spec.ts";
import { probeOpenPorts } from "../../lib/probes/probe-open-ports.ts";
import { scanHosts } from "../../lib/scan/scanner.ts";
import { freshLoopbackAddress, requirePrivateNetns } from "../support/netns.ts";

// The instance metadata service, for real: 169.254.169.254 (and fd00:ec2::254 when the netns has
// IPv6) on `lo` of the private test netns, with a listener that counts every connection. No path
// (inventory, --targets, a DNS name, the scan command, the scanner and the probes called directly)
// may reach it. A loopback node beside it, scanned in the same runs, is the control: it must see
// the connections the forbidden listeners must not.

const PORT = 31999;
const METADATA = "169.254.169.254";
const METADATA_V6 = "fd00:ec2::254";
const NAME = "metadata.portwarden.test";

function ip(...args: string[]): boolean {
  try {
    execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
    return true;
  } catch {
    return false;
  }
}

interface Counted {
  server: Server;
  address: string;
  connections: number;
}

async function countingListener(address: string): Promise<Counted | undefined> {
  const counted: Counted = { server: createServer(), address, connections: 0 };
  counted.server.on("connection", (socket) => {
    counted.connections++;
    socket.destroy();
  });
  return new Promise((resolve) => {
    counted.server.once("error", () => resolve(undefined));
    counted.server.listen(PORT, address, () => resolve(counted));
  });
}

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { stdout: (t: string) => out.push(t), stderr: (t: string) => err.push(t), interactive: false },
    out: () => out.join(""),
    err: () => err.join(""),
  };
}

describe.runIf(requirePrivateNetns())("nothing connects to the metadata service (private netns)", () => {
  const dir = mkdtempSync(join(tmpdir(), "portwarden-metadata-"));
  const node = freshLoopbackAddress();
  const forbidden: Counted[] = [];
  let control: Counted;
  let v6 = false;

  beforeAll(async () => {
    // Prepare: the metadata addresses on lo, listeners on them, on 127.0.0.1 (what 0.0.0.0 and
    // ::ffff:127.0.0.1 would reach) and on ::1 (what :: would reach), and the control node.
    expect(ip("addr", "add", `${METADATA}/32`, "dev", "lo")).toBe(true);
    v6 = ip("-6", "addr", "add", `${METADATA_V6}/128`, "dev", "lo", "nodad");
    for (const address of [METADATA, "127.0.0.1", ...(v6 ? [METADATA_V6, "::1"] : [])]) {
      const listener = await countingListener(address);
      if (listener) forbidden.push(listener);
    }
    expect(forbidden.map((l) => l.address)).toContain(METADATA);
    control = (await countingListener(node)) as Counted;
    expect(control).toBeDefined();
  });

  afterAll(async () => {
    for (const l of [...forbidden, control]) await new Promise((r) => l?.server.close(r));
    ip("addr", "del", `${METADATA}/32`, "dev", "lo");
    if (v6) ip("-6", "addr", "del", `${METADATA_V6}/128`, "dev", "lo");
    rmSync(dir, { recursive: true, force: true });
  });

  const forbiddenConnections = () => forbidden.map((l) => `${l.address}:${l.connections}`);
  const none = () => forbidden.map((l) => `${l.address}:0`);

  it("the listener is reachable at all (the control for this whole suite)", async () => {
    // A raw connect, not portwarden: proves the address is up and the count works.
    const { connect } = await import("node:net");
    const metadata = forbidden.find((l) => l.address === METADATA) as Counted;
    await new Promise<void>((resolve, reject) =>
      connect(PORT, METADATA)
        .once("connect", function (this: import("node:net").Socket) {
          this.destroy();
          resolve();
        })
        .once("error", reject),
    );
    await new Promise((r) => setTimeout(r, 50));
    expect(metadata.connections).toBe(1);
    metadata.connections = 0;
  });

  it("run --inventory: nodes on 169.254.169.254, 0.0.0.0, ::ffff:169.254.169.254, ::ffff:127.0.0.1 and fd00:ec2::254 fail with one line each, even with --allow-private; the other node is scanned", async () => {
    const hostile = [METADATA, "0.0.0.0", "::ffff:169.254.169.254", "::ffff:127.0.0.1", METADATA_V6, "::"];
    const inventory: Inventory = {
      clusters: [
        {
          account: "111122223333",
          region: "us-east-1",
          name: "prod",
          kind: "self-managed",
          nodes: [
            ...hostile.map((address, i) => ({
              instanceId: `i-${i}`,
              publicIps: [address],
              internetAllowed: PortSet.fromPorts([PORT]),
            })),
            { instanceId: "i-ok", publicIps: [node], internetAllowed: PortSet.fromPorts([PORT]) },
          ],
        },
      ],
      errors: [],
    };
    const path = join(dir, "inventory.json");
    writeFileSync(path, JSON.stringify(inventory));
    const c = capture();

    const code = await main(
      [
        "run",
        "--inventory",
        path,
        "--allow-private",
        "--ports",
        String(PORT),
        "--state",
        join(dir, "state.json"),
        "--json",
      ],
      c.io,
    );

    const report = JSON.parse(c.out());
    expect(code).toBe(1);
    expect(report.newExposures.map((f: { ip: string }) => f.ip)).toEqual([node]);
    expect(report.failedTargets.map((f: { ip: string }) => f.ip).sort()).toEqual([...hostile].sort());
    expect(report.failedTargets.find((f: { ip: string }) => f.ip === METADATA).error).toBe(
      "169.254.169.254 is link-local (instance metadata service): never scanned",
    );
    for (const failure of report.failedTargets)
      expect(failure.error).toMatch(/^\S+ is [^\n]+: never scanned$/);
    expect(control.connections).toBeGreaterThan(0);
    expect(forbiddenConnections()).toEqual(none());
  });

  it("run --targets 169.254.169.254 is refused before anything is sent (exit 2, one line)", async () => {
    const c = capture();
    const code = await main(["run", "--targets", `${node},${METADATA}`, "--ports", String(PORT)], c.io);
    expect([code, c.err()]).toEqual([
      2,
      "portwarden run: --targets: 169.254.169.254 is link-local (instance metadata service): never scanned\n",
    ]);
    expect(forbiddenConnections()).toEqual(none());
  });

  it("a DNS name that resolves to 169.254.169.254 is refused for run --targets and for scan", () => {
    // A real resolver answer: /etc/hosts bind-mounted in a private mount namespace of the child.
    const hosts = join(dir, "hosts");
    writeFileSync(hosts, `127.0.0.1 localhost\n${METADATA} ${NAME}\n${node} node.portwarden.test\n`);
    const cli = (args: string) =>
      spawnSync(
        "unshare",
        [
          "--mount",
          "sh",
          "-c",
          `mount --bind "$0" /etc/hosts && exec npx tsx lib/cli/main.ts ${args}`,
          hosts,
        ],
        { encoding: "utf8", timeout: 60_000 },
      );

    const run = cli(`run --targets ${NAME} --ports ${PORT} --state ${join(dir, "dns-state.json")}`);
    const scan = cli(`scan ${NAME} node.portwarden.test --ports ${PORT} --json`);

    expect([run.status, run.stderr]).toEqual([
      2,
      "portwarden run: --targets: 169.254.169.254 is link-local (instance metadata service): never scanned\n",
    ]);
    const scans = JSON.parse(scan.stdout).scans;
    expect(scan.status).toBe(1);
    expect(scans).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          target: NAME,
          ip: METADATA,
          complete: false,
          error: "169.254.169.254 is link-local (instance metadata service): never scanned",
        }),
        expect.objectContaining({ target: "node.portwarden.test", ip: node, open: [PORT], complete: true }),
      ]),
    );
    expect(forbiddenConnections()).toEqual(none());
  });

  it("scan 169.254.169.254 is refused as input (exit 2)", async () => {
    const c = capture();
    expect(await main(["scan", METADATA, "--ports", String(PORT)], c.io)).toBe(2);
    expect(c.err()).toBe(
      "portwarden scan: HOST: 169.254.169.254 is link-local (instance metadata service): never scanned\n",
    );
  });

  it("the scanner and the probes refuse it at their entry, whatever policy the caller passes", async () => {
    const scans = await scanHosts([METADATA, "::ffff:169.254.169.254", "0.0.0.0"], {
      ports: parsePortSpec(String(PORT)),
      addressPolicy: ALLOW_INTERNAL,
    });
    expect(scans.map((s) => [s.ip, s.complete, s.error?.endsWith("never scanned")])).toEqual([
      [METADATA, false, true],
      ["::ffff:169.254.169.254", false, true],
      ["0.0.0.0", false, true],
    ]);
    await expect(probeOpenPorts(METADATA, [PORT], { addressPolicy: ALLOW_INTERNAL })).rejects.toThrow(
      "169.254.169.254 is link-local (instance metadata service): never scanned",
    );
    await expect(probeOpenPorts("::ffff:127.0.0.1", [PORT])).rejects.toThrow(/never scanned/);
    expect(forbiddenConnections()).toEqual(none());
  });
});
