import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  type CoverageRecord,
  coverageSlice,
  markSliceOutcome,
  overdueSlices,
  planCoverage,
  withCoverageSlice,
} from "../../lib/coverage/coverage.ts";
import { FileCoverageStore } from "../../lib/coverage/coverage-stores.ts";
import { ALLOW_INTERNAL } from "../../lib/net/address-policy.ts";
import { PortSet } from "../../lib/ports/port-set.ts";
import { parsePortSpec } from "../../lib/ports/port-spec.ts";
import type { ProbeOpenPorts } from "../../lib/probes/types.ts";
import { portsForTarget, scanTargets } from "../../lib/round/scan-stage.ts";
import type { ScanTarget } from "../../lib/round/targets.ts";
import type { ScanOptions, ScanResult } from "../../lib/scan/types.ts";
import { MemoryStateStore } from "../../lib/state/memory-state-store.ts";

const T0 = Date.parse("2026-11-29T00:00:00Z");
const hour = (h: number) => new Date(T0 + h * 3600_000);

describe("coverage slices", () => {
  it.each([1, 7, 24, 1000])("%i slices partition 1-65535 exactly", (count) => {
    let union = PortSet.EMPTY;
    let total = 0;
    for (let i = 0; i < count; i++) {
      const slice = coverageSlice(i, count);
      expect(slice.intersect(union).isEmpty).toBe(true);
      union = union.union(slice);
      total += slice.size;
    }
    expect([total, union.equals(PortSet.ALL)]).toEqual([65535, true]);
  });

  it("visits every slice once in N rounds, then the one scanned longest ago", () => {
    let record: CoverageRecord | undefined;
    const visited: number[] = [];
    for (let h = 0; h < 24; h++) {
      const plan = planCoverage(record, 24, `r${h}`, hour(h));
      visited.push(plan.slice);
      record = plan.record;
    }
    expect([...visited].sort((a, b) => a - b)).toEqual(Array.from({ length: 24 }, (_, i) => i));
    // A round that re-stamps slice 5 late moves it to the back of the queue.
    const restamped = planCoverage(record, 24, "r24", hour(24));
    expect(restamped.slice).toBe(visited[0]);
    expect(planCoverage(restamped.record, 24, "r25", hour(25)).slice).toBe(visited[1]);
  });

  it("starts over when the slice count changes (the slices are other ranges then)", () => {
    const first = planCoverage(undefined, 24, "r0", hour(0));
    const other = planCoverage(first.record, 12, "r1", hour(1));
    expect([other.slice, other.record.slices, other.record.lastCovered.filter(Boolean).length]).toEqual([
      0, 12, 1,
    ]);
  });

  it("reports slices not covered within the period as overdue", () => {
    let record: CoverageRecord | undefined;
    for (let h = 0; h < 3; h++) record = planCoverage(record, 4, `r${h}`, hour(h)).record;
    expect(overdueSlices(record as CoverageRecord, 24 * 3600_000, hour(3))).toEqual([3]);
    expect(overdueSlices(record as CoverageRecord, 2 * 3600_000, hour(3))).toEqual([0, 3]);
  });

  it("keeps the record in a file and refuses a corrupt one naming the path", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pw-coverage-"));
    const store = new FileCoverageStore(join(dir, "coverage.json"));
    expect(await store.load()).toBeUndefined();
    const plan = planCoverage(undefined, 24, "r0", hour(0));
    await store.save(markSliceOutcome(plan.record, plan.slice, true));
    expect((await store.load())?.lastCovered[0]).toEqual({
      at: hour(0).toISOString(),
      roundId: "r0",
      complete: true,
    });
    writeFileSync(store.path, '{"schemaVersion":1,"slices":0}');
    await expect(store.load()).rejects.toThrow(`${store.path}: not a coverage record`);
    expect(readFileSync(store.path, "utf8")).toContain("slices");
  });
});

describe("a round's ports per target", () => {
  it("adds the ports a security group opens to the world and the coverage slice to the profile", () => {
    const ports = portsForTarget(
      {
        ip: "127.0.4.1",
        internetAllowed: parsePortSpec("8080,40000-40010"),
        coveragePorts: parsePortSpec("50000-50100"),
      },
      parsePortSpec("22"),
    );
    expect(ports.toSpec()).toBe("22,8080,40000-40010,50000-50100");
  });
});

describe("findings from coverage slices", () => {
  const A = "127.0.4.1";
  const base = parsePortSpec("22,10250");
  const noProbes: ProbeOpenPorts = async () => [];
  /** What A has open; the fake scan reports only the ports this round asked for on A. */
  function scanOf(open: number[], seen: PortSet[]) {
    return async (hosts: string[], opts: ScanOptions): Promise<ScanResult[]> =>
      hosts.map((ip) => {
        const ports = opts.hostPorts?.get(ip) ?? opts.ports;
        seen.push(ports);
        return {
          target: ip,
          ip,
          open: open.filter((p) => ports.has(p)),
          closed: ports.size,
          filtered: 0,
          complete: true,
          durationMs: 1,
        };
      });
  }

  it("are new when their slice finds them, stay open while other slices run, resolve only when rescanned", async () => {
    const store = new MemoryStateStore();
    const round = async (h: number, open: number[], record?: CoverageRecord) => {
      const plan = planCoverage(record, 2, `r${h}`, hour(h));
      const seen: PortSet[] = [];
      const targets = withCoverageSlice<ScanTarget>([{ ip: A, internetAllowed: PortSet.EMPTY }], plan);
      const out = await scanTargets(
        targets,
        {
          scan: scanOf(open, seen),
          probe: noProbes,
          store,
          policy: { resolveAfterScans: 1 },
          addressPolicy: ALLOW_INTERNAL,
        },
        { roundId: `r${h}`, ports: base, now: () => hour(h) },
      );
      return { out, plan, seen };
    };
    // Slice 1 of 2 holds 40123: round 0 (slice 0, 1-32767) cannot see it; round 1 finds it.
    const r0 = await round(0, [22, 40123]);
    expect(r0.seen[0]?.has(40123)).toBe(false);
    const r1 = await round(1, [22, 40123], r0.plan.record);
    expect(r1.out.newExposures.map((f) => f.port)).toEqual([40123]);
    // Round 2 scans slice 0 again: 40123 was not looked at, so it is neither missed nor resolved.
    const r2 = await round(2, [22], r1.plan.record);
    expect([r2.plan.slice, r2.out.resolved.length, r2.out.openExposures]).toEqual([0, 0, 2]);
    // Round 3 rescans slice 1 and 40123 is closed now: resolved.
    const r3 = await round(3, [22], r2.plan.record);
    expect(r3.out.resolved.map((f) => f.port)).toEqual([40123]);
  });
});
