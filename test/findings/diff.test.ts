import { describe, expect, it } from "vitest";
import { DEFAULT_DIFF_POLICY, type DiffInput, diffExposures } from "../../lib/findings/diff.ts";
import { type ExposureRecord, type Finding, findingKey } from "../../lib/findings/types.ts";
import { PortSet } from "../../lib/ports/port-set.ts";

const IP = "127.0.3.1";
const T0 = new Date("2026-11-29T00:00:00Z");
const hoursAfter = (h: number) => new Date(T0.getTime() + h * 3600_000);

function finding(port: number, over: Partial<Finding> = {}): Finding {
  return {
    ip: IP,
    port,
    service: "kubelet",
    severity: "high",
    kind: "exposed",
    evidence: "TCP connect succeeded",
    ...over,
  };
}

function record(port: number, over: Partial<ExposureRecord> = {}): ExposureRecord {
  const f = finding(port, over);
  return {
    ...f,
    key: findingKey(f),
    status: "open",
    firstSeen: T0.toISOString(),
    lastSeen: T0.toISOString(),
    missedCompleteScans: 0,
    lastAlertedAt: T0.toISOString(),
    version: 3,
    ...over,
  };
}

function diff(over: Partial<DiffInput>) {
  return diffExposures({ previous: [], current: [], now: hoursAfter(1), scanComplete: true, ...over });
}

describe("diffExposures", () => {
  it("opens a record with a pending 'new' alert for a first-seen exposure", () => {
    const out = diff({ current: [finding(10250)] });
    expect(out.newExposures).toHaveLength(1);
    expect(out.writes).toEqual([
      expect.objectContaining({
        key: `${IP}#10250`,
        status: "open",
        pendingAlert: "new",
        version: 0,
        missedCompleteScans: 0,
      }),
    ]);
  });

  it("records a node's changed tags without an alert, and drops tags the node no longer has", () => {
    const before = record(10250, { tags: { Name: "web-1", team: "a" } });
    const renamed = diff({ previous: [before], current: [finding(10250, { tags: { Name: "web-2" } })] });
    expect(renamed.writes).toHaveLength(1);
    expect(renamed.writes[0]?.tags).toEqual({ Name: "web-2" });
    expect(renamed.writes[0]?.pendingAlert).toBeUndefined();
    const untagged = diff({ previous: [before], current: [finding(10250)] });
    expect(untagged.writes[0]).not.toHaveProperty("tags");
    const same = diff({
      previous: [before],
      current: [finding(10250, { tags: { team: "a", Name: "web-1" } })],
    });
    expect(same.writes).toEqual([]);
    const reopened = diff({
      previous: [record(10250, { status: "resolved", tags: { Name: "old" } })],
      current: [finding(10250)],
      now: hoursAfter(48),
    });
    expect(reopened.writes[0]).toMatchObject({ status: "open", pendingAlert: "new" });
    expect(reopened.writes[0]).not.toHaveProperty("tags");
  });

  it("writes nothing and alerts nothing for an exposure still open and recently seen", () => {
    const out = diff({ previous: [record(10250)], current: [finding(10250)] });
    expect(out).toMatchObject({ writes: [], newExposures: [], resolved: [] });
    expect(out.open).toHaveLength(1);
  });

  it("refreshes lastSeen of a still-open exposure once the refresh interval has passed, without alerting", () => {
    const now = new Date(T0.getTime() + DEFAULT_DIFF_POLICY.lastSeenRefreshMs);
    const out = diff({ previous: [record(10250)], current: [finding(10250)], now });
    expect(out.newExposures).toEqual([]);
    expect(out.writes).toEqual([expect.objectContaining({ lastSeen: now.toISOString(), version: 3 })]);
    expect(out.writes[0]?.pendingAlert).toBeUndefined();
  });

  it("does not rewrite a record when only the evidence wording changed", () => {
    const out = diff({ previous: [record(10250)], current: [finding(10250, { evidence: "12 pods" })] });
    expect(out.writes).toEqual([]);
  });

  it("queues an 'escalated' alert, not a 'new' one, when proof shows a worse state", () => {
    const now = hoursAfter(1);
    const out = diff({
      previous: [record(10250, { basis: "probe" })],
      current: [finding(10250, { severity: "critical", basis: "probe" })],
      now,
    });
    expect(out.newExposures).toEqual([]);
    expect(out.escalated).toHaveLength(1);
    expect(out.writes[0]).toMatchObject({
      severity: "critical",
      pendingAlert: "escalated",
      verdictSince: now.toISOString(),
    });
  });

  it("records a de-escalation (auth turned back on) with a low-priority 'de-escalated' alert", () => {
    const out = diff({
      previous: [record(10250, { severity: "critical", basis: "probe" })],
      current: [finding(10250, { severity: "high", basis: "probe", evidence: "401" })],
    });
    expect(out.deEscalated).toHaveLength(1);
    expect(out.writes[0]).toMatchObject({ severity: "high", evidence: "401", pendingAlert: "de-escalated" });
  });

  it("keeps the proven verdict when this round's probe could not tell, and writes and alerts nothing", () => {
    const proven = record(10250, {
      severity: "critical",
      basis: "probe",
      evidence: "GET /pods answered 200",
    });
    const out = diff({
      previous: [proven],
      current: [
        finding(10250, { service: "unknown", severity: "high", basis: "policy", evidence: "timeout" }),
      ],
    });
    expect(out).toMatchObject({ writes: [], newExposures: [], escalated: [], deEscalated: [] });
    expect(out.open[0]).toMatchObject({
      service: "kubelet",
      severity: "critical",
      evidence: "GET /pods answered 200",
    });
  });

  it("treats a record written before verdicts had a basis as proven (it survives a silent round)", () => {
    const legacy = record(10250, { severity: "critical" });
    const out = diff({
      previous: [legacy],
      current: [finding(10250, { severity: "high", basis: "policy" })],
    });
    expect(out.writes).toEqual([]);
    expect(out.open[0]?.severity).toBe("critical");
  });

  it("keeps an undelivered 'new' as 'new' when the verdict changes before delivery", () => {
    const out = diff({
      previous: [record(10250, { basis: "probe", pendingAlert: "new" })],
      current: [finding(10250, { severity: "critical", basis: "probe" })],
    });
    expect(out.writes[0]).toMatchObject({ severity: "critical", pendingAlert: "new" });
    expect(out.escalated).toEqual([]);
  });

  it("resolves a host-level finding (port 0) after complete scans although port 0 is never scanned", () => {
    const host = record(0, { service: "tarpit", portSpec: "1-1000", missedCompleteScans: 1 });
    const out = diff({ previous: [host], scanned: PortSet.fromRanges([{ from: 1, to: 1000 }]) });
    expect(out.resolved).toHaveLength(1);
  });

  it("counts one miss after one complete scan without the port, and does not resolve yet", () => {
    const out = diff({ previous: [record(10250)] });
    expect(out.resolved).toEqual([]);
    expect(out.writes).toEqual([expect.objectContaining({ status: "open", missedCompleteScans: 1 })]);
  });

  it("resolves after the second consecutive complete scan without the port and queues a 'resolved' alert", () => {
    const out = diff({ previous: [record(10250, { missedCompleteScans: 1 })] });
    expect(out.resolved).toEqual([expect.objectContaining({ ip: IP, port: 10250 })]);
    expect(out.writes).toEqual([expect.objectContaining({ status: "resolved", pendingAlert: "resolved" })]);
  });

  it("honours a configured number of scans before resolving", () => {
    const out = diff({
      previous: [record(10250, { missedCompleteScans: 1 })],
      policy: { resolveAfterScans: 3 },
    });
    expect(out.resolved).toEqual([]);
    expect(out.writes[0]?.missedCompleteScans).toBe(2);
  });

  it("resolves without a 'resolved' alert when resolved alerts are turned off", () => {
    const out = diff({
      previous: [record(10250, { missedCompleteScans: 1 })],
      policy: { alertOnResolved: false },
    });
    expect(out.writes[0]?.status).toBe("resolved");
    expect(out.writes[0]?.pendingAlert).toBeUndefined();
  });

  it("never resolves nor counts a miss from an incomplete scan", () => {
    const out = diff({ previous: [record(10250, { missedCompleteScans: 1 })], scanComplete: false });
    expect(out).toMatchObject({ writes: [], resolved: [] });
    expect(out.open).toHaveLength(1);
  });

  it("resets the miss counter when the port is seen open again", () => {
    const out = diff({ previous: [record(10250, { missedCompleteScans: 1 })], current: [finding(10250)] });
    expect(out.writes).toEqual([expect.objectContaining({ missedCompleteScans: 0, status: "open" })]);
    expect(out.newExposures).toEqual([]);
  });

  it("does not count a miss for a port outside this round's scanned ports", () => {
    const out = diff({ previous: [record(10250)], scanned: PortSet.fromPorts([22]) });
    expect(out.writes).toEqual([]);
  });

  it("does not alert again for a port that reopens within the quiet period (flapping)", () => {
    const resolved = record(31337, { status: "resolved", lastSeen: T0.toISOString() });
    const out = diff({ previous: [resolved], current: [finding(31337)], now: hoursAfter(23) });
    expect(out.newExposures).toEqual([]);
    expect(out.writes).toEqual([expect.objectContaining({ status: "open", firstSeen: T0.toISOString() })]);
    expect(out.writes[0]?.pendingAlert).toBeUndefined();
  });

  it("drops the unsent 'resolved' alert when a port flaps back open", () => {
    const resolved = record(31337, { status: "resolved", pendingAlert: "resolved" });
    const out = diff({ previous: [resolved], current: [finding(31337)], now: hoursAfter(2) });
    expect(out.writes[0]?.pendingAlert).toBeUndefined();
  });

  it("alerts as new when a resolved port reopens after the quiet period", () => {
    const resolved = record(31337, { status: "resolved" });
    const now = hoursAfter(25);
    const out = diff({ previous: [resolved], current: [finding(31337)], now });
    expect(out.newExposures).toHaveLength(1);
    expect(out.writes[0]).toMatchObject({ pendingAlert: "new", firstSeen: now.toISOString() });
  });

  it("treats a latent → exposed transition as a new exposure and closes the latent record quietly", () => {
    const latent = record(10250, { kind: "latent", severity: "medium" });
    const out = diff({ previous: [latent], current: [finding(10250)] });
    expect(out.newExposures).toEqual([expect.objectContaining({ port: 10250, kind: "exposed" })]);
    expect(out.writes).toContainEqual(
      expect.objectContaining({ key: `${IP}#10250#latent`, status: "resolved" }),
    );
    expect(out.writes.find((w) => w.kind === "latent")?.pendingAlert).toBeUndefined();
    expect(out.resolved).toEqual([]);
  });

  it("leaves latent records alone in a round without security-group data", () => {
    const latent = record(30000, { kind: "latent", portSpec: "30000-32767" });
    const out = diff({ previous: [latent], sgKnown: false });
    expect(out.writes).toEqual([]);
  });

  it("closes a record quietly when its finding is suppressed this round", () => {
    const out = diff({ previous: [record(443)], suppressed: [finding(443)] });
    expect(out.writes).toEqual([expect.objectContaining({ status: "resolved" })]);
    expect(out.writes[0]?.pendingAlert).toBeUndefined();
    expect(out.resolved).toEqual([]);
  });

  it("does not send 'resolved' for an exposure whose 'new' alert was never delivered", () => {
    const unsent = record(10250, { missedCompleteScans: 1, pendingAlert: "new", lastAlertedAt: undefined });
    const out = diff({ previous: [unsent] });
    expect(out.writes[0]?.status).toBe("resolved");
    expect(out.writes[0]?.pendingAlert).toBeUndefined();
  });

  it("ignores resolved records that stay closed", () => {
    const out = diff({ previous: [record(10250, { status: "resolved" })] });
    expect(out).toMatchObject({ writes: [], resolved: [], open: [] });
  });
});
