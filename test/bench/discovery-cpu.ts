/**
 * Discovery CPU for one cluster of 40,000 nodes (issue 13): `inventoryRegion` over 40 pages of
 * DescribeInstances answered in memory (aws-sdk-client-mock: no network, this measures our code),
 * beside the old grouping that copied the node array per node. Prints CPU seconds.
 */
import {
  DescribeInstancesCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
  type Instance,
} from "@aws-sdk/client-ec2";
import { EKSClient, ListClustersCommand } from "@aws-sdk/client-eks";
import { mockClient } from "aws-sdk-client-mock";
import { AwsClients } from "../../lib/aws/clients.ts";
import { inventoryRegion } from "../../lib/discovery/region-inventory.ts";

const NODES = 40_000;
const PAGE = 1000;
const instances: Instance[] = Array.from({ length: NODES }, (_, i) => ({
  InstanceId: `i-${i.toString(16).padStart(17, "0")}`,
  State: { Name: "running" },
  Tags: [{ Key: "eks:cluster-name", Value: "big" }],
  NetworkInterfaces: [
    {
      Association: { PublicIp: `198.18.${Math.floor(i / 256) % 256}.${i % 256}` },
      Groups: [{ GroupId: "sg-1" }],
      Attachment: { DeviceIndex: 0 },
    },
  ],
}));
const ec2 = mockClient(EC2Client);
ec2.on(DescribeInstancesCommand).callsFake((input: { NextToken?: string }) => {
  const start = Number(input.NextToken ?? 0);
  const next = start + PAGE;
  return {
    Reservations: [{ Instances: instances.slice(start, next) }],
    ...(next < NODES ? { NextToken: String(next) } : {}),
  };
});
ec2.on(DescribeSecurityGroupsCommand).resolves({
  SecurityGroups: [
    {
      GroupId: "sg-1",
      IpPermissions: [{ IpProtocol: "tcp", FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: "0.0.0.0/0" }] }],
    },
  ],
});
mockClient(EKSClient).on(ListClustersCommand).resolves({ clusters: [] });

const clients = new AwsClients({ region: "eu-west-1" });
const cpu = (f: () => unknown) => {
  const t0 = process.cpuUsage();
  f();
  const t = process.cpuUsage(t0);
  return (t.user + t.system) / 1e6;
};
const t0 = process.cpuUsage();
const clusters = await inventoryRegion(clients, "111122223333", "eu-west-1");
const used = process.cpuUsage(t0);
const nodes = clusters[0]?.nodes.length ?? 0;
// The grouping as it was: a new array per node (quadratic).
const copyCpu = cpu(() => {
  const byCluster = new Map<string, Instance[]>();
  for (const instance of instances) byCluster.set("big", [...(byCluster.get("big") ?? []), instance]);
});
console.log(
  `discovery, one cluster of ${NODES.toLocaleString("en-US")} nodes (${nodes} inventoried): inventoryRegion ${((used.user + used.system) / 1e6).toFixed(2)} s CPU in all; the old copy-per-node grouping alone ${copyCpu.toFixed(2)} s CPU`,
);
if (nodes !== NODES) process.exitCode = 1;
clients.destroy();
