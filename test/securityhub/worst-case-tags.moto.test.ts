// The worst case AWS allows: 48 nodes (one full Scan batch), each with 50 user tags at the longest
// keys and values, in 4-byte characters. Discovered from moto, cut into a Map batch, parsed as the
// Scan Lambda parses it, and imported into (moto's) Security Hub. Nothing is scanned.
import { RunInstancesCommand } from "@aws-sdk/client-ec2";
import { paginateGetFindings, SecurityHubClient } from "@aws-sdk/client-securityhub";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AwsClients } from "../../lib/aws/clients.ts";
import { scanEventSchema } from "../../lib/contracts/lambda-events.ts";
import { CARRIED_TAGS_MAX_BYTES, MAP_BATCH_MAX_INPUT_BYTES } from "../../lib/contracts/limits.ts";
import { carriedTagsBytes } from "../../lib/discovery/node-tags.ts";
import { inventoryRegion } from "../../lib/discovery/region-inventory.ts";
import { ALLOW_INTERNAL } from "../../lib/net/address-policy.ts";
import { parseScanTargets, targetsFromInventory } from "../../lib/round/targets.ts";
import { SecurityHubNotifier } from "../../lib/securityhub/publisher.ts";
import { alertEvent } from "../alerts/events.ts";
import { elasticIp, privateSubnet, SCANNER_ACCOUNT, securityGroup, tcpFromWorld } from "../discovery/seed.ts";
import { type Moto, startMoto } from "../support/moto.ts";

const REGION = "us-east-1";
const NODES = 48;
const NAME = "🌍".repeat(256);

/** 50 user tags: Name and the cluster tag, and 48 more of 128-character keys and 256-character values. */
function worstCaseTags(): Array<{ Key: string; Value: string }> {
  const tags = [
    { Key: "Name", Value: NAME },
    { Key: "eks:cluster-name", Value: "prod" },
  ];
  for (let i = 0; i < 48; i++)
    tags.push({ Key: `k${String(i).padStart(2, "0")}${"🔑".repeat(125)}`, Value: "🌍".repeat(256) });
  return tags;
}

let moto: Moto;
beforeAll(async () => {
  moto = await startMoto();
});
afterAll(async () => moto?.stop());

describe("50 tags of maximal length on 48 nodes", () => {
  it("fit one Scan batch, parse as the Scan Lambda parses them, and import into Security Hub", async () => {
    // Prepare: 48 nodes at loopback Elastic IPs (never scanned here), in a subnet with no public IPs.
    const clients = new AwsClients({ region: REGION });
    const subnet = await privateSubnet(clients.ec2);
    const group = await securityGroup(clients.ec2, subnet.vpcId, [tcpFromWorld(10250)]);
    const tags = worstCaseTags();
    const { Instances } = await clients.ec2.send(
      new RunInstancesCommand({
        ImageId: "ami-12c6146b",
        InstanceType: "t3.micro",
        MinCount: NODES,
        MaxCount: NODES,
        SubnetId: subnet.subnetId,
        SecurityGroupIds: [group],
        TagSpecifications: [{ ResourceType: "instance", Tags: tags }],
      }),
    );
    const ids = (Instances ?? []).map((i) => i.InstanceId ?? "");
    for (const [i, instanceId] of ids.entries())
      await elasticIp(clients.ec2, `127.0.9.${i + 1}`, { instanceId });

    // Act: discovery → the targets file → one Map batch → the Scan Lambda's parse.
    const clusters = await inventoryRegion(clients, SCANNER_ACCOUNT, REGION, [], ALLOW_INTERNAL);
    const targets = targetsFromInventory({ clusters, errors: [] });
    const batch = { Items: targets, BatchInput: { roundId: "worst-case" } };
    const wire = JSON.stringify(batch); // what Step Functions hands the Scan Lambda
    const parsed = parseScanTargets(scanEventSchema.parse(JSON.parse(wire)).Items, "Items");

    // Assess: bounded, and the same tags on the far side of the batch.
    expect(targets).toHaveLength(NODES);
    const rawBytes =
      NODES * Buffer.byteLength(JSON.stringify(Object.fromEntries(tags.map((t) => [t.Key, t.Value]))));
    expect(rawBytes).toBeGreaterThan(3_000_000);
    expect(Buffer.byteLength(wire)).toBeLessThanOrEqual(MAP_BATCH_MAX_INPUT_BYTES);
    for (const target of targets) {
      expect(target.tags?.Name).toBe(NAME);
      expect(target.tags?.["eks:cluster-name"]).toBe("prod");
      expect(carriedTagsBytes(target.tags)).toBeLessThanOrEqual(CARRIED_TAGS_MAX_BYTES);
    }
    expect(parsed.rejected).toEqual([]);
    expect(parsed.targets.map((t) => [t.ip, t.tags])).toEqual(targets.map((t) => [t.ip, t.tags]));

    // Act: one finding per node into Security Hub.
    const hub = new SecurityHubClient({ region: REGION });
    const notifier = new SecurityHubNotifier({
      client: hub,
      destination: { account: SCANNER_ACCOUNT, region: REGION, partition: "aws" },
    });
    const events = parsed.targets.map(({ internetAllowed: _a, publicCidrAllowed: _p, ...context }, i) =>
      alertEvent({ id: `a-${i}` }, { ...context, port: 10250 }),
    );
    const outcome = await notifier.publish(events);

    // Assess: every finding imported, each with its node's tags.
    expect(outcome).toEqual({ accepted: events.map((e) => e.id), failed: [] });
    const findings = [];
    for await (const page of paginateGetFindings({ client: hub }, {}))
      findings.push(...(page.Findings ?? []));
    expect(findings).toHaveLength(NODES);
    const byIp = new Map(parsed.targets.map((t) => [t.ip, t.tags]));
    for (const finding of findings)
      expect(finding.Resources?.[0]?.Tags).toEqual(byIp.get(finding.Network?.DestinationIpV4 ?? ""));
    hub.destroy();
    clients.destroy();
  });
});
