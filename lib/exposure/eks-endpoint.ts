import type { Finding } from "../findings/types.ts";
import { classifyCidr } from "./security-groups.ts";

/**
 * What endpoint reasoning needs of a cluster (discovery's ClusterInventory has it): declared here
 * so that exposure/ reads no discovery/ types and discovery/ can use exposure/ without a cycle.
 */
export interface EksCluster {
  account: string;
  region: string;
  name: string;
  endpoint?: {
    url?: string;
    publicAccess: boolean;
    privateAccess?: boolean;
    publicAccessCidrs: string[];
  };
}

/** A cluster-level finding before it is given a store id (the round keys it by cluster). */
export type ClusterFinding = Omit<Finding, "ip">;

/**
 * Config findings about a cluster: an EKS API endpoint that is public with 0.0.0.0/0 or ::/0 in
 * `publicAccessCidrs` (the EKS default). Restricted CIDRs are recorded in the inventory, not flagged.
 */
export function endpointFindings(cluster: EksCluster): ClusterFinding[] {
  const endpoint = cluster.endpoint;
  if (!endpoint?.publicAccess) return [];
  const worldCidr = endpoint.publicAccessCidrs.find((c) => classifyCidr(c) === "internet");
  if (!worldCidr) return [];
  const host = endpoint.url ? hostOf(endpoint.url) : "the public endpoint";
  return [
    {
      port: 443,
      account: cluster.account,
      region: cluster.region,
      cluster: cluster.name,
      service: "eks-api-endpoint",
      severity: endpoint.privateAccess ? "medium" : "high",
      kind: "exposed",
      evidence: `EKS API endpoint ${host} accepts connections from ${worldCidr}${endpoint.privateAccess ? "" : "; private access is off"}`,
      fix: "Turn on private endpoint access and restrict publicAccessCidrs to your management networks (or turn public access off).",
    },
  ];
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return "the public endpoint";
  }
}
