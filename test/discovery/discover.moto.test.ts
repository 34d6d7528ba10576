import { DescribeInstancesCommand } from "@aws-sdk/client-ec2";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { AwsClients } from "../../lib/aws/clients.ts";
import { discoverInventory } from "../../lib/discovery/discover.ts";
import { clusterNodeFilters } from "../../lib/discovery/region-inventory.ts";
import type { ClusterInventory, Inventory } from "../../lib/discovery/types.ts";
import { type Moto, startMoto } from "../support/moto.ts";
import {
  clientsIn,
  eksCluster,
  elasticIp,
  firstSubnet,
  instance,
  MEMBER_ACCOUNT,
  SCANNER_ACCOUNT,
  secondInterface,
  securityGroup,
  stop,
  tcpFromWorld,
} from "./seed.ts";

let moto: Moto;
const opened: AwsClients[] = [];

async function seedClients(account: string, region = "us-east-1") {
  const clients = await clientsIn(account, region);
  opened.push(clients);
  return { clients, ...(await firstSubnet(clients.ec2)) };
}

function cluster(inventory: Inventory, name: string): ClusterInventory {
  const found = inventory.clusters.find((c) => c.name === name);
  if (!found) throw new Error(`no cluster ${name} in ${JSON.stringify(inventory)}`);
  return found;
}

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

describe("discoverInventory against moto", () => {
  it("finds an EKS cluster's node by its eks:cluster-name tag with its Elastic IP and world-open ports", async () => {
    // Prepare
    const { clients, subnetId, vpcId } = await seedClients(SCANNER_ACCOUNT);
    await eksCluster(clients.eks, "prod", { subnetId });
    const sg = await securityGroup(clients.ec2, vpcId, [tcpFromWorld(10250), tcpFromWorld(30000, 32767)]);
    const node = await instance(clients.ec2, {
      subnetId,
      groupIds: [sg],
      tags: { "eks:cluster-name": "prod" },
    });
    await elasticIp(clients.ec2, "198.51.100.10", { instanceId: node });

    // Act
    const inventory = await discoverInventory({ regions: ["us-east-1"] });

    // Assess
    expect(
      cluster(inventory, "prod").nodes.map((n) => [n.instanceId, n.publicIps, n.internetAllowed.toSpec()]),
    ).toEqual([[node, ["198.51.100.10"], "10250,30000-32767"]]);
  });

  it("records the EKS endpoint's public access CIDRs, version and account", async () => {
    const { clients, subnetId } = await seedClients(SCANNER_ACCOUNT);
    await eksCluster(clients.eks, "restricted", {
      subnetId,
      publicAccess: true,
      privateAccess: true,
      publicAccessCidrs: ["203.0.113.0/24"],
    });

    const inventory = await discoverInventory({ regions: ["us-east-1"] });

    const found = cluster(inventory, "restricted");
    expect({
      account: found.account,
      kind: found.kind,
      version: found.version,
      endpoint: { ...found.endpoint, url: undefined },
    }).toEqual({
      account: SCANNER_ACCOUNT,
      kind: "eks",
      version: "1.31",
      endpoint: {
        url: undefined,
        publicAccess: true,
        privateAccess: true,
        publicAccessCidrs: ["203.0.113.0/24"],
      },
    });
  });

  it("attributes each interface its own Elastic IP and security groups", async () => {
    const { clients, subnetId, vpcId } = await seedClients(SCANNER_ACCOUNT);
    const primarySg = await securityGroup(clients.ec2, vpcId, [tcpFromWorld(10250)]);
    const secondarySg = await securityGroup(clients.ec2, vpcId, [tcpFromWorld(30080)]);
    const node = await instance(clients.ec2, {
      subnetId,
      groupIds: [primarySg],
      tags: { "eks:cluster-name": "multi" },
    });
    await elasticIp(clients.ec2, "198.51.100.20", { instanceId: node });
    const eni = await secondInterface(clients.ec2, node, subnetId, [secondarySg]);
    await elasticIp(clients.ec2, "198.51.100.21", { eniId: eni });

    const inventory = await discoverInventory({ regions: ["us-east-1"] });

    // moto adds the instance's groups to every attached interface; AWS keeps them per interface.
    const [primary, secondary] = cluster(inventory, "multi").nodes[0]?.interfaces ?? [];
    expect({
      primary: [primary?.publicIps, primary?.securityGroupIds, primary?.internetAllowed.toSpec()],
      secondaryIps: secondary?.publicIps,
      secondaryHasOwnGroup: secondary?.securityGroupIds.includes(secondarySg),
      secondaryOpensItsPort: secondary?.internetAllowed.has(30080),
    }).toEqual({
      primary: [["198.51.100.20"], [primarySg], "10250"],
      secondaryIps: ["198.51.100.21"],
      secondaryHasOwnGroup: true,
      secondaryOpensItsPort: true,
    });
  });

  it("unions the ports of all a node's interfaces and lists all its public IPs", async () => {
    const { clients, subnetId, vpcId } = await seedClients(SCANNER_ACCOUNT);
    const primarySg = await securityGroup(clients.ec2, vpcId, [tcpFromWorld(10250)]);
    const secondarySg = await securityGroup(clients.ec2, vpcId, [tcpFromWorld(30080)]);
    const node = await instance(clients.ec2, {
      subnetId,
      groupIds: [primarySg],
      tags: { "eks:cluster-name": "multi" },
    });
    await elasticIp(clients.ec2, "198.51.100.20", { instanceId: node });
    const eni = await secondInterface(clients.ec2, node, subnetId, [secondarySg]);
    await elasticIp(clients.ec2, "198.51.100.21", { eniId: eni });

    const inventory = await discoverInventory({ regions: ["us-east-1"] });

    const found = cluster(inventory, "multi").nodes[0];
    expect([[...(found?.publicIps ?? [])].sort(), found?.internetAllowed.toSpec()]).toEqual([
      ["198.51.100.20", "198.51.100.21"],
      "10250,30080",
    ]);
  });

  it("reads tricky rules from moto: a /0 among private CIDRs, ::/0, a public /8, a group reference", async () => {
    const { clients, subnetId, vpcId } = await seedClients(SCANNER_ACCOUNT);
    const peer = await securityGroup(clients.ec2, vpcId, []);
    const sg = await securityGroup(clients.ec2, vpcId, [
      {
        IpProtocol: "tcp",
        FromPort: 10250,
        ToPort: 10250,
        IpRanges: [{ CidrIp: "10.0.0.0/8" }, { CidrIp: "0.0.0.0/0" }],
      },
      { IpProtocol: "tcp", FromPort: 6443, ToPort: 6443, Ipv6Ranges: [{ CidrIpv6: "::/0" }] },
      { IpProtocol: "tcp", FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: "3.0.0.0/8" }] },
      { IpProtocol: "tcp", FromPort: 2379, ToPort: 2380, UserIdGroupPairs: [{ GroupId: peer }] },
    ]);
    await instance(clients.ec2, { subnetId, groupIds: [sg], tags: { "aws:eks:cluster-name": "tricky" } });

    const inventory = await discoverInventory({ regions: ["us-east-1"] });

    const node = cluster(inventory, "tricky").nodes[0];
    expect([node?.internetAllowed.toSpec(), node?.publicCidrAllowed?.toSpec()]).toEqual(["6443,10250", "22"]);
  });

  it("inventories every ACTIVE account of the organization", async () => {
    const { OrganizationsClient, CreateOrganizationCommand, CreateAccountCommand } = await import(
      "@aws-sdk/client-organizations"
    );
    const org = new OrganizationsClient({ region: "us-east-1" });
    await org.send(new CreateOrganizationCommand({ FeatureSet: "ALL" }));
    await org.send(new CreateAccountCommand({ AccountName: "workloads", Email: "workloads@example.com" }));
    org.destroy();

    const inventory = await discoverInventory({ organization: true, regions: ["us-east-1"] });

    // The management account (moto's default) plus the one created, each read in us-east-1.
    expect([
      inventory.errors,
      inventory.inventoried?.length,
      inventory.inventoried?.some((i) => i.account === SCANNER_ACCOUNT),
    ]).toEqual([[], 2, true]);
  });

  it("finds a self-managed cluster by its kubernetes.io/cluster/<name> tag", async () => {
    const { clients, subnetId, vpcId } = await seedClients(SCANNER_ACCOUNT);
    const sg = await securityGroup(clients.ec2, vpcId, [tcpFromWorld(6443)]);
    const node = await instance(clients.ec2, {
      subnetId,
      groupIds: [sg],
      tags: { "kubernetes.io/cluster/kubeadm-lab": "owned" },
    });

    const inventory = await discoverInventory({ regions: ["us-east-1"] });

    const found = cluster(inventory, "kubeadm-lab");
    expect([
      found.kind,
      found.endpoint,
      found.nodes.map((n) => [n.instanceId, n.internetAllowed.toSpec()]),
    ]).toEqual(["self-managed", undefined, [[node, "6443"]]]);
  });

  it("finds a cluster by an extra tag key when asked to", async () => {
    const { clients, subnetId, vpcId } = await seedClients(SCANNER_ACCOUNT);
    const sg = await securityGroup(clients.ec2, vpcId, []);
    await instance(clients.ec2, { subnetId, groupIds: [sg], tags: { "k3s.io/cluster": "edge" } });

    const inventory = await discoverInventory({ regions: ["us-east-1"], extraTagKeys: ["k3s.io/cluster"] });

    expect(inventory.clusters.map((c) => [c.name, c.kind, c.nodes.length])).toEqual([
      ["edge", "self-managed", 1],
    ]);
  });

  it("does not count an untagged instance or a stopped node", async () => {
    const { clients, subnetId, vpcId } = await seedClients(SCANNER_ACCOUNT);
    const sg = await securityGroup(clients.ec2, vpcId, [tcpFromWorld(22)]);
    await instance(clients.ec2, { subnetId, groupIds: [sg], tags: { Name: "bastion" } });
    const stopped = await instance(clients.ec2, {
      subnetId,
      groupIds: [sg],
      tags: { "eks:cluster-name": "gone" },
    });
    await stop(clients.ec2, stopped);

    const inventory = await discoverInventory({ regions: ["us-east-1"] });

    expect(inventory.clusters).toEqual([]);
  });

  it("asks EC2 for running cluster nodes only: the server filters out the rest", async () => {
    const { clients, subnetId, vpcId } = await seedClients(SCANNER_ACCOUNT);
    const sg = await securityGroup(clients.ec2, vpcId, []);
    await instance(clients.ec2, { subnetId, groupIds: [sg], tags: { Name: "bastion" } });
    const stopped = await instance(clients.ec2, {
      subnetId,
      groupIds: [sg],
      tags: { "eks:cluster-name": "x" },
    });
    await stop(clients.ec2, stopped);
    const wanted = [
      await instance(clients.ec2, { subnetId, groupIds: [sg], tags: { "eks:cluster-name": "a" } }),
      await instance(clients.ec2, { subnetId, groupIds: [sg], tags: { "aws:eks:cluster-name": "b" } }),
      await instance(clients.ec2, { subnetId, groupIds: [sg], tags: { "kubernetes.io/cluster/c": "owned" } }),
      await instance(clients.ec2, { subnetId, groupIds: [sg], tags: { "k3s.io/cluster": "d" } }),
    ];

    const { Reservations } = await clients.ec2.send(
      new DescribeInstancesCommand({ Filters: clusterNodeFilters(["k3s.io/cluster"]) }),
    );

    const returned = (Reservations ?? []).flatMap((r) => r.Instances ?? []).map((i) => i.InstanceId);
    expect(returned.sort()).toEqual([...wanted].sort());
  });

  it("inventories a member account through AssumeRole next to the scanner's own", async () => {
    const own = await seedClients(SCANNER_ACCOUNT);
    await eksCluster(own.clients.eks, "own", { subnetId: own.subnetId });
    const member = await seedClients(MEMBER_ACCOUNT);
    await eksCluster(member.clients.eks, "member", { subnetId: member.subnetId });

    const inventory = await discoverInventory({
      accounts: [SCANNER_ACCOUNT, MEMBER_ACCOUNT],
      regions: ["us-east-1"],
    });

    expect(inventory.clusters.map((c) => [c.account, c.name])).toEqual([
      [SCANNER_ACCOUNT, "own"],
      [MEMBER_ACCOUNT, "member"],
    ]);
  });

  it("labels clusters with the region they were found in", async () => {
    const west = await seedClients(SCANNER_ACCOUNT, "us-west-2");
    await eksCluster(west.clients.eks, "west", { subnetId: west.subnetId });

    const inventory = await discoverInventory({ regions: ["us-east-1", "us-west-2"] });

    expect(inventory.clusters.map((c) => [c.name, c.region])).toEqual([["west", "us-west-2"]]);
  });

  it("lists every account-region it read completely", async () => {
    const inventory = await discoverInventory({
      accounts: [SCANNER_ACCOUNT, MEMBER_ACCOUNT],
      regions: ["eu-west-1"],
    });

    expect([inventory.inventoried, inventory.errors]).toEqual([
      [
        { account: SCANNER_ACCOUNT, region: "eu-west-1" },
        { account: MEMBER_ACCOUNT, region: "eu-west-1" },
      ],
      [],
    ]);
  });

  it("reads every enabled region when none are given", async () => {
    const south = await seedClients(SCANNER_ACCOUNT, "ap-south-1");
    await eksCluster(south.clients.eks, "mumbai", { subnetId: south.subnetId });

    const inventory = await discoverInventory({});

    expect([inventory.clusters.map((c) => [c.name, c.region]), inventory.inventoried?.length]).toEqual([
      [["mumbai", "ap-south-1"]],
      expect.any(Number),
    ]);
    expect(inventory.inventoried?.length).toBeGreaterThan(10);
  }, 60_000);
});
