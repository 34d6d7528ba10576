import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { CreateTopicCommand, SNSClient } from "@aws-sdk/client-sns";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { main } from "../../lib/cli/main.ts";
import type { Inventory } from "../../lib/discovery/types.ts";
import { PortSet } from "../../lib/ports/port-set.ts";
import { DynamoStateStore } from "../../lib/state/dynamo-state-store.ts";
import { createStateTable } from "../state/dynamo-table.ts";
import { useMoto } from "../support/moto.ts";

// `portwarden run` without scanning: bad input, and inventories whose nodes have no public IP, so
// the only findings are cluster-level (a public EKS endpoint) and no packet is ever sent.

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { stdout: (t: string) => out.push(t), stderr: (t: string) => err.push(t), interactive: false },
    out: () => out.join(""),
    err: () => err.join(""),
  };
}

const PUBLIC_ENDPOINT_INVENTORY: Inventory = {
  clusters: [
    {
      account: "111122223333",
      region: "us-east-1",
      name: "prod",
      kind: "eks",
      endpoint: {
        url: "https://abc.gr7.us-east-1.eks.amazonaws.com",
        publicAccess: true,
        privateAccess: false,
        publicAccessCidrs: ["0.0.0.0/0"],
      },
      nodes: [{ instanceId: "i-1", publicIps: [], internetAllowed: PortSet.EMPTY }],
    },
  ],
  errors: [],
};

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "portwarden-run-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function inventoryFile(name: string, inventory: unknown): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, JSON.stringify(inventory));
  return path;
}

describe("portwarden run: input errors (exit 2, the field named)", () => {
  it("refuses --targets together with --inventory", async () => {
    const c = capture();
    const code = await main(["run", "--targets", "127.0.0.1", "--inventory", "x.json"], c.io);
    expect([code, c.err()]).toEqual([
      2,
      "portwarden run: --targets: give either --targets or --inventory, not both\n",
    ]);
  });

  it("refuses --state together with --table", async () => {
    const c = capture();
    const code = await main(["run", "--targets", "127.0.0.1", "--state", "s.json", "--table", "t"], c.io);
    expect([code, c.err()]).toEqual([
      2,
      "portwarden run: --state: give either --state (file) or --table (DynamoDB), not both\n",
    ]);
  });

  it("names --ports and the bad value", async () => {
    const c = capture();
    const code = await main(["run", "--targets", "127.0.0.1", "--ports", "22,99999"], c.io);
    expect([code, c.err()]).toEqual([
      2,
      "portwarden run: --ports: port 99999 in '22,99999' is outside 1-65535\n",
    ]);
  });

  it("names --coverage-slices and the bad value", async () => {
    const c = capture();
    const code = await main(["run", "--targets", "127.0.0.1", "--coverage-slices", "0"], c.io);
    expect([code, c.err()]).toEqual([
      2,
      "portwarden run: --coverage-slices: 0 is not a whole number of slices from 1 to 1000\n",
    ]);
  });

  it("names an empty --targets item", async () => {
    const c = capture();
    const code = await main(["run", "--targets", "127.0.0.1,,127.0.0.2"], c.io);
    expect([code, c.err()]).toEqual([2, "portwarden run: --targets: empty item in '127.0.0.1,,127.0.0.2'\n"]);
  });

  it("fails only the inventory node with a bad public IP, naming the field path and value", async () => {
    const [cluster] = PUBLIC_ENDPOINT_INVENTORY.clusters;
    const bad: Inventory = {
      ...PUBLIC_ENDPOINT_INVENTORY,
      clusters: cluster
        ? [
            {
              ...cluster,
              nodes: [
                ...cluster.nodes,
                { instanceId: "i-2", publicIps: ["x"], internetAllowed: PortSet.EMPTY },
              ],
            },
          ]
        : [],
    };
    const c = capture();
    const code = await main(
      [
        "run",
        "--inventory",
        await inventoryFile("bad.json", bad),
        "--state",
        join(dir, "bad-node.json"),
        "--json",
      ],
      c.io,
    );
    const report = JSON.parse(c.out());
    expect([code, report.failedTargets, report.newExposures.length]).toEqual([
      1,
      [
        {
          ip: "inventory.clusters[0].nodes[1]",
          error: "inventory.clusters[0].nodes[1].publicIps[0]: 'x' is not an IP address",
        },
      ],
      1,
    ]);
  });

  it("refuses an inventory whose shape is wrong, naming the field (exit 2)", async () => {
    const c = capture();
    const code = await main(
      ["run", "--inventory", await inventoryFile("shape.json", { clusters: [{ name: "prod", nodes: {} }] })],
      c.io,
    );
    expect([code, c.err()]).toEqual([
      2,
      "portwarden run: inventory.clusters[0].nodes: {}: Invalid input: expected array, received object\n",
    ]);
  });

  it("names --sns-topic-arn when the ARN is not one", async () => {
    const c = capture();
    const code = await main(["run", "--targets", "127.0.0.1", "--sns-topic-arn", "alerts"], c.io);
    expect([code, c.err()]).toEqual([
      2,
      "portwarden run: --sns-topic-arn: 'alerts' is not an SNS topic ARN\n",
    ]);
  });

  it("names an unknown flag", async () => {
    const c = capture();
    expect(await main(["run", "--target", "127.0.0.1"], c.io)).toBe(2);
    expect(c.err()).toContain("--target");
  });
});

describe("portwarden run --inventory with the file store", () => {
  it("reports a public EKS endpoint once, then nothing new", async () => {
    const path = await inventoryFile("endpoint.json", PUBLIC_ENDPOINT_INVENTORY);
    const state = join(dir, "endpoint-state.json");
    const first = capture();
    const second = capture();

    const firstCode = await main(["run", "--inventory", path, "--state", state, "--json"], first.io);
    await main(["run", "--inventory", path, "--state", state, "--json"], second.io);

    const firstReport = JSON.parse(first.out());
    expect(firstCode).toBe(0);
    expect(firstReport.newExposures).toEqual([
      expect.objectContaining({
        service: "eks-api-endpoint",
        cluster: "prod",
        account: "111122223333",
        kind: "exposed",
      }),
    ]);
    expect(JSON.parse(second.out()).newExposures).toEqual([]);
  });

  it("prints the alert line and the summary on stdout without --json", async () => {
    const c = capture();
    await main(
      [
        "run",
        "--inventory",
        await inventoryFile("human.json", PUBLIC_ENDPOINT_INVENTORY),
        "--state",
        join(dir, "human.json.state"),
      ],
      c.io,
    );
    expect(c.out()).toMatch(/NEW .*eks-api-endpoint/);
    expect(c.out()).toMatch(/round r-\S+: 0 targets, complete, 1 new, 0 resolved, 1 open/);
  });

  it("exits 1 when the inventory reports an account it could not read", async () => {
    const partial = {
      ...PUBLIC_ENDPOINT_INVENTORY,
      errors: [{ account: "444455556666", message: "AccessDenied" }],
    };
    const c = capture();
    const code = await main(
      [
        "run",
        "--inventory",
        await inventoryFile("partial.json", partial),
        "--state",
        join(dir, "partial-state.json"),
        "--json",
      ],
      c.io,
    );
    expect([code, JSON.parse(c.out()).round.complete]).toEqual([1, false]);
  });
});

describe("portwarden run --table --sns-topic-arn (moto)", () => {
  const moto = useMoto();
  beforeEach(async () => {
    await moto.reset();
  });

  it("discovers targets from AWS when neither --targets nor --inventory is given", async () => {
    // An empty moto account: discovery reads every region and finds no node, so nothing is scanned.
    const c = capture();
    const code = await main(
      ["run", "--region", "us-east-1", "--state", join(dir, "discovery-state.json"), "--json"],
      c.io,
    );
    const report = JSON.parse(c.out());
    expect([code, report.round.targets, report.round.complete, report.newExposures]).toEqual([
      0,
      0,
      true,
      [],
    ]);
  });

  it("keeps state in DynamoDB and marks the alert delivered once SNS accepted it", async () => {
    const dynamo = new DynamoDBClient({ region: "us-east-1" });
    const sns = new SNSClient({ region: "us-east-1" });
    await createStateTable(dynamo, "portwarden-state");
    const topicArn = (await sns.send(new CreateTopicCommand({ Name: "portwarden-alerts" })))
      .TopicArn as string;
    const c = capture();

    const code = await main(
      [
        "run",
        "--inventory",
        await inventoryFile("aws.json", PUBLIC_ENDPOINT_INVENTORY),
        "--table",
        "portwarden-state",
        "--sns-topic-arn",
        topicArn,
        "--region",
        "us-east-1",
        "--json",
      ],
      c.io,
    );

    const store = new DynamoStateStore({ client: dynamo, tableName: "portwarden-state" });
    const report = JSON.parse(c.out());
    expect([code, report.alerts, report.newExposures.length]).toEqual([
      0,
      { published: 1, failed: 0, digests: 0, recorded: 0 },
      1,
    ]);
    expect(await store.listPendingAlerts()).toEqual([]);
    expect(await store.listIps()).toEqual([report.newExposures[0].ip]);
    dynamo.destroy();
    sns.destroy();
  });
});
