import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { AwsClients } from "../../lib/aws/clients.ts";
import { inventoryCommand } from "../../lib/cli/inventory-command.ts";
import { main } from "../../lib/cli/main.ts";
import { parseInventory } from "../../lib/config/inventory-file.ts";
import type { Inventory } from "../../lib/discovery/types.ts";
import { InputError } from "../../lib/errors/errors.ts";
import { type Moto, startMoto } from "../support/moto.ts";
import {
  clientsIn,
  eksCluster,
  elasticIp,
  firstSubnet,
  instance,
  MEMBER_ACCOUNT,
  SCANNER_ACCOUNT,
  securityGroup,
  tcpFromWorld,
} from "./seed.ts";

function capture(interactive = false) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { stdout: (t: string) => out.push(t), stderr: (t: string) => err.push(t), interactive },
    stdout: () => out.join(""),
    stderr: () => err.join(""),
  };
}

async function rejection(promise: Promise<unknown>): Promise<InputError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof InputError)) throw new Error(`expected an InputError, got ${String(error)}`);
  return error;
}

describe("inventoryCommand flags", () => {
  it.each([
    [["--accounts", "12345"], "--accounts", "'12345' is not a 12-digit AWS account id"],
    [["--accounts", ","], "--accounts", "',' is empty; give a comma-separated list"],
    [["--regions", "us-east-1,mars"], "--regions", "'mars' is not an AWS region name (e.g. us-east-1)"],
    [
      ["--role-name", "a/b"],
      "--role-name",
      "'a/b' is not an IAM role name (1-64 of letters, digits and +=,.@_-)",
    ],
    [["--home-region", "EU"], "--home-region", "'EU' is not an AWS region name (e.g. us-east-1)"],
  ])("rejects %j naming %s", async (argv, field, message) => {
    const error = await rejection(inventoryCommand(argv, capture().io));

    expect([error.field, error.message]).toEqual([field, `${field}: ${message}`]);
  });

  it("rejects --accounts together with --organization", async () => {
    const error = await rejection(
      inventoryCommand(["--accounts", "111111111111", "--organization"], capture().io),
    );

    expect(error.field).toBe("--accounts");
  });

  it("rejects a bad --external-id without echoing it", async () => {
    const error = await rejection(inventoryCommand(["--external-id", "s3cr3t value"], capture().io));

    expect([error.field, error.message.includes("s3cr3t")]).toEqual(["--external-id", false]);
  });

  it("rejects an unknown flag naming it", async () => {
    const error = await rejection(inventoryCommand(["--acounts", "111111111111"], capture().io));

    expect(error.field).toBe("--acounts");
  });

  it("exits 2 through main on a bad flag", async () => {
    const out = capture();

    const code = await main(["inventory", "--regions", "nowhere"], out.io);

    expect([code, out.stderr()]).toEqual([
      2,
      "portwarden inventory: --regions: 'nowhere' is not an AWS region name (e.g. us-east-1)\n",
    ]);
  });
});

describe("inventoryCommand against moto", () => {
  let moto: Moto;
  const opened: AwsClients[] = [];

  beforeAll(async () => {
    moto = await startMoto();
  }, 60_000);
  beforeEach(async () => {
    await moto.reset();
  });
  afterAll(async () => {
    for (const clients of opened) clients.destroy();
    await moto?.stop();
  });

  async function seedProd(account: string, address = "203.0.113.5"): Promise<string> {
    const clients = await clientsIn(account);
    opened.push(clients);
    const { subnetId, vpcId } = await firstSubnet(clients.ec2);
    await eksCluster(clients.eks, "prod", { subnetId });
    const sg = await securityGroup(clients.ec2, vpcId, [tcpFromWorld(10250), tcpFromWorld(30000, 32767)]);
    const node = await instance(clients.ec2, {
      subnetId,
      groupIds: [sg],
      tags: { "eks:cluster-name": "prod" },
    });
    await elasticIp(clients.ec2, address, { instanceId: node });
    return node;
  }

  it("lists a loopback node address only with --allow-private", async () => {
    // Prepare: a node whose Elastic IP is internal (as in the README's moto walkthrough)
    await seedProd(SCANNER_ACCOUNT, "127.0.0.9");
    const listed = async (...extra: string[]) => {
      const out = capture();
      await inventoryCommand(["--regions", "us-east-1", "--json", ...extra], out.io);
      const inventory = JSON.parse(out.stdout()) as Inventory;
      return inventory.clusters.flatMap((c) => c.nodes.flatMap((n) => n.publicIps)).includes("127.0.0.9");
    };

    // Act / Assess
    expect([await listed(), await listed("--allow-private")]).toEqual([false, true]);
  });

  it("prints the inventory contract with --json", async () => {
    // Prepare
    const node = await seedProd(MEMBER_ACCOUNT);
    const out = capture();

    // Act
    const code = await inventoryCommand(
      ["--accounts", MEMBER_ACCOUNT, "--regions", "us-east-1", "--json"],
      out.io,
    );

    // Assess
    const inventory = JSON.parse(out.stdout()) as Inventory;
    const cluster = inventory.clusters[0];
    expect([
      code,
      cluster?.account,
      cluster?.region,
      cluster?.name,
      cluster?.kind,
      cluster?.endpoint?.publicAccess,
      cluster?.endpoint?.publicAccessCidrs,
      cluster?.nodes.map((n) => [n.instanceId, n.publicIps, n.internetAllowed]),
      inventory.errors,
    ]).toEqual([
      0,
      MEMBER_ACCOUNT,
      "us-east-1",
      "prod",
      "eks",
      true,
      ["0.0.0.0/0"],
      [[node, ["203.0.113.5"], "10250,30000-32767"]],
      [],
    ]);
  });

  it("writes --json that 'run --inventory' accepts unchanged", async () => {
    await seedProd(SCANNER_ACCOUNT);
    const out = capture();
    await inventoryCommand(["--regions", "us-east-1", "--json"], out.io);
    const printed = JSON.parse(out.stdout()) as { clusters: unknown };

    const parsed = parseInventory(printed);

    // Port sets are values once parsed and the same SPEC text once written back.
    expect(parsed.clusters[0]?.nodes[0]?.internetAllowed.has(10250)).toBe(true);
    expect(JSON.parse(JSON.stringify(parsed.clusters))).toEqual(printed.clusters);
  });

  it("prints a readable table by default", async () => {
    const node = await seedProd(SCANNER_ACCOUNT);
    const out = capture();

    await inventoryCommand(["--regions", "us-east-1"], out.io);

    const lines = out.stdout().split("\n");
    expect([
      lines[0],
      lines.some((l) => /^ {2}node\s+public IPs\s+open to internet\s+open to public CIDRs$/.test(l)),
      lines.some((l) => new RegExp(`^  ${node}\\s+203\\.0\\.113\\.5\\s+10250,30000-32767\\s+-$`).test(l)),
    ]).toEqual([
      `${SCANNER_ACCOUNT}  us-east-1  prod  (eks, 1.31, public endpoint from 0.0.0.0/0)`,
      true,
      true,
    ]);
  });

  it("shows progress on stderr only when interactive", async () => {
    const quiet = capture(false);
    const chatty = capture(true);

    await inventoryCommand(["--regions", "us-east-1,us-west-2"], quiet.io);
    await inventoryCommand(["--regions", "us-east-1,us-west-2"], chatty.io);

    expect([quiet.stderr(), chatty.stderr().includes("inventory: 2/2 account-regions")]).toEqual(["", true]);
  });

  it("exits 0 with an empty inventory when there are no clusters", async () => {
    const out = capture();

    const code = await inventoryCommand(["--regions", "us-east-1"], out.io);

    expect([code, out.stdout()]).toEqual([
      0,
      "no clusters found\n\n0 cluster(s), 0 node(s) in 1 account-region(s); 0 failed\n",
    ]);
  });
});
