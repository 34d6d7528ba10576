import { CreateBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getJson } from "../../lib/aws/s3-json.ts";
import { COVERAGE_KEY } from "../../lib/contracts/deployment.ts";
import { S3CoverageStore } from "../../lib/coverage/coverage-stores.ts";
import type { Inventory } from "../../lib/discovery/types.ts";
import { parsePortSpec } from "../../lib/ports/port-spec.ts";
import { discoverStage } from "../../lib/round/discover-stage.ts";
import { MemoryStateStore } from "../../lib/state/memory-state-store.ts";
import { type Moto, startMoto } from "../support/moto.ts";

const BUCKET = "pw-coverage";
const INVENTORY: Inventory = {
  clusters: [
    {
      account: "111122223333",
      region: "eu-west-1",
      name: "prod",
      kind: "self-managed",
      nodes: [{ instanceId: "i-1", publicIps: ["198.51.100.7"], internetAllowed: parsePortSpec("443") }],
    },
  ],
  errors: [],
};

let moto: Moto;
let s3: S3Client;
beforeAll(async () => {
  moto = await startMoto();
  s3 = new S3Client({ region: "us-east-1", forcePathStyle: true });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
}, 60_000);
afterAll(async () => {
  s3?.destroy();
  await moto?.stop();
});

describe("coverage slices in a deployed round (Discover, S3)", () => {
  it("gives each round's targets the next slice and keeps the record in the round bucket", async () => {
    const store = new S3CoverageStore(s3, BUCKET, COVERAGE_KEY);
    const round = (i: number) =>
      discoverStage(
        {
          discover: async () => INVENTORY,
          s3,
          bucket: BUCKET,
          store: new MemoryStateStore(),
          now: () => new Date(Date.UTC(2026, 10, 29, i)),
          coverage: { store, slices: 3 },
        },
        { roundId: `r-${i}`, startedAt: new Date(Date.UTC(2026, 10, 29, i)).toISOString() },
      );
    const slices: (string | undefined)[] = [];
    for (let i = 0; i < 4; i++) {
      const { output } = await round(i);
      // The Map's items: the slice travels as its SPEC text, as before PortSet values.
      const targets = (await getJson(s3, BUCKET, output.targetsKey, 1 << 20)) as Array<{
        coveragePorts?: string;
      }>;
      slices.push(targets[0]?.coveragePorts);
    }
    expect(slices).toEqual(["1-21845", "21846-43690", "43691-65535", "1-21845"]);
    const record = await store.load();
    expect(record?.lastCovered.map((s) => s?.roundId)).toEqual(["r-3", "r-1", "r-2"]);
  });

  it("refuses a corrupt record naming the object", async () => {
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "rounds/bad.json", Body: "{" }));
    await expect(new S3CoverageStore(s3, BUCKET, "rounds/bad.json").load()).rejects.toThrow(
      `s3://${BUCKET}/rounds/bad.json: not a coverage record`,
    );
  });
});
