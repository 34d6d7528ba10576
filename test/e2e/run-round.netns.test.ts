// The article's scenario end to end on loopback: real listeners on a fresh 127.x address, the real
// scanner and probes, the JSON file store in a temp dir, the console notifier. Only loopback, only
// inside the private netns made by `npm test`.
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer as createHttpServer } from "node:http";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ConsoleNotifier } from "../../lib/alerts/console-notifier.ts";
import { runCommand } from "../../lib/cli/run-command.ts";
import { ALLOW_INTERNAL } from "../../lib/net/address-policy.ts";
import { parsePortSpec } from "../../lib/ports/port-spec.ts";
import { probeOpenPorts } from "../../lib/probes/probe-open-ports.ts";
import { type RoundReport, runRound } from "../../lib/round/run-round.ts";
import { targetsFromHosts } from "../../lib/round/targets.ts";
import { scanHosts } from "../../lib/scan/scanner.ts";
import { FileStateStore } from "../../lib/state/file-state-store.ts";
import { freshLoopbackAddress, requirePrivateNetns } from "../support/netns.ts";

/** A few node ports plus the debug NodePort, so each round takes about a second. */
const PORT_SPEC = "22,2379,9100,10250,10255,31337";
const DEBUG_NODEPORT = 31337;

type Closable = { close: () => Promise<void> };

async function sshBanner(host: string, port: number): Promise<Closable> {
  const server: Server = createServer((socket) => {
    socket.on("error", () => {});
    // Like sshd, read what the client sends (a TLS ClientHello, an HTTP request) before closing.
    socket.resume();
    socket.end("SSH-2.0-OpenSSH_9.6\r\n");
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return { close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

async function httpListener(host: string, port: number, body: string): Promise<Closable> {
  const server = createHttpServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/plain" });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The node of the article: SSH, node-exporter and a kubelet read-only port, all reachable. */
async function startNode(host: string): Promise<Closable[]> {
  return [
    await sshBanner(host, 22),
    await httpListener(host, 9100, "# HELP node_cpu_seconds_total\nnode_cpu_seconds_total 1\n"),
    await httpListener(host, 10255, '{"kind":"PodList","items":[]}'),
  ];
}

const portsOf = (report: RoundReport, list: "newExposures" | "resolved") => report[list].map((f) => f.port);

describe.runIf(requirePrivateNetns())(
  "portwarden run end to end on loopback (the forgotten debug NodePort)",
  () => {
    let dir: string;
    const listeners: Closable[] = [];

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), "portwarden-e2e-"));
    });
    afterEach(async () => {
      await Promise.all(listeners.splice(0).map((l) => l.close()));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it("reports every open port, then nothing, then only the debug NodePort, then resolves it once", async () => {
      // Prepare
      const host = freshLoopbackAddress();
      listeners.push(...(await startNode(host)));
      const alertLines: string[] = [];
      const store = new FileStateStore({ path: join(dir, "scenario", "state.json") });
      const deps = {
        scan: scanHosts,
        probe: probeOpenPorts,
        store,
        notifier: new ConsoleNotifier({ write: (line) => alertLines.push(line) }),
        addressPolicy: ALLOW_INTERNAL,
      };
      const round = () => runRound(targetsFromHosts([host]), deps, { ports: parsePortSpec(PORT_SPEC) });

      // Act
      const first = await round();
      const stateAfterFirst = await stat(store.path);
      const second = await round();
      const stateAfterSecond = await stat(store.path);
      const nodePort = await httpListener(host, DEBUG_NODEPORT, "debug dashboard");
      const third = await round();
      await nodePort.close();
      const fourth = await round();
      const fifth = await round();
      const sixth = await round();

      // Assess
      expect(portsOf(first, "newExposures").sort((a, b) => a - b)).toEqual([22, 9100, 10255]);
      expect(first.round).toMatchObject({ targets: 1, complete: true });
      expect(portsOf(second, "newExposures")).toEqual([]);
      expect(second.openExposures).toBe(3);
      expect(stateAfterSecond.mtimeMs).toBe(stateAfterFirst.mtimeMs);
      expect(third.newExposures).toEqual([
        expect.objectContaining({
          ip: host,
          port: DEBUG_NODEPORT,
          service: "http",
          expected: "nodeport",
          kind: "exposed",
        }),
      ]);
      expect([fourth, fifth, sixth].map((r) => portsOf(r, "resolved"))).toEqual([[], [DEBUG_NODEPORT], []]);
      expect(alertLines.filter((l) => /\bRESOLVED\b/.test(l))).toHaveLength(1);
      expect(alertLines.filter((l) => /\bNEW\b/.test(l))).toHaveLength(4);
    });

    it("prints the run --json contract from the CLI and exits 0", async () => {
      // Prepare
      const host = freshLoopbackAddress();
      listeners.push(...(await startNode(host)));
      const out: string[] = [];
      const err: string[] = [];
      const io = {
        stdout: (t: string) => out.push(t),
        stderr: (t: string) => err.push(t),
        interactive: false,
      };

      // Act
      const code = await runCommand(
        ["--targets", host, "--ports", PORT_SPEC, "--state", join(dir, "cli-state.json"), "--json"],
        io,
      );

      // Assess
      const report = JSON.parse(out.join(""));
      expect(code).toBe(0);
      expect(report.round).toEqual({
        id: expect.stringMatching(/^r-/),
        startedAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
        targets: 1,
        complete: true,
        incompleteScans: 0,
        durationMs: expect.any(Number),
      });
      expect(
        report.newExposures.map((f: { port: number }) => f.port).sort((a: number, b: number) => a - b),
      ).toEqual([22, 9100, 10255]);
      expect(report.newExposures[0]).toEqual(
        expect.objectContaining({
          ip: host,
          service: expect.any(String),
          severity: expect.stringMatching(/^(critical|high|medium|low|info)$/),
          kind: "exposed",
          evidence: expect.any(String),
        }),
      );
      expect([report.resolved, report.openExposures]).toEqual([[], 3]);
    });

    it("hides allow-listed ports given in --config", async () => {
      // Prepare
      const host = freshLoopbackAddress();
      listeners.push(...(await startNode(host)));
      const config = join(dir, "config.json");
      await writeFile(config, JSON.stringify({ suppressions: [{ ports: "22", reason: "bastion access" }] }));
      const out: string[] = [];
      const io = { stdout: (t: string) => out.push(t), stderr: () => {}, interactive: false };

      // Act
      await runCommand(
        [
          "--targets",
          host,
          "--ports",
          PORT_SPEC,
          "--state",
          join(dir, "cfg-state.json"),
          "--config",
          config,
          "--json",
        ],
        io,
      );

      // Assess
      const report = JSON.parse(out.join(""));
      const ports = report.newExposures
        .map((f: { port: number }) => f.port)
        .sort((a: number, b: number) => a - b);
      expect([ports, report.suppressed]).toEqual([[9100, 10255], 1]);
    });

    it("classifies against security groups from an inventory: exposed, unexplained, latent NodePorts, then the debug NodePort", async () => {
      // Prepare
      const host = freshLoopbackAddress();
      listeners.push(...(await startNode(host)));
      const inventory = join(dir, "inventory.json");
      await writeFile(
        inventory,
        JSON.stringify({
          clusters: [
            {
              account: "111122223333",
              region: "eu-west-1",
              name: "prod",
              kind: "eks",
              nodes: [{ instanceId: "i-0abc", publicIps: [host], internetAllowed: "22,30000-32767" }],
            },
          ],
          errors: [],
        }),
      );
      const state = join(dir, "inventory-state.json");
      const run = async () => {
        const out: string[] = [];
        const io = { stdout: (t: string) => out.push(t), stderr: () => {}, interactive: false };
        // The inventory's nodes are loopback addresses of the private netns: opt in.
        await runCommand(
          ["--inventory", inventory, "--allow-private", "--ports", PORT_SPEC, "--state", state, "--json"],
          io,
        );
        return JSON.parse(out.join(""));
      };
      const kinds = (report: { newExposures: { port: number; kind: string }[] }) =>
        report.newExposures.map((f) => `${f.port}:${f.kind}`).sort();

      // Act
      const first = await run();
      const nodePort = await httpListener(host, DEBUG_NODEPORT, "debug dashboard");
      const second = await run();
      await nodePort.close();

      // Assess
      // The SG opens 30000-32767 to the world, so the whole range is scanned (not only PORT_SPEC's 31337).
      expect(kinds(first)).toEqual(["10255:unexplained", "22:exposed", "30000:latent", "9100:unexplained"]);
      expect(first.newExposures[0]).toMatchObject({
        account: "111122223333",
        cluster: "prod",
        instanceId: "i-0abc",
      });
      expect(kinds(second)).toEqual(["31337:exposed"]);
    });

    it("covers the rest of 1-65535 in slices: a high port is found when its slice comes round", async () => {
      // Prepare: one listener in the catalogue, one far outside it (slice 1 of 2 is 32768-65535).
      const host = freshLoopbackAddress();
      listeners.push(await sshBanner(host, 22), await httpListener(host, 40123, "debug"));
      const state = join(dir, "coverage", "state.json");
      await mkdir(join(dir, "coverage"), { recursive: true });
      const run = async () => {
        const out: string[] = [];
        const io = { stdout: (t: string) => out.push(t), stderr: () => {}, interactive: false };
        const args = ["--targets", host, "--ports", "22", "--coverage-slices", "2", "--state", state];
        await runCommand([...args, "--json"], io);
        return JSON.parse(out.join(""));
      };

      // Act
      const first = await run();
      const second = await run();
      const third = await run();

      // Assess
      expect([first.coverage, portsOf(first, "newExposures")]).toEqual([
        { slice: 0, slices: 2, ports: "1-32767" },
        [22],
      ]);
      expect([second.coverage, portsOf(second, "newExposures"), second.openExposures]).toEqual([
        { slice: 1, slices: 2, ports: "32768-65535" },
        [40123],
        2,
      ]);
      // Back to slice 0: 40123 was not looked at, so it stays open and nothing resolves.
      expect([third.coverage.slice, third.resolved, third.openExposures]).toEqual([0, [], 2]);
      const record = JSON.parse(await readFile(join(dir, "coverage", "coverage.json"), "utf8"));
      expect(record.lastCovered.map((s: { complete: boolean }) => s.complete)).toEqual([true, true]);
    });
  },
);
