import { S3Client } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { type DiscoverDeps, makeDiscoverHandler } from "../../functions/discover.ts";
import { makeNotifyHandler, parseBaselineEnv } from "../../functions/notify.ts";
import type { Notifier } from "../../lib/alerts/types.ts";
import type { NotifyOutput } from "../../lib/contracts/lambda-events.ts";
import { InputError } from "../../lib/errors/errors.ts";
import type { AlertEvent } from "../../lib/findings/types.ts";
import { ROUND_LOCK_NAME, RoundOverlapError } from "../../lib/round/round-lock.ts";
import { MemoryStateStore } from "../../lib/state/memory-state-store.ts";
import { pendingRecords } from "../state/records.ts";

// The Notify Lambda under Step Functions' loop: each pass stops near its deadline with `more` and a
// cursor, the next goes on; Discover refuses to start while another round holds the round lock.
class SlowNotifier implements Notifier {
  readonly ids: string[] = [];
  async publish(events: readonly AlertEvent[]) {
    await new Promise((r) => setTimeout(r, 600));
    this.ids.push(...events.map((e) => e.id));
    return { accepted: events.map((e) => e.id), failed: [] };
  }
  async summary() {}
}

/** Nothing listens on port 9: the stale-IP check's S3 reads fail fast (and are only logged). */
const noS3 = () =>
  new S3Client({
    region: "us-east-1",
    endpoint: "http://127.0.0.1:9",
    maxAttempts: 1,
    credentials: { accessKeyId: "x", secretAccessKey: "x" },
  });

const event = {
  roundId: "r-1",
  startedAt: "2026-11-29T03:00:00Z",
  targetsKey: "rounds/r-1/targets.json",
  targets: 0,
  discoveryErrors: 0,
  clusters: { newExposures: 0, resolved: 0, openExposures: 0, failedTargets: [] },
};

describe("the Notify loop", () => {
  it("drains the outbox over several passes, each alert once, and then releases the round lock", async () => {
    // Prepare: 30 alerts; a pass may publish for ~1 s (its floor: Lambda's remaining time minus the margin is less).
    const store = new MemoryStateStore();
    await store.saveRecords(pendingRecords(30));
    await store.acquireLease(ROUND_LOCK_NAME, { owner: "r-1", now: Date.now(), leaseMs: 3_600_000 });
    const notifier = new SlowNotifier();
    const s3 = noS3();
    const handler = makeNotifyHandler(() => ({ store, notifier, s3, bucket: "b", baseline: false }));
    const context = { getRemainingTimeInMillis: () => 20_100 } as never;
    // Act
    const outputs: NotifyOutput[] = [];
    let input: Record<string, unknown> = event;
    for (let pass = 0; pass < 20; pass++) {
      const output = await handler(input, context);
      outputs.push(output);
      if (!output.more) break;
      input = { ...event, notify: output };
    }
    // Assess
    const last = outputs[outputs.length - 1];
    expect(outputs.length).toBeGreaterThan(1);
    expect(outputs.slice(0, -1).every((o) => o.more)).toBe(true);
    expect(last).toMatchObject({ more: false, published: 30, passes: outputs.length });
    expect(new Set(notifier.ids).size).toBe(30);
    expect(notifier.ids).toHaveLength(30);
    expect(await store.acquireLease(ROUND_LOCK_NAME, { owner: "r-2", now: Date.now(), leaseMs: 1000 })).toBe(
      true,
    );
    s3.destroy();
  });

  it("reads the baseline policy the construct writes, and refuses a bad one naming the variable", () => {
    expect(parseBaselineEnv('{"above":50}')).toEqual({ above: 50 });
    expect(parseBaselineEnv("false")).toBe(false);
    expect(() => parseBaselineEnv('{"above":-1}')).toThrow(InputError);
    expect(() => parseBaselineEnv('{"above":-1}')).toThrow(/environment\.BASELINE\.above/);
  });
});

describe("the round lock", () => {
  it("stops a second round at Discover while another holds the lock, before discovering anything", async () => {
    // Prepare
    const store = new MemoryStateStore();
    await store.acquireLease(ROUND_LOCK_NAME, { owner: "r-running", now: Date.now(), leaseMs: 3_000_000 });
    let discovered = false;
    const deps = (): DiscoverDeps =>
      ({
        store,
        s3: noS3(),
        bucket: "b",
        discover: async () => {
          discovered = true;
          throw new Error("must not run");
        },
      }) as DiscoverDeps;
    // Act
    const second = makeDiscoverHandler(deps)({ roundId: "r-manual", startedAt: "2026-11-29T03:10:00Z" });
    // Assess
    await expect(second).rejects.toBeInstanceOf(RoundOverlapError);
    expect(discovered).toBe(false);
  });

  it("lets the next round start once a round's lease ran out (a crashed round cannot block forever)", async () => {
    // Prepare
    const store = new MemoryStateStore();
    await store.acquireLease(ROUND_LOCK_NAME, {
      owner: "r-crashed",
      now: Date.now() - 10_000,
      leaseMs: 5_000,
    });
    // Act
    const taken = await store.acquireLease(ROUND_LOCK_NAME, {
      owner: "r-next",
      now: Date.now(),
      leaseMs: 5_000,
    });
    // Assess
    expect(taken).toBe(true);
  });
});
