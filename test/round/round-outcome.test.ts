import { describe, expect, it } from "vitest";
import type { Notifier, RoundSummary } from "../../lib/alerts/types.ts";
import { finishRound, MAX_STALE_IPS, summarizeRound } from "../../lib/round/round-outcome.ts";
import { MemoryStateStore } from "../../lib/state/memory-state-store.ts";
import { exposureRecord } from "../state/records.ts";

const ROUND = { roundId: "r-1", startedAt: "2026-11-29T03:00:00Z", targets: 4, discoveryErrors: 0 };
const clean = { newExposures: 1, resolved: 2, openExposures: 3, failedTargets: [] };

function silentNotifier(summaries: RoundSummary[] = []): Notifier {
  return {
    publish: async (events) => ({ accepted: events.map((e) => e.id), failed: [] }),
    summary: async (summary) => {
      summaries.push(summary);
    },
  };
}

describe("summarizeRound", () => {
  it("sums every tally and calls a round without misses complete", () => {
    const { summary } = summarizeRound(ROUND, [clean, { ...clean, incompleteScans: 0 }]);
    expect(summary).toEqual({
      roundId: "r-1",
      startedAt: "2026-11-29T03:00:00Z",
      targets: 4,
      complete: true,
      newExposures: 2,
      resolved: 4,
      openExposures: 6,
      incompleteScans: 0,
    });
  });

  it.each([
    ["an incomplete scan", ROUND, [{ ...clean, incompleteScans: 1 }]],
    ["a failed target", ROUND, [{ ...clean, failedTargets: [{ ip: "127.0.0.1", error: "x" }] }]],
    ["a missed account", { ...ROUND, discoveryErrors: 1 }, [clean]],
    ["a failed fan-out", { ...ROUND, fanOutFailed: true }, [clean]],
  ])("calls a round with %s incomplete", (_what, round, tallies) => {
    expect(summarizeRound(round, tallies).summary.complete).toBe(false);
  });
});

describe("finishRound's stale-IP check", () => {
  const store = () =>
    new MemoryStateStore([exposureRecord({ ip: "127.0.0.1" }), exposureRecord({ ip: "127.0.0.2" })]);

  it("lists stored IPs discovery no longer has, and sends the summary once", async () => {
    const summaries: RoundSummary[] = [];
    const finished = await finishRound(
      { store: store(), notifier: silentNotifier(summaries) },
      ROUND,
      [clean],
      {
        knownIds: async () => ["127.0.0.1"],
      },
    );
    expect([finished.staleIps, summaries.length]).toEqual([["127.0.0.2"], 1]);
  });

  it("lists at most MAX_STALE_IPS", async () => {
    const many = Array.from({ length: MAX_STALE_IPS + 5 }, (_, i) => exposureRecord({ ip: `127.0.1.${i}` }));
    const finished = await finishRound(
      { store: new MemoryStateStore(many), notifier: silentNotifier() },
      ROUND,
      [clean],
      { knownIds: async () => [] },
    );
    expect(finished.staleIps).toHaveLength(MAX_STALE_IPS);
  });

  it("lists nothing when discovery missed an account (absence proves nothing)", async () => {
    const finished = await finishRound(
      { store: store(), notifier: silentNotifier() },
      { ...ROUND, discoveryErrors: 1 },
      [clean],
      { knownIds: async () => [] },
    );
    expect(finished.staleIps).toEqual([]);
  });

  it("reports a failed check instead of failing the round (the alerts already went out)", async () => {
    const finished = await finishRound({ store: store(), notifier: silentNotifier() }, ROUND, [clean], {
      knownIds: async () => {
        throw new Error("targets.json is gone");
      },
    });
    expect([finished.staleIps, finished.staleCheckError]).toEqual([[], "targets.json is gone"]);
  });

  it("has no stale-IP list for a round without discovery", async () => {
    const finished = await finishRound({ store: store(), notifier: silentNotifier() }, ROUND, [clean]);
    expect(finished.staleIps).toBeUndefined();
  });
});
