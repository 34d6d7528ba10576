import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, type Server } from "node:https";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Notifier } from "../../lib/alerts/types.ts";
import type { AlertEvent } from "../../lib/findings/types.ts";
import { ALLOW_INTERNAL } from "../../lib/net/address-policy.ts";
import { parsePortSpec } from "../../lib/ports/port-spec.ts";
import { probeOpenPorts } from "../../lib/probes/probe-open-ports.ts";
import type { ProbeOpenPorts } from "../../lib/probes/types.ts";
import { runRound } from "../../lib/round/run-round.ts";
import { targetsFromHosts } from "../../lib/round/targets.ts";
import { scanHosts } from "../../lib/scan/scanner.ts";
import { FileStateStore } from "../../lib/state/file-state-store.ts";
import { makeSelfSigned } from "../probes/support/tls-material.ts";
import { freshLoopbackAddress, requirePrivateNetns } from "../support/netns.ts";

type Mode = "answer" | "stall" | "reset" | "auth";
const podList = { kind: "PodList", apiVersion: "v1", metadata: {}, items: [{ metadata: { name: "a" } }] };

/** A kubelet whose behaviour the test switches per round; a stalled request is never answered. */
async function switchableKubelet(ip: string): Promise<{ mode: Mode; close(): Promise<void> }> {
  const state = { mode: "answer" as Mode };
  const sockets = new Set<Socket>();
  const server: Server = createServer(makeSelfSigned("node-1@1732000000", ip), (req, res) => {
    req.resume();
    if (state.mode === "stall") return;
    if (state.mode === "reset") {
      req.socket.destroy();
      return;
    }
    if (state.mode === "auth") {
      res.writeHead(401, { "content-type": "text/plain" }).end("Unauthorized\n");
      return;
    }
    if (req.url?.startsWith("/pods"))
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(podList));
    else res.writeHead(404).end("404 page not found\n");
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(10250, ip, resolve));
  return Object.assign(state, {
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  });
}

function recordingNotifier(events: AlertEvent[]): Notifier {
  return {
    publish: async (batch) => {
      events.push(...batch);
      return { accepted: batch.map((e) => e.id), failed: [] };
    },
    summary: async () => {},
  };
}

// Short step timeouts: a stalled kubelet costs the round 2 x 300 ms, not 2 x 2 s.
const quickProbe: ProbeOpenPorts = (ip, ports, options) =>
  probeOpenPorts(ip, ports, { ...options, timeoutMs: 300 });

describe.runIf(requirePrivateNetns())(
  "verdicts stay stable across rounds (real scan, probes, file state)",
  () => {
    let dir: string;

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), "portwarden-verdicts-"));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    async function rounds(modes: Mode[]) {
      const ip = freshLoopbackAddress();
      const kubelet = await switchableKubelet(ip);
      const events: AlertEvent[] = [];
      const store = new FileStateStore({ path: join(dir, `${ip}.json`) });
      const probed: string[] = [];
      const probe: ProbeOpenPorts = async (probeIp, ports, options) => {
        const results = await quickProbe(probeIp, ports, options);
        probed.push(...results.map((r) => `${r.verdict}:${r.severity ?? "none"}`));
        return results;
      };
      const deps = {
        scan: scanHosts,
        probe,
        store,
        notifier: recordingNotifier(events),
        addressPolicy: ALLOW_INTERNAL,
      };
      const t0 = Date.parse("2026-11-30T00:00:00Z");
      const severities: string[] = [];
      try {
        for (const [i, mode] of modes.entries()) {
          kubelet.mode = mode;
          await runRound(targetsFromHosts([ip]), deps, {
            ports: parsePortSpec("10250"),
            now: () => new Date(t0 + i * 3600_000),
          });
          const [record] = await store.loadIp(ip);
          severities.push(`${record?.service}:${record?.severity}`);
        }
      } finally {
        await kubelet.close();
      }
      return { events, severities, probed, state: await readFile(store.path, "utf8") };
    }

    it("a kubelet that stalls (round 2) and resets (round 4) produces exactly one NEW alert and no other", async () => {
      const { events, severities, probed } = await rounds(["answer", "stall", "answer", "reset", "answer"]);

      // Control: the probe really could not tell in rounds 2 and 4 (no severity from it).
      expect(probed).toEqual([
        "anonymous-access:critical",
        "no-answer:none",
        "anonymous-access:critical",
        "no-answer:none",
        "anonymous-access:critical",
      ]);

      expect(events.map((e) => [e.eventType, e.finding.service, e.finding.severity])).toEqual([
        ["new", "kubelet", "critical"],
      ]);
      expect(severities).toEqual(Array(5).fill("kubelet:critical"));
    });

    it("auth turned on, then off again: one NEW, one low-priority DE-ESCALATED, one ESCALATED, ids stable", async () => {
      const { events, state } = await rounds(["answer", "auth", "stall", "answer", "answer"]);

      expect(events.map((e) => [e.eventType, e.finding.severity])).toEqual([
        ["new", "critical"],
        ["de-escalated", "high"],
        ["escalated", "critical"],
      ]);
      const ip = events[0]?.finding.ip;
      expect(events.map((e) => e.id)).toEqual([
        `${ip}#10250|new|2026-11-30T00:00:00.000Z`,
        `${ip}#10250|de-escalated|2026-11-30T01:00:00.000Z`,
        `${ip}#10250|escalated|2026-11-30T03:00:00.000Z`,
      ]);
      // What is stored to keep verdicts stable: the basis and since when the verdict holds.
      expect(JSON.parse(state).records[0]).toMatchObject({
        basis: "probe",
        verdictSince: "2026-11-30T03:00:00.000Z",
        expected: "kubelet",
      });
    });
  },
);
