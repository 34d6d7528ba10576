import { describe, expect, it } from "vitest";
import type { Notifier, PublishOutcome, RoundSummary } from "../../lib/alerts/types.ts";
import type { AlertEvent, ExposureRecord } from "../../lib/findings/types.ts";
import { ALLOW_INTERNAL } from "../../lib/net/address-policy.ts";
import { PortSet } from "../../lib/ports/port-set.ts";
import { parsePortSpec } from "../../lib/ports/port-spec.ts";
import type { ProbeOpenPorts } from "../../lib/probes/types.ts";
import { notifyPending } from "../../lib/round/notify-stage.ts";
import { runRound } from "../../lib/round/run-round.ts";
import { type RoundDeps, scanTargets } from "../../lib/round/scan-stage.ts";
import type { ScanTarget } from "../../lib/round/targets.ts";
import type { ScanOptions, ScanResult } from "../../lib/scan/types.ts";
import { MemoryStateStore } from "../../lib/state/memory-state-store.ts";
import { StaleRecordError } from "../../lib/state/types.ts";

const PORTS = parsePortSpec("22,443,10250,30000-32767");
const T0 = new Date("2026-11-29T00:00:00Z");
const at = (minutes: number) => () => new Date(T0.getTime() + minutes * 60_000);

/** The scan adapter as a table: what each host has open this round (no sockets: these are stage tests). */
function scanOf(open: Record<string, number[]>, incomplete: string[] = []) {
  return async (hosts: string[], _opts: ScanOptions): Promise<ScanResult[]> =>
    hosts.map((ip) => ({
      target: ip,
      ip,
      open: open[ip] ?? [],
      closed: 10,
      filtered: 0,
      complete: !incomplete.includes(ip),
      durationMs: 1,
    }));
}

const noProbes: ProbeOpenPorts = async () => [];

/** A notifier that records what it got and accepts only what `accept` allows. */
class RecordingNotifier implements Notifier {
  events: AlertEvent[] = [];
  summaries: RoundSummary[] = [];
  constructor(private readonly accept: (e: AlertEvent) => boolean = () => true) {}
  async publish(events: readonly AlertEvent[]): Promise<PublishOutcome> {
    this.events.push(...events);
    return {
      accepted: events.filter(this.accept).map((e) => e.id),
      failed: events.filter((e) => !this.accept(e)).map((e) => ({ id: e.id, error: "throttled" })),
    };
  }
  async summary(summary: RoundSummary): Promise<void> {
    this.summaries.push(summary);
  }
}

function deps(
  store: MemoryStateStore,
  open: Record<string, number[]>,
  over: Partial<RoundDeps> = {},
): RoundDeps {
  // The targets are loopback addresses: as if named on the command line.
  return { scan: scanOf(open), probe: noProbes, store, addressPolicy: ALLOW_INTERNAL, ...over };
}

const A = "127.0.4.1";
const B = "127.0.4.2";

describe("scanTargets", () => {
  it("reports every open port of every target as new in the first round", async () => {
    const store = new MemoryStateStore();
    const out = await scanTargets([{ ip: A }, { ip: B }], deps(store, { [A]: [22, 10250], [B]: [443] }), {
      roundId: "r1",
      ports: PORTS,
      now: at(0),
    });
    expect(out.newExposures.map((f) => `${f.ip}:${f.port}`).sort()).toEqual([
      `${A}:10250`,
      `${A}:22`,
      `${B}:443`,
    ]);
    expect(out.openExposures).toBe(3);
  });

  it("writes nothing in a second round that changes nothing", async () => {
    const store = new MemoryStateStore();
    const d = deps(store, { [A]: [22, 10250] });
    await scanTargets([{ ip: A }], d, { roundId: "r1", ports: PORTS, now: at(0) });
    const writesAfterFirst = store.writes;
    const out = await scanTargets([{ ip: A }], d, { roundId: "r2", ports: PORTS, now: at(10) });
    expect(store.writes - writesAfterFirst).toBe(0);
    expect(out.newExposures).toEqual([]);
  });

  it("keeps going when one target fails and reports that target", async () => {
    const store = new MemoryStateStore();
    const failing = Object.assign(Object.create(store), {
      loadIp: async (ip: string) => {
        if (ip === A) throw new Error("store unavailable for this partition");
        return store.loadIp(ip);
      },
    }) as MemoryStateStore;
    const out = await scanTargets([{ ip: A }, { ip: B }], deps(failing, { [A]: [22], [B]: [22] }), {
      roundId: "r1",
      ports: PORTS,
      now: at(0),
    });
    expect(out.failedTargets).toEqual([
      {
        ip: A,
        error:
          "state not recorded (store unavailable for this partition); 1 finding(s) unrecorded: medium unknown 22",
      },
    ]);
    expect(out.newExposures.map((f) => f.ip)).toEqual([B]);
    expect(out.unrecorded.map((f) => [f.ip, f.port])).toEqual([[A, 22]]);
    expect(out.incompleteScans).toBe(1);
  });

  it("does not report exposures from its copy when another scanner wrote first", async () => {
    const store = new MemoryStateStore();
    const racing = Object.assign(Object.create(store), {
      saveRecords: async (records: readonly ExposureRecord[]) => {
        throw new StaleRecordError(records[0]?.key ?? "");
      },
    }) as MemoryStateStore;
    const out = await scanTargets([{ ip: A }], deps(racing, { [A]: [10250] }), {
      roundId: "r1",
      ports: PORTS,
      now: at(0),
    });
    expect(out).toMatchObject({ newExposures: [], staleTargets: 1, failedTargets: [] });
  });

  it("counts an incomplete scan and resolves nothing from it", async () => {
    const store = new MemoryStateStore();
    await scanTargets([{ ip: A }], deps(store, { [A]: [10250] }), {
      roundId: "r1",
      ports: PORTS,
      now: at(0),
    });
    const d = { ...deps(store, {}), scan: scanOf({}, [A]) };
    await scanTargets([{ ip: A }], d, { roundId: "r2", ports: PORTS, now: at(10) });
    const out = await scanTargets([{ ip: A }], d, { roundId: "r3", ports: PORTS, now: at(20) });
    expect(out).toMatchObject({ incompleteScans: 1, resolved: [], openExposures: 1 });
  });

  it("hides suppressed findings and counts them", async () => {
    const store = new MemoryStateStore();
    const d = deps(
      store,
      { [A]: [443, 10250] },
      { suppressions: [{ reason: "ingress", ports: parsePortSpec("443") }] },
    );
    const out = await scanTargets([{ ip: A }], d, { roundId: "r1", ports: PORTS, now: at(0) });
    expect(out.newExposures.map((f) => f.port)).toEqual([10250]);
    expect(out.suppressed).toBe(1);
  });

  it("closes an exposure quietly while suppressed and alerts again once the suppression expired", async () => {
    const store = new MemoryStateStore();
    const suppression = { reason: "maintenance", ports: parsePortSpec("10250"), expires: at(3 * 24 * 60)() };
    const d = deps(store, { [A]: [10250] }, { suppressions: [suppression] });
    const plain = deps(store, { [A]: [10250] });
    await scanTargets([{ ip: A }], plain, { roundId: "r1", ports: PORTS, now: at(0) });
    const whileSuppressed = await scanTargets([{ ip: A }], d, { roundId: "r2", ports: PORTS, now: at(60) });
    const afterExpiry = await scanTargets([{ ip: A }], d, {
      roundId: "r3",
      ports: PORTS,
      now: at(3 * 24 * 60 + 1),
    });
    expect([whileSuppressed.newExposures, whileSuppressed.resolved, whileSuppressed.openExposures]).toEqual([
      [],
      [],
      0,
    ]);
    expect(afterExpiry.newExposures.map((f) => f.port)).toEqual([10250]);
  });

  it("classifies against the target's security-group data: exposed, unexplained and latent", async () => {
    const store = new MemoryStateStore();
    const target: ScanTarget = {
      ip: A,
      cluster: "prod",
      internetAllowed: parsePortSpec("22,30000-32767"),
      publicCidrAllowed: PortSet.EMPTY,
    };
    const out = await scanTargets([target], deps(store, { [A]: [22, 10250] }), {
      roundId: "r1",
      ports: PORTS,
      now: at(0),
    });
    expect(out.newExposures.map((f) => [f.port, f.kind, f.cluster])).toEqual([
      [22, "exposed", "prod"],
      [10250, "unexplained", "prod"],
      [30000, "latent", "prod"],
    ]);
    expect(out.openExposures).toBe(2);
    // The latent range is recorded as its SPEC text only: the in-memory port set never reaches the state.
    const latent = (await store.loadIp(A)).find((r) => r.kind === "latent");
    expect([latent?.portSpec, latent && "ports" in latent]).toEqual(["30000-32767", false]);
  });

  it("classifies from the catalogue when the prober throws", async () => {
    const store = new MemoryStateStore();
    const d = deps(store, { [A]: [10250] }, { probe: async () => Promise.reject(new Error("boom")) });
    const out = await scanTargets([{ ip: A }], d, { roundId: "r1", ports: PORTS, now: at(0) });
    expect(out.newExposures).toEqual([
      expect.objectContaining({ service: "unknown", expected: "kubelet", basis: "policy", severity: "high" }),
    ]);
  });
});

describe("notifyPending", () => {
  async function storeWithPending(): Promise<MemoryStateStore> {
    const store = new MemoryStateStore();
    await scanTargets([{ ip: A }], deps(store, { [A]: [22, 10250] }), {
      roundId: "r1",
      ports: PORTS,
      now: at(0),
    });
    return store;
  }
  const summary: RoundSummary = {
    roundId: "r1",
    startedAt: T0.toISOString(),
    targets: 1,
    complete: true,
    newExposures: 2,
    resolved: 0,
    openExposures: 2,
    incompleteScans: 0,
  };

  it("publishes the outbox most severe first and sends the summary", async () => {
    const store = await storeWithPending();
    const notifier = new RecordingNotifier();
    const out = await notifyPending({ store, notifier }, summary);
    expect(out).toMatchObject({ published: 2, failed: 0, more: false });
    expect(notifier.events.map((e) => [e.finding.port, e.eventType])).toEqual([
      [10250, "new"],
      [22, "new"],
    ]);
    expect(notifier.summaries).toEqual([summary]);
  });

  it("leaves rejected alerts in the outbox and retries only those next time", async () => {
    const store = await storeWithPending();
    await notifyPending({ store, notifier: new RecordingNotifier((e) => e.finding.port === 22) }, summary);
    const retry = new RecordingNotifier();
    const out = await notifyPending({ store, notifier: retry }, summary);
    expect(out.published).toBe(1);
    expect(retry.events.map((e) => e.finding.port)).toEqual([10250]);
  });

  it("keeps the same alert id across retries", async () => {
    const store = await storeWithPending();
    const first = new RecordingNotifier(() => false);
    await notifyPending({ store, notifier: first }, summary);
    const second = new RecordingNotifier();
    await notifyPending({ store, notifier: second }, summary);
    expect(second.events.map((e) => e.id)).toEqual(first.events.map((e) => e.id));
  });

  it("sends nothing twice once every alert was accepted", async () => {
    const store = await storeWithPending();
    await notifyPending({ store, notifier: new RecordingNotifier() }, summary);
    const again = new RecordingNotifier();
    await notifyPending({ store, notifier: again }, summary);
    expect(again.events).toEqual([]);
  });

  it("keeps every alert pending when the notifier throws", async () => {
    const store = await storeWithPending();
    const broken: Notifier = {
      publish: async () => Promise.reject(new Error("network down")),
      summary: async () => {},
    };
    const out = await notifyPending({ store, notifier: broken }, summary);
    expect(out).toMatchObject({ published: 0, failed: 2, publishError: "network down" });
    expect(await store.listPendingAlerts()).toHaveLength(2);
  });
});

describe("runRound", () => {
  it("sends a round-failed alert for a target that failed, once, outside the outbox", async () => {
    const store = new MemoryStateStore();
    const failing = Object.assign(Object.create(store), {
      loadIp: async () => Promise.reject(new Error("throttled")),
    }) as MemoryStateStore;
    const notifier = new RecordingNotifier();
    const report = await runRound(
      [{ ip: A }],
      { ...deps(failing, { [A]: [22] }), notifier },
      {
        roundId: "r1",
        ports: PORTS,
        now: at(0),
      },
    );
    expect(notifier.events).toEqual([
      expect.objectContaining({
        eventType: "round-failed",
        message: "state not recorded (throttled); 1 finding(s) unrecorded: medium unknown 22",
        finding: expect.objectContaining({ ip: A }),
      }),
    ]);
    expect([report.round.complete, report.alerts, await store.listPendingAlerts()]).toEqual([
      false,
      { published: 0, failed: 0, digests: 0, recorded: 0 },
      [],
    ]);
    expect(report.unrecorded?.map((f) => f.port)).toEqual([22]);
  });

  it("returns the run --json document and resolves a closed port after two complete rounds", async () => {
    const store = new MemoryStateStore();
    const notifier = new RecordingNotifier();
    const open: Record<string, number[]> = { [A]: [22, 31337] };
    const d = {
      ...deps(store, open),
      scan: async (h: string[], o: ScanOptions) => scanOf(open)(h, o),
      notifier,
    };
    const first = await runRound([{ ip: A }], d, { roundId: "r1", ports: PORTS, now: at(0) });
    open[A] = [22];
    const second = await runRound([{ ip: A }], d, { roundId: "r2", ports: PORTS, now: at(10) });
    const third = await runRound([{ ip: A }], d, { roundId: "r3", ports: PORTS, now: at(20) });
    expect(first).toMatchObject({
      round: { id: "r1", startedAt: T0.toISOString(), targets: 1, complete: true },
      openExposures: 2,
      resolved: [],
    });
    expect(first.newExposures.map((f) => f.port)).toEqual([22, 31337]);
    expect([second.resolved, third.resolved.map((f) => f.port)]).toEqual([[], [31337]]);
    expect(notifier.events.filter((e) => e.eventType === "resolved").map((e) => e.finding.port)).toEqual([
      31337,
    ]);
  });

  it("lists IPs with history that the inventory no longer has", async () => {
    const store = new MemoryStateStore();
    const d = { ...deps(store, { [A]: [22], [B]: [22] }), notifier: new RecordingNotifier() };
    await runRound([{ ip: A }, { ip: B }], d, { ports: PORTS, now: at(0) });
    const inventory = {
      clusters: [
        {
          account: "1",
          region: "r",
          name: "c",
          kind: "eks" as const,
          nodes: [{ instanceId: "i", publicIps: [A], internetAllowed: parsePortSpec("22") }],
        },
      ],
      errors: [],
    };
    const report = await runRound([{ ip: A, internetAllowed: parsePortSpec("22") }], d, {
      ports: PORTS,
      now: at(10),
      inventory,
    });
    expect(report.staleIps).toEqual([B]);
  });

  it("marks the round incomplete when the inventory reports a failed account", async () => {
    const store = new MemoryStateStore();
    const report = await runRound(
      [{ ip: A }],
      { ...deps(store, {}), notifier: new RecordingNotifier() },
      {
        ports: PORTS,
        now: at(0),
        inventory: { clusters: [], errors: [{ account: "111122223333", message: "AccessDenied" }] },
      },
    );
    expect(report.round.complete).toBe(false);
  });
});

describe("alert ids", () => {
  it("gives an escalated exposure a new alert id, distinct from its first alert", async () => {
    const store = new MemoryStateStore();
    const notifier = new RecordingNotifier();
    const probe =
      (severity: "high" | "critical"): ProbeOpenPorts =>
      async (_ip, ports) =>
        ports.map((port) => ({
          port,
          service: "kubelet",
          verdict: "reachable" as const,
          severity,
          evidence: "probed",
        }));
    const round = async (severity: "high" | "critical", minutes: number) => {
      await scanTargets([{ ip: A }], deps(store, { [A]: [10250] }, { probe: probe(severity) }), {
        roundId: `r${minutes}`,
        ports: PORTS,
        now: at(minutes),
      });
      await notifyPending({ store, notifier }, { ...SUMMARY, roundId: `r${minutes}` });
    };
    await round("high", 0);
    await round("critical", 10);
    expect(notifier.events.map((e) => e.finding.severity)).toEqual(["high", "critical"]);
    expect(new Set(notifier.events.map((e) => e.id)).size).toBe(2);
  });
});

const SUMMARY: RoundSummary = {
  roundId: "r",
  startedAt: T0.toISOString(),
  targets: 1,
  complete: true,
  newExposures: 0,
  resolved: 0,
  openExposures: 0,
  incompleteScans: 0,
};
