import {
  AllocateAddressCommand,
  AssociateAddressCommand,
  AttachNetworkInterfaceCommand,
  AuthorizeSecurityGroupIngressCommand,
  CreateNetworkInterfaceCommand,
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DescribeSubnetsCommand,
  type EC2Client,
  type IpPermission,
  RunInstancesCommand,
  StopInstancesCommand,
} from "@aws-sdk/client-ec2";
import { CreateClusterCommand, type EKSClient } from "@aws-sdk/client-eks";
import { AssumeRoleCommand } from "@aws-sdk/client-sts";
import type { AwsCredentialIdentity } from "@smithy/types";
import { AwsClients } from "../../lib/aws/clients.ts";

/** moto's account for the fake base credentials: the scanner's own account in these tests. */
export const SCANNER_ACCOUNT = "123456789012";
export const MEMBER_ACCOUNT = "222222222222";

/** Clients acting in `account`: moto maps AssumeRole credentials to the role's account. */
export async function clientsIn(account: string, region = "us-east-1"): Promise<AwsClients> {
  if (account === SCANNER_ACCOUNT) return new AwsClients({ region });
  const home = new AwsClients({ region: "us-east-1" });
  const { Credentials: c } = await home.sts.send(
    new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${account}:role/seed`, RoleSessionName: "seed" }),
  );
  home.destroy();
  const credentials: AwsCredentialIdentity = {
    accessKeyId: c?.AccessKeyId ?? "",
    secretAccessKey: c?.SecretAccessKey ?? "",
    ...(c?.SessionToken ? { sessionToken: c.SessionToken } : {}),
  };
  return new AwsClients({ region, credentials });
}

export async function firstSubnet(ec2: EC2Client): Promise<{ subnetId: string; vpcId: string }> {
  const { Subnets } = await ec2.send(new DescribeSubnetsCommand({}));
  const subnet = Subnets?.[0];
  if (!subnet?.SubnetId || !subnet.VpcId) throw new Error("moto has no default subnet");
  return { subnetId: subnet.SubnetId, vpcId: subnet.VpcId };
}

/** A VPC subnet whose instances get no public IP unless we give them one (no address moto invents). */
export async function privateSubnet(ec2: EC2Client): Promise<{ subnetId: string; vpcId: string }> {
  const { Vpc } = await ec2.send(new CreateVpcCommand({ CidrBlock: "10.20.0.0/16" }));
  const vpcId = Vpc?.VpcId as string;
  const { Subnet } = await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: "10.20.1.0/24" }));
  return { subnetId: Subnet?.SubnetId as string, vpcId };
}

let groupCounter = 0;
export async function securityGroup(
  ec2: EC2Client,
  vpcId: string,
  permissions: IpPermission[],
): Promise<string> {
  const { GroupId } = await ec2.send(
    new CreateSecurityGroupCommand({
      GroupName: `pw-test-${++groupCounter}`,
      Description: "test",
      VpcId: vpcId,
    }),
  );
  if (!GroupId) throw new Error("no group id");
  if (permissions.length > 0)
    await ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId, IpPermissions: permissions }));
  return GroupId;
}

export function tcpFromWorld(from: number, to = from): IpPermission {
  return { IpProtocol: "tcp", FromPort: from, ToPort: to, IpRanges: [{ CidrIp: "0.0.0.0/0" }] };
}

export async function instance(
  ec2: EC2Client,
  options: { subnetId: string; groupIds: string[]; tags: Record<string, string> },
): Promise<string> {
  const { Instances } = await ec2.send(
    new RunInstancesCommand({
      ImageId: "ami-12c6146b",
      InstanceType: "t3.micro",
      MinCount: 1,
      MaxCount: 1,
      SubnetId: options.subnetId,
      SecurityGroupIds: options.groupIds,
      TagSpecifications: [
        {
          ResourceType: "instance",
          Tags: Object.entries(options.tags).map(([Key, Value]) => ({ Key, Value })),
        },
      ],
    }),
  );
  const id = Instances?.[0]?.InstanceId;
  if (!id) throw new Error("no instance id");
  return id;
}

export async function stop(ec2: EC2Client, instanceId: string): Promise<void> {
  await ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] }));
}

/** An Elastic IP we choose (documentation ranges: nothing ever connects to it). */
export async function elasticIp(
  ec2: EC2Client,
  address: string,
  target: { instanceId?: string; eniId?: string },
) {
  const { AllocationId } = await ec2.send(new AllocateAddressCommand({ Domain: "vpc", Address: address }));
  await ec2.send(
    new AssociateAddressCommand({
      AllocationId,
      ...(target.eniId ? { NetworkInterfaceId: target.eniId } : { InstanceId: target.instanceId }),
    }),
  );
}

/** A second interface with its own groups, attached at device index 1. */
export async function secondInterface(
  ec2: EC2Client,
  instanceId: string,
  subnetId: string,
  groupIds: string[],
) {
  const { NetworkInterface } = await ec2.send(
    new CreateNetworkInterfaceCommand({ SubnetId: subnetId, Groups: groupIds }),
  );
  const eniId = NetworkInterface?.NetworkInterfaceId;
  if (!eniId) throw new Error("no ENI id");
  await ec2.send(
    new AttachNetworkInterfaceCommand({ InstanceId: instanceId, NetworkInterfaceId: eniId, DeviceIndex: 1 }),
  );
  return eniId;
}

export async function eksCluster(
  eks: EKSClient,
  name: string,
  vpc: { subnetId: string; publicAccess?: boolean; privateAccess?: boolean; publicAccessCidrs?: string[] },
): Promise<void> {
  await eks.send(
    new CreateClusterCommand({
      name,
      roleArn: "arn:aws:iam::123456789012:role/eks",
      version: "1.31",
      resourcesVpcConfig: {
        subnetIds: [vpc.subnetId],
        ...(vpc.publicAccess !== undefined ? { endpointPublicAccess: vpc.publicAccess } : {}),
        ...(vpc.privateAccess !== undefined ? { endpointPrivateAccess: vpc.privateAccess } : {}),
        ...(vpc.publicAccessCidrs ? { publicAccessCidrs: vpc.publicAccessCidrs } : {}),
      },
    }),
  );
}
