import {
  type Filter,
  type Instance,
  type InstanceNetworkInterface,
  paginateDescribeInstances,
  paginateDescribeSecurityGroups,
  type SecurityGroup,
} from "@aws-sdk/client-ec2";
import {
  type Cluster,
  DescribeClusterCommand,
  paginateListClusters,
  paginateListNodegroups,
} from "@aws-sdk/client-eks";
import type { AwsClients } from "../aws/clients.ts";
import { analyzeIngress } from "../exposure/security-groups.ts";
import { type AddressPolicy, addressRefusal, PUBLIC_ONLY } from "../net/address-policy.ts";
import { PortSet } from "../ports/port-set.ts";
import { EKS_NAME_TAGS, K8S_CLUSTER_TAG_PREFIX, selectNodeTags } from "./node-tags.ts";
import type { ClusterInventory, NetworkInterfaceInventory, NodeInventory } from "./types.ts";

/**
 * The cluster an instance is a node of, from its tags, or undefined for an instance of no cluster.
 * Standard EKS tags first, then `kubernetes.io/cluster/<name>` (owned|shared), then `extraTagKeys`.
 */
export function clusterNameOf(instance: Instance, extraTagKeys: readonly string[] = []): string | undefined {
  const tags = new Map((instance.Tags ?? []).map((t) => [t.Key ?? "", t.Value ?? ""]));
  for (const key of EKS_NAME_TAGS) {
    const value = tags.get(key);
    if (value) return value;
  }
  for (const [key, value] of tags) {
    const name = key.slice(K8S_CLUSTER_TAG_PREFIX.length);
    if (key.startsWith(K8S_CLUSTER_TAG_PREFIX) && name && (value === "owned" || value === "shared"))
      return name;
  }
  for (const key of extraTagKeys) {
    const value = tags.get(key);
    if (value) return value;
  }
  return undefined;
}

/** Every cluster and node in one account+region. Throws on any API failure: the caller records it. */
export async function inventoryRegion(
  clients: AwsClients,
  account: string,
  region: string,
  extraTagKeys: readonly string[] = [],
  addresses: AddressPolicy = PUBLIC_ONLY,
): Promise<ClusterInventory[]> {
  const eksClusters = await describeEksClusters(clients);
  const instances = await runningClusterInstances(clients, extraTagKeys);
  const nodesByCluster = new Map<string, Instance[]>();
  for (const instance of instances) {
    const name = clusterNameOf(instance, extraTagKeys);
    if (name === undefined) continue;
    // Push, never copy: a copy per node made 40k nodes of one cluster quadratic (9.5 s of CPU).
    const nodes = nodesByCluster.get(name);
    if (nodes) nodes.push(instance);
    else nodesByCluster.set(name, [instance]);
  }
  const groups =
    nodesByCluster.size > 0 ? await securityGroupsById(clients) : new Map<string, SecurityGroup>();

  const clusters: ClusterInventory[] = [];
  for (const { cluster, nodeGroups } of eksClusters) {
    const name = cluster.name ?? "";
    clusters.push({
      account,
      region,
      name,
      kind: "eks",
      ...(cluster.version ? { version: cluster.version } : {}),
      ...(cluster.resourcesVpcConfig?.vpcId ? { vpcId: cluster.resourcesVpcConfig.vpcId } : {}),
      endpoint: endpointOf(cluster),
      nodeGroups,
      nodes: (nodesByCluster.get(name) ?? []).map((i) => nodeInventory(i, groups, addresses, extraTagKeys)),
    });
    nodesByCluster.delete(name);
  }
  for (const [name, nodes] of nodesByCluster) {
    const vpcId = nodes[0]?.VpcId;
    clusters.push({
      account,
      region,
      name,
      kind: "self-managed",
      ...(vpcId ? { vpcId } : {}),
      nodes: nodes.map((i) => nodeInventory(i, groups, addresses, extraTagKeys)),
    });
  }
  return clusters.sort((a, b) => a.name.localeCompare(b.name));
}

function endpointOf(cluster: Cluster): NonNullable<ClusterInventory["endpoint"]> {
  const vpc = cluster.resourcesVpcConfig;
  const publicAccess = vpc?.endpointPublicAccess ?? true;
  return {
    ...(cluster.endpoint ? { url: cluster.endpoint } : {}),
    publicAccess,
    privateAccess: vpc?.endpointPrivateAccess ?? false,
    // EKS reports 0.0.0.0/0 when public access has no restriction; keep it explicit if omitted.
    publicAccessCidrs: publicAccess ? (vpc?.publicAccessCidrs ?? ["0.0.0.0/0"]) : [],
  };
}

async function describeEksClusters(
  clients: AwsClients,
): Promise<Array<{ cluster: Cluster; nodeGroups: string[] }>> {
  const names: string[] = [];
  for await (const page of paginateListClusters({ client: clients.eks }, {}))
    names.push(...(page.clusters ?? []));
  const out: Array<{ cluster: Cluster; nodeGroups: string[] }> = [];
  for (const name of names) {
    const cluster = await describeClusterIfExists(clients, name);
    if (!cluster) continue;
    const nodeGroups: string[] = [];
    for await (const page of paginateListNodegroups({ client: clients.eks }, { clusterName: name }))
      nodeGroups.push(...(page.nodegroups ?? []));
    out.push({ cluster, nodeGroups });
  }
  return out;
}

async function describeClusterIfExists(clients: AwsClients, name: string): Promise<Cluster | undefined> {
  try {
    return (await clients.eks.send(new DescribeClusterCommand({ name }))).cluster;
  } catch (error) {
    // Deleted between ListClusters and DescribeCluster: gone, not a failure of the region.
    if (error instanceof Error && error.name === "ResourceNotFoundException") return undefined;
    throw error;
  }
}

/**
 * The server-side filter that narrows DescribeInstances to cluster nodes: running, and carrying
 * one of the tag keys `clusterNameOf` reads (values of one filter are ORed, filters ANDed).
 */
export function clusterNodeFilters(extraTagKeys: readonly string[] = []): Filter[] {
  return [
    { Name: "instance-state-name", Values: ["running"] },
    { Name: "tag-key", Values: [...EKS_NAME_TAGS, `${K8S_CLUSTER_TAG_PREFIX}*`, ...extraTagKeys] },
  ];
}

async function runningClusterInstances(
  clients: AwsClients,
  extraTagKeys: readonly string[],
): Promise<Instance[]> {
  // Filtered by EC2 so a region's other instances are never paged through; the checks below stay
  // (the filter is a pre-selection, `clusterNameOf` decides).
  const instances: Instance[] = [];
  const input = { Filters: clusterNodeFilters(extraTagKeys), MaxResults: 1000 };
  for await (const page of paginateDescribeInstances({ client: clients.ec2 }, input))
    for (const reservation of page.Reservations ?? [])
      for (const instance of reservation.Instances ?? [])
        if (instance.State?.Name === "running") instances.push(instance);
  return instances;
}

async function securityGroupsById(clients: AwsClients): Promise<Map<string, SecurityGroup>> {
  const groups = new Map<string, SecurityGroup>();
  for await (const page of paginateDescribeSecurityGroups({ client: clients.ec2 }, {}))
    for (const group of page.SecurityGroups ?? []) if (group.GroupId) groups.set(group.GroupId, group);
  return groups;
}

/**
 * Discovery emits only addresses the policy admits: public ones, unless a person opted in to
 * internal ones (`--allow-private`); a 169.254.x, 0.0.0.0 or fd00:ec2:: "public" IP (an emulator's,
 * a misconfigured account's) never becomes a scan target.
 */
function admitted(ip: string, addresses: AddressPolicy): boolean {
  return addressRefusal(ip, addresses) === undefined;
}

function interfaceInventory(
  eni: InstanceNetworkInterface,
  groups: Map<string, SecurityGroup>,
  addresses: AddressPolicy,
): NetworkInterfaceInventory {
  const publicIps = new Set<string>();
  const publicIp = eni.Association?.PublicIp;
  if (publicIp && admitted(publicIp, addresses)) publicIps.add(publicIp);
  // Secondary private IPs may carry their own Elastic IPs.
  for (const address of eni.PrivateIpAddresses ?? []) {
    const elastic = address.Association?.PublicIp;
    if (elastic && admitted(elastic, addresses)) publicIps.add(elastic);
  }
  for (const address of eni.Ipv6Addresses ?? [])
    if (address.Ipv6Address && admitted(address.Ipv6Address, addresses)) publicIps.add(address.Ipv6Address);
  const securityGroupIds = (eni.Groups ?? []).map((g) => g.GroupId).filter((id): id is string => Boolean(id));
  // A group we could not read is ignored rather than guessed: the scan still shows what is open.
  const ingress = analyzeIngress(securityGroupIds.map((id) => groups.get(id)).filter((g) => g !== undefined));
  return {
    id: eni.NetworkInterfaceId ?? "",
    publicIps: [...publicIps],
    securityGroupIds,
    internetAllowed: ingress.internet,
    publicCidrAllowed: ingress.publicCidrs,
  };
}

function nodeInventory(
  instance: Instance,
  groups: Map<string, SecurityGroup>,
  addresses: AddressPolicy,
  extraTagKeys: readonly string[],
): NodeInventory {
  const enis = [...(instance.NetworkInterfaces ?? [])].sort(
    (a, b) => (a.Attachment?.DeviceIndex ?? 0) - (b.Attachment?.DeviceIndex ?? 0),
  );
  const interfaces = enis.map((eni) => interfaceInventory(eni, groups, addresses));
  if (interfaces.length === 0 && instance.PublicIpAddress)
    // EC2-Classic-shaped answers carry the address on the instance only.
    interfaces.push(
      interfaceInventory(
        { Association: { PublicIp: instance.PublicIpAddress }, Groups: instance.SecurityGroups ?? [] },
        groups,
        addresses,
      ),
    );
  const privateIps = new Set<string>();
  for (const eni of enis)
    for (const address of eni.PrivateIpAddresses ?? [])
      if (address.PrivateIpAddress) privateIps.add(address.PrivateIpAddress);
  if (instance.PrivateIpAddress) privateIps.add(instance.PrivateIpAddress);

  let internet = PortSet.EMPTY;
  let publicCidrs = PortSet.EMPTY;
  for (const eni of interfaces) {
    internet = internet.union(eni.internetAllowed);
    publicCidrs = publicCidrs.union(eni.publicCidrAllowed ?? PortSet.EMPTY);
  }
  const tags = selectNodeTags(instance.Tags, extraTagKeys);
  return {
    instanceId: instance.InstanceId ?? "",
    ...(tags ? { tags } : {}),
    privateIps: [...privateIps],
    publicIps: [...new Set(interfaces.flatMap((i) => i.publicIps))],
    internetAllowed: internet,
    publicCidrAllowed: publicCidrs.subtract(internet),
    interfaces,
  };
}
