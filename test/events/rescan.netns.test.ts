// Event-driven rescans end to end: moto holds the account (VPC, security groups, instances tagged as
// EKS nodes, Elastic IPs that are loopback addresses of this netns), the CloudTrail samples are
// replayed with moto's ids, and the real scanner and probes hit real listeners on loopback.

import { createServer as createHttpServer, type Server } from "node:http";
import {
  AllocateAddressCommand,
  AssociateAddressCommand,
  AuthorizeSecurityGroupIngressCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DescribeInstancesCommand,
} from "@aws-sdk/client-ec2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Notifier, PublishOutcome, RoundSummary } from "../../lib/alerts/types.ts";
import { AwsClients } from "../../lib/aws/clients.ts";
import { inventoryRegion } from "../../lib/discovery/region-inventory.ts";
import type { ClusterInventory } from "../../lib/discovery/types.ts";
import { type ChangeEvent, parseChangeEvent } from "../../lib/events/change-events.ts";
import { rescanAfterChanges, selectAffected } from "../../lib/events/rescan.ts";
import type { AlertEvent } from "../../lib/findings/types.ts";
import { ALLOW_INTERNAL } from "../../lib/net/address-policy.ts";
import { parsePortSpec } from "../../lib/ports/port-spec.ts";
import { probeOpenPorts } from "../../lib/probes/probe-open-ports.ts";
import { runRound } from "../../lib/round/run-round.ts";
import { targetsFromInventory } from "../../lib/round/targets.ts";
import { scanHosts } from "../../lib/scan/scanner.ts";
import { MemoryStateStore } from "../../lib/state/memory-state-store.ts";
import { eksCluster, instance, SCANNER_ACCOUNT, securityGroup } from "../discovery/seed.ts";
import { type Moto, startMoto } from "../support/moto.ts";
import { freshLoopbackAddress, iptables, requirePrivateNetns } from "../support/netns.ts";
import { fixtureFor } from "./fixtures.ts";

const REGION = "us-east-1";
const PORTS = parsePortSpec("9100,10250");
/** node A's "security group" before the change, as the kernel enforces it: SYNs to 10250 dropped. */
const firewall = (op: "-A" | "-D", host: string) =>
  iptables(op, "INPUT", "-d", host, "-p", "tcp", "--syn", "--dport", "10250", "-j", "DROP");

class RecordingNotifier implements Notifier {
  events: AlertEvent[] = [];
  async publish(events: readonly AlertEvent[]): Promise<PublishOutcome> {
    this.events.push(...events);
    return { accepted: events.map((e) => e.id), failed: [] };
  }
  async summary(_s: RoundSummary): Promise<void> {}
}

interface World {
  clients: AwsClients;
  sgA: string;
  sgB: string;
  nodeA: string;
  nodeB: string;
  stray: string;
  eniA: string;
  ipA: string;
  ipB: string;
}

/** Only loopback addresses may ever reach the scanner: an address moto invented fails the test. */
async function readRegion(clients: AwsClients, account: string, region: string): Promise<ClusterInventory[]> {
  const clusters = await inventoryRegion(clients, account, region, [], ALLOW_INTERNAL);
  for (const ip of clusters.flatMap((c) => c.nodes.flatMap((n) => n.publicIps)))
    if (!ip.startsWith("127.")) throw new Error(`refusing to scan ${ip}: not a loopback address`);
  return clusters;
}

async function seed(): Promise<World> {
  const clients = new AwsClients({ region: REGION });
  const ec2 = clients.ec2;
  // A VPC of our own: its subnet maps no public IPs, so the only public addresses are our EIPs.
  const vpcId = (await ec2.send(new CreateVpcCommand({ CidrBlock: "10.9.0.0/16" }))).Vpc?.VpcId ?? "";
  const subnetId =
    (await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: "10.9.1.0/24" }))).Subnet?.SubnetId ??
    "";
  await eksCluster(clients.eks, "prod", { subnetId, publicAccess: false, privateAccess: true });
  const sgA = await securityGroup(ec2, vpcId, []);
  const sgB = await securityGroup(ec2, vpcId, []);
  const tags = { "eks:cluster-name": "prod" };
  const nodeA = await instance(ec2, { subnetId, groupIds: [sgA], tags });
  const nodeB = await instance(ec2, { subnetId, groupIds: [sgB], tags });
  const stray = await instance(ec2, { subnetId, groupIds: [sgA], tags: { Name: "not-a-node" } });
  const ipA = freshLoopbackAddress();
  const ipB = freshLoopbackAddress();
  for (const [id, ip] of [
    [nodeA, ipA],
    [nodeB, ipB],
  ] as const) {
    const { AllocationId } = await ec2.send(new AllocateAddressCommand({ Domain: "vpc", Address: ip }));
    await ec2.send(new AssociateAddressCommand({ AllocationId, InstanceId: id }));
  }
  const described = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [nodeA] }));
  const eniA = described.Reservations?.[0]?.Instances?.[0]?.NetworkInterfaces?.[0]?.NetworkInterfaceId ?? "";
  return { clients, sgA, sgB, nodeA, nodeB, stray, eniA, ipA, ipB };
}

/** A CloudTrail sample replayed against the seeded account. */
function replay(name: string, w: World): ChangeEvent {
  const event = parseChangeEvent(
    fixtureFor(name, {
      "111122223333": SCANNER_ACCOUNT,
      "sg-0a1b2c3d4e5f60718": w.sgA,
      "sg-0f63fecfa17ef4fee": w.sgA,
      "i-0123456789abcdef0": w.nodeA,
      "eni-0123456789abcdef0": w.eniA,
    }),
  );
  if (!event) throw new Error(`${name} was ignored`);
  return event;
}

let moto: Moto;
let world: World;
beforeAll(async () => {
  moto = await startMoto();
  world = await seed();
}, 60_000);
afterAll(async () => {
  world?.clients.destroy();
  await moto?.stop();
});

describe("resolving a change to the affected nodes (moto)", () => {
  const nodesFor = async (...names: string[]) => {
    const clusters = await inventoryRegion(world.clients, SCANNER_ACCOUNT, REGION, [], ALLOW_INTERNAL);
    const affected = selectAffected(
      clusters,
      names.map((n) => replay(n, world)),
    );
    return targetsFromInventory({ clusters: affected.clusters, errors: [] }).map((t) => t.instanceId);
  };

  it("security group → its interfaces → their instances, only cluster nodes", async () => {
    expect(await nodesFor("authorize-security-group-ingress")).toEqual([world.nodeA]);
    expect(await nodesFor("modify-security-group-rules")).toEqual([world.nodeA]);
  });

  it("interface, instance and state-change events → that node", async () => {
    expect(await nodesFor("modify-network-interface-attribute")).toEqual([world.nodeA]);
    expect(await nodesFor("modify-instance-attribute-groupset")).toEqual([world.nodeA]);
    expect(await nodesFor("ec2-instance-running")).toEqual([world.nodeA]);
  });

  it("a cluster event → every node of the cluster", async () => {
    expect((await nodesFor("eks-update-nodegroup-config")).sort()).toEqual([world.nodeA, world.nodeB].sort());
  });

  it("a change to an instance in no cluster → nothing to scan", async () => {
    const clusters = await inventoryRegion(world.clients, SCANNER_ACCOUNT, REGION, [], ALLOW_INTERNAL);
    const event = parseChangeEvent(
      fixtureFor("start-instances", { "111122223333": SCANNER_ACCOUNT, "i-0123456789abcdef0": world.stray }),
    ) as ChangeEvent;
    expect(selectAffected(clusters, [event]).clusters).toEqual([]);
  });
});

async function listener(host: string, port: number): Promise<Server> {
  const server = createHttpServer((_req, res) => res.end("# HELP node_cpu_seconds_total\n"));
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return server;
}

describe.runIf(requirePrivateNetns())("event-driven rescan on loopback", () => {
  it("alerts the exposure a security-group change opened, naming the change; the hourly round does not repeat it", async () => {
    const store = new MemoryStateStore();
    const notifier = new RecordingNotifier();
    const deps = {
      scan: scanHosts,
      probe: probeOpenPorts,
      store,
      notifier,
      // The nodes' Elastic IPs are loopback addresses of the private netns: opted in.
      addressPolicy: ALLOW_INTERNAL,
      inventoryRegion: (account: string, region: string) => readRegion(world.clients, account, region),
    };
    const scheduled = async () =>
      runRound(
        targetsFromInventory({
          clusters: await readRegion(world.clients, SCANNER_ACCOUNT, REGION),
          errors: [],
        }),
        deps,
        {
          ports: PORTS,
          inventory: { clusters: await readRegion(world.clients, SCANNER_ACCOUNT, REGION), errors: [] },
        },
      );
    // node A runs a kubelet-like service on 10250 that its security group does not admit (yet).
    const servers = [await listener(world.ipA, 10250)];
    firewall("-A", world.ipA);
    let firewalled = true;
    try {
      await scheduled();
      expect(notifier.events).toEqual([]);

      // Someone opens 10250 to the world on node A's group: in moto, and on the wire.
      await world.clients.ec2.send(
        new AuthorizeSecurityGroupIngressCommand({
          GroupId: world.sgA,
          IpPermissions: [
            { IpProtocol: "tcp", FromPort: 10250, ToPort: 10250, IpRanges: [{ CidrIp: "0.0.0.0/0" }] },
          ],
        }),
      );
      firewall("-D", world.ipA);
      firewalled = false;
      const started = Date.now();
      const report = await rescanAfterChanges([replay("authorize-security-group-ingress", world)], deps, {
        ports: PORTS,
      });
      const rescanMs = Date.now() - started;
      expect(report.targets).toBe(1); // node A only
      const exposed = notifier.events.find((a) => a.finding.ip === world.ipA && a.finding.port === 10250);
      expect(exposed?.eventType).toBe("new");
      expect(exposed?.finding.kind).toBe("exposed");
      expect(exposed?.cause).toMatchObject({
        eventName: "AuthorizeSecurityGroupIngress",
        actor: "arn:aws:iam::111122223333:user/alice",
        at: "2024-10-14T14:11:38Z",
      });
      expect(rescanMs).toBeLessThan(60_000);

      // The next scheduled round finds the same state: no second alert for it.
      const before = notifier.events.length;
      await scheduled();
      expect(notifier.events.slice(before)).toEqual([]);

      // A change that opens nothing: one small scan of the node it touched, no alert.
      const quiet = await rescanAfterChanges([replay("modify-network-interface-attribute", world)], deps, {
        ports: PORTS,
      });
      expect(quiet.targets).toBe(1);
      expect(quiet.newExposures).toEqual([]);
      expect(notifier.events.slice(before)).toEqual([]);
    } finally {
      if (firewalled) firewall("-D", world.ipA);
      for (const s of servers) await new Promise<void>((resolve) => s.close(() => resolve()));
    }
  }, 120_000);
});
