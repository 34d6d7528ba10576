// End to end: a node tagged in (moto's) EC2 → `portwarden inventory --json` → `portwarden run
// --inventory --security-hub` scanning a real listener → the Security Hub finding's resource carries
// the node's tags. The node's only public address is a fresh loopback address inside the private
// netns made by `npm test`; its subnet hands out no public IP, so nothing moto invents is scanned.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { paginateGetFindings, SecurityHubClient } from "@aws-sdk/client-securityhub";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../lib/cli/main.ts";
import type { Inventory } from "../../lib/discovery/types.ts";
import {
  clientsIn,
  elasticIp,
  instance,
  privateSubnet,
  SCANNER_ACCOUNT,
  securityGroup,
  tcpFromWorld,
} from "../discovery/seed.ts";
import { type Moto, startMoto } from "../support/moto.ts";
import { freshLoopbackAddress, requirePrivateNetns } from "../support/netns.ts";

const REGION = "us-east-1";
const KUBELET_READ_ONLY = 10255;

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { stdout: (t: string) => out.push(t), stderr: (t: string) => err.push(t), interactive: false },
    stdout: () => out.join(""),
    stderr: () => err.join(""),
  };
}

describe.runIf(requirePrivateNetns())("node tags from EC2 to Security Hub (moto, loopback)", () => {
  let moto: Moto;
  let dir: string;
  let kubelet: Server;
  const address = freshLoopbackAddress();

  beforeAll(async () => {
    moto = await startMoto();
    dir = await mkdtemp(join(tmpdir(), "portwarden-tags-"));
    kubelet = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end('{"kind":"PodList","apiVersion":"v1","items":[]}');
    });
    await new Promise<void>((resolve) => kubelet.listen(KUBELET_READ_ONLY, address, resolve));
  });
  afterAll(async () => {
    kubelet?.closeAllConnections();
    await new Promise<void>((resolve) => (kubelet ? kubelet.close(() => resolve()) : resolve()));
    await moto?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("imports the finding with the node's sanitised tags on its AwsEc2Instance resource", async () => {
    // Prepare: a node of cluster prod, its kubelet read-only port open to the world.
    const clients = await clientsIn(SCANNER_ACCOUNT, REGION);
    const subnet = await privateSubnet(clients.ec2);
    const group = await securityGroup(clients.ec2, subnet.vpcId, [tcpFromWorld(KUBELET_READ_ONLY)]);
    const instanceId = await instance(clients.ec2, {
      subnetId: subnet.subnetId,
      groupIds: [group],
      tags: {
        Name: "prod-node-1",
        "eks:cluster-name": "prod",
        "eks:nodegroup-name": "ng-1",
        team: "payments",
        owner: "ops\u202eteam",
        note: "token=abcdef123456 from bootstrap",
      },
    });
    await elasticIp(clients.ec2, address, { instanceId });
    clients.destroy();

    // Act: the two commands of the README.
    const inventoryRun = capture();
    expect(
      await main(["inventory", "--regions", REGION, "--allow-private", "--json"], inventoryRun.io),
      inventoryRun.stderr(),
    ).toBe(0);
    const inventory = JSON.parse(inventoryRun.stdout()) as Inventory;
    // Only our loopback address may be scanned.
    expect(inventory.clusters.flatMap((c) => c.nodes.flatMap((n) => n.publicIps))).toEqual([address]);
    const inventoryPath = join(dir, "inventory.json");
    await writeFile(inventoryPath, JSON.stringify(inventory));
    const statePath = join(dir, "state.json");
    const round = capture();
    const code = await main(
      [
        "run",
        "--inventory",
        inventoryPath,
        "--allow-private",
        "--ports",
        String(KUBELET_READ_ONLY),
        "--state",
        statePath,
        "--security-hub",
        "--region",
        REGION,
      ],
      round.io,
    );

    // Assess: the finding, the stored record and the console line all carry the node's tags.
    expect(code, round.stdout() + round.stderr()).toBe(0);
    const expected = {
      Name: "prod-node-1",
      "eks:cluster-name": "prod",
      "eks:nodegroup-name": "ng-1",
      note: "token=[redacted] from bootstrap",
      owner: "opsteam",
      team: "payments",
    };
    const hub = new SecurityHubClient({ region: REGION });
    const findings = [];
    for await (const page of paginateGetFindings({ client: hub }, {}))
      findings.push(...(page.Findings ?? []));
    hub.destroy();
    expect(findings.map((f) => f.Id)).toEqual([`portwarden/${address}#${KUBELET_READ_ONLY}`]);
    expect(findings[0]?.Resources?.[0]).toMatchObject({
      Type: "AwsEc2Instance",
      Id: `arn:aws:ec2:${REGION}:${SCANNER_ACCOUNT}:instance/${instanceId}`,
      Region: REGION,
      Tags: expected,
    });
    const state = JSON.parse(await readFile(statePath, "utf8")) as { records: Array<{ tags?: unknown }> };
    expect(state.records.map((r) => r.tags)).toEqual([expected]);
    expect(round.stdout()).toContain(`node ${instanceId} (prod-node-1)`);
  });
});
