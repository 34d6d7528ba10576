import { CreateTopicCommand } from "@aws-sdk/client-sns";
import {
  clientsIn,
  eksCluster,
  elasticIp,
  instance,
  MEMBER_ACCOUNT,
  privateSubnet,
  SCANNER_ACCOUNT,
  securityGroup,
  tcpFromWorld,
} from "../discovery/seed.ts";
import { createStateTable } from "../state/dynamo-table.ts";

/**
 * `npm run seed:moto`: two AWS accounts in a moto server on loopback, for trying the AWS side of
 * portwarden offline (README, "Try the AWS side locally"). Every node's public address is a
 * loopback Elastic IP (127.0.0.1, 127.0.0.2), so a round over this inventory scans only this
 * machine; the nodes live in a subnet that hands out no public IPs of its own.
 *
 * - 123456789012 (moto's default account, the "scanner"): EKS cluster `prod` with its API
 *   endpoint open to 0.0.0.0/0, node tagged `eks:cluster-name=prod`, 10255 open to the world.
 * - 222222222222 (a member, reached with AssumeRole): self-managed cluster `edge`
 *   (`kubernetes.io/cluster/edge=owned`), 22 and the NodePort range open to the world.
 * - The state table `portwarden-state` (layout of lib/state/dynamo-schema.ts) and the topic
 *   `portwarden-alerts` in the scanner account.
 */

const REGION = "us-east-1";
// Node 20 is supported; the SDK's 9-line Node-version notice would only hide the one line this prints.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

function assertMotoOnLoopback(): string {
  const endpoint = process.env.AWS_ENDPOINT_URL;
  const host = endpoint ? new URL(endpoint).hostname : "";
  if (!["127.0.0.1", "localhost", "[::1]"].includes(host)) {
    process.stderr.write(
      "seed:moto: set AWS_ENDPOINT_URL to a moto server on loopback first, e.g.\n" +
        "  moto_server -H 127.0.0.1 -p 5000 &  export AWS_ENDPOINT_URL=http://127.0.0.1:5000\n",
    );
    process.exit(2);
  }
  return endpoint as string;
}

async function seed(): Promise<void> {
  const endpoint = assertMotoOnLoopback();

  const scanner = await clientsIn(SCANNER_ACCOUNT, REGION);
  const a = await privateSubnet(scanner.ec2);
  await eksCluster(scanner.eks, "prod", {
    subnetId: a.subnetId,
    publicAccess: true,
    publicAccessCidrs: ["0.0.0.0/0"],
  });
  const kubeletReadOnly = await securityGroup(scanner.ec2, a.vpcId, [tcpFromWorld(10255)]);
  const prodNode = await instance(scanner.ec2, {
    subnetId: a.subnetId,
    groupIds: [kubeletReadOnly],
    tags: { "eks:cluster-name": "prod", Name: "prod-node-1" },
  });
  await elasticIp(scanner.ec2, "127.0.0.1", { instanceId: prodNode });
  await createStateTable(scanner.dynamodb, "portwarden-state");
  const { TopicArn } = await scanner.sns.send(new CreateTopicCommand({ Name: "portwarden-alerts" }));

  const member = await clientsIn(MEMBER_ACCOUNT, REGION);
  const b = await privateSubnet(member.ec2);
  const sshAndNodePorts = await securityGroup(member.ec2, b.vpcId, [
    tcpFromWorld(22),
    tcpFromWorld(30000, 32767),
  ]);
  const edgeNode = await instance(member.ec2, {
    subnetId: b.subnetId,
    groupIds: [sshAndNodePorts],
    tags: { "kubernetes.io/cluster/edge": "owned", Name: "edge-node-1" },
  });
  await elasticIp(member.ec2, "127.0.0.2", { instanceId: edgeNode });

  scanner.destroy();
  member.destroy();
  process.stdout.write(
    `seeded ${endpoint}: account ${SCANNER_ACCOUNT} (EKS prod, ${prodNode} at 127.0.0.1), ` +
      `account ${MEMBER_ACCOUNT} (self-managed edge, ${edgeNode} at 127.0.0.2), ` +
      `table portwarden-state, topic ${TopicArn}\n`,
  );
}

await seed();
