import { CreateBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { makeDiscoverHandler } from "../../functions/discover.ts";
import { readEnvironment, stageDeadline } from "../../functions/environment.ts";
import { makeNotifyHandler, type NotifyDeps } from "../../functions/notify.ts";
import { makeScanHandler } from "../../functions/scan.ts";
import type { RoundSummary } from "../../lib/alerts/types.ts";
import { InputError } from "../../lib/errors/errors.ts";
import type { AlertEvent } from "../../lib/findings/types.ts";
import { parsePortSpec } from "../../lib/ports/port-spec.ts";
import { MemoryStateStore } from "../../lib/state/memory-state-store.ts";
import { type Moto, startMoto } from "../support/moto.ts";

/** Dependencies that must not be reached: validation fails first. */
const unreachable = () => {
  throw new Error("dependencies were built although the event is invalid");
};

async function rejection(promise: Promise<unknown>): Promise<InputError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof InputError) return error;
    throw error;
  }
  throw new Error("expected an InputError");
}

describe("event validation names the field", () => {
  it("discover rejects a round id with a slash", async () => {
    const error = await rejection(
      makeDiscoverHandler(unreachable)({ roundId: "../etc", startedAt: "2026-11-29T03:00:00Z" }),
    );
    expect(error.field).toBe("event.roundId");
    expect(error.message).toContain("'../etc'");
  });

  it("discover rejects a start time that is not ISO 8601", async () => {
    const error = await rejection(
      makeDiscoverHandler(unreachable)({ roundId: "r-1", startedAt: "yesterday" }),
    );
    expect(error.field).toBe("event.startedAt");
  });

  it("scan fails only the batch item whose fields are bad, with the reason, and scans the others", async () => {
    // Prepare: a scanner that records what it was asked to scan; the good item is a public address.
    const scanned: string[][] = [];
    const handler = makeScanHandler(() => ({
      scan: async (hosts) => {
        scanned.push(hosts);
        return hosts.map((ip) => ({
          target: ip,
          ip,
          open: [],
          closed: 1,
          filtered: 0,
          complete: true,
          durationMs: 1,
        }));
      },
      probe: async () => [],
      store: new MemoryStateStore(),
      ports: parsePortSpec("22"),
    }));
    // Act
    const output = await handler(
      {
        Items: [
          { ip: "198.51.100.7", cluster: "c".repeat(256) },
          { ip: "not-an-ip" },
          { ip: "198.51.100.8", instanceId: "i-".padEnd(40, "0") },
        ],
        BatchInput: { roundId: "r-1" },
      },
      { getRemainingTimeInMillis: () => 60_000 },
    );
    // Assess
    expect(scanned).toEqual([["198.51.100.7"]]);
    expect(output.failedTargets).toEqual([
      { ip: "event.Items[1]", error: "event.Items[1].ip: 'not-an-ip' is not an IP address" },
      {
        ip: "198.51.100.8",
        error: `event.Items[2].instanceId: '${"i-".padEnd(40, "0")}' must be 1-19 characters`,
      },
    ]);
    expect([output.targets, output.incompleteScans]).toEqual([3, 2]);
  });

  it("scan rejects a batch larger than 50 targets", async () => {
    const items = Array.from({ length: 51 }, (_, i) => ({ ip: `127.0.0.${i + 1}` }));
    const error = await rejection(
      makeScanHandler(unreachable)(
        { Items: items, BatchInput: { roundId: "r-1" } },
        { getRemainingTimeInMillis: () => 60_000 },
      ),
    );
    expect(error.field).toBe("event.Items");
  });

  it("notify rejects a negative target count", async () => {
    const error = await rejection(
      makeNotifyHandler(unreachable)({
        roundId: "r-1",
        startedAt: "2026-11-29T03:00:00Z",
        targets: -1,
        targetsKey: "rounds/r-1/targets.json",
        discoveryErrors: 0,
        clusters: { newExposures: 0, resolved: 0, openExposures: 0, failedTargets: [] },
      }),
    );
    expect(error.field).toBe("event.targets");
  });
});

describe("stageDeadline", () => {
  it("keeps 15 seconds of a 10-minute budget back for writes and the return", () => {
    expect(stageDeadline(600_000, 1_000)).toBe(1_000 + 600_000 - 15_000);
  });

  it("keeps at least 3 seconds back from a short budget", () => {
    expect(stageDeadline(20_000, 0)).toBe(17_000);
  });
});

describe("readEnvironment", () => {
  it("names the variable that is wrong", () => {
    expect(() => readEnvironment({ AWS_REGION: "moon-base" })).toThrow("environment.AWS_REGION");
  });
});

describe("notify sums the Distributed Map's result files (moto S3)", () => {
  const BUCKET = "rounds-bucket";
  let moto: Moto;
  let s3: S3Client;
  let published: AlertEvent[];
  let summaries: RoundSummary[];

  beforeAll(async () => {
    moto = await startMoto();
  });
  afterAll(async () => {
    s3?.destroy();
    await moto.stop();
  });
  beforeEach(async () => {
    await moto.reset();
    s3?.destroy();
    s3 = new S3Client({ region: "us-east-1", forcePathStyle: true });
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    published = [];
    summaries = [];
  });

  function deps(): NotifyDeps {
    return {
      s3,
      bucket: BUCKET,
      store: new MemoryStateStore(),
      notifier: {
        publish: async (events) => {
          published.push(...events);
          return { accepted: events.map((e) => e.id), failed: [] };
        },
        summary: async (summary) => {
          summaries.push(summary);
        },
      },
    };
  }

  async function put(key: string, body: unknown): Promise<void> {
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: JSON.stringify(body) }));
  }

  const batchOutput = {
    targets: 2,
    newExposures: 1,
    resolved: 0,
    openExposures: 3,
    incompleteScans: 0,
    openPorts: 3,
    failedTargets: [],
  };

  async function roundWithOneFailedBatch() {
    // Prepare: one batch succeeded, one timed out
    await put("rounds/map-results/m/SUCCEEDED_0.json", [
      { Status: "SUCCEEDED", Input: "{}", Output: JSON.stringify(batchOutput) },
    ]);
    await put("rounds/map-results/m/FAILED_0.json", [
      {
        Status: "FAILED",
        Error: "States.Timeout",
        Cause: "stack trace with secrets",
        Input: JSON.stringify({ Items: [{ ip: "127.0.0.7" }], BatchInput: { roundId: "r-1" } }),
      },
    ]);
    await put("rounds/map-results/m/manifest.json", {
      ResultFiles: {
        SUCCEEDED: [{ Key: "rounds/map-results/m/SUCCEEDED_0.json" }],
        FAILED: [{ Key: "rounds/map-results/m/FAILED_0.json" }],
        PENDING: [],
      },
    });
    // Act
    return makeNotifyHandler(deps)({
      roundId: "r-1",
      startedAt: "2026-11-29T03:00:00Z",
      targets: 3,
      targetsKey: "rounds/r-1/targets.json",
      discoveryErrors: 0,
      clusters: { newExposures: 0, resolved: 0, openExposures: 0, failedTargets: [] },
      map: { ResultWriterDetails: { Bucket: BUCKET, Key: "rounds/map-results/m/manifest.json" } },
    });
  }

  it("adds up the succeeded batches and counts the failed batch's targets as incomplete", async () => {
    const output = await roundWithOneFailedBatch();
    expect(output).toMatchObject({ complete: false, newExposures: 1, openExposures: 3, incompleteScans: 1 });
  });

  it("alerts that the failed batch's target was not scanned, naming only the error type", async () => {
    await roundWithOneFailedBatch();
    expect(published.map((e) => [e.eventType, e.finding.ip, e.message])).toEqual([
      ["round-failed", "127.0.0.7", "scan batch failed (States.Timeout)"],
    ]);
  });

  it("refuses a manifest in another bucket", async () => {
    const error = await rejection(
      makeNotifyHandler(deps)({
        roundId: "r-1",
        startedAt: "2026-11-29T03:00:00Z",
        targets: 0,
        targetsKey: "rounds/r-1/targets.json",
        discoveryErrors: 0,
        clusters: { newExposures: 0, resolved: 0, openExposures: 0, failedTargets: [] },
        map: { ResultWriterDetails: { Bucket: "someone-elses", Key: "manifest.json" } },
      }),
    );
    expect(error.field).toBe("event.map.ResultWriterDetails.Bucket");
  });

  it("counts every target as incomplete when the fan-out failed before writing results", async () => {
    const output = await makeNotifyHandler(deps)({
      roundId: "r-1",
      startedAt: "2026-11-29T03:00:00Z",
      targets: 5,
      targetsKey: "rounds/r-1/targets.json",
      discoveryErrors: 0,
      clusters: { newExposures: 0, resolved: 0, openExposures: 0, failedTargets: [] },
      mapError: { Error: "States.ExceedToleratedFailureThreshold" },
    });
    expect(output).toMatchObject({ complete: false, incompleteScans: 5 });
    expect(summaries).toHaveLength(1);
  });
});
