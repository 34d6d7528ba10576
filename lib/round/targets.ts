import { createHash } from "node:crypto";
import type { Inventory } from "../discovery/types.ts";
import { endpointFindings } from "../exposure/security-groups.ts";
import type { Finding, NodeContext } from "../findings/types.ts";

/** One address to scan, with what we know about where it lives and what its security groups allow. */
export interface ScanTarget extends NodeContext {
  ip: string;
  /** SPEC of ports some SG opens to 0.0.0.0/0 or ::/0. Absent: no SG data (`--targets`). */
  internetAllowed?: string;
  /** SPEC of ports opened only to specific public CIDRs. */
  publicCidrAllowed?: string;
}

/** One target per public IP of every node (an IP seen twice is scanned once, first context wins). */
export function targetsFromInventory(inventory: Inventory): ScanTarget[] {
  const byIp = new Map<string, ScanTarget>();
  for (const cluster of inventory.clusters) {
    for (const node of cluster.nodes) {
      for (const ip of node.publicIps) {
        if (byIp.has(ip)) continue;
        byIp.set(ip, {
          ip,
          account: cluster.account,
          region: cluster.region,
          cluster: cluster.name,
          instanceId: node.instanceId,
          internetAllowed: node.internetAllowed,
          ...(node.publicCidrAllowed !== undefined ? { publicCidrAllowed: node.publicCidrAllowed } : {}),
        });
      }
    }
  }
  return [...byIp.values()];
}

/** Bare addresses (`--targets`): no context, no SG data. Duplicates are dropped. */
export function targetsFromHosts(hosts: string[]): ScanTarget[] {
  return [...new Set(hosts)].map((ip) => ({ ip }));
}

/**
 * The id a cluster-level finding is stored under in place of an IP: short (store keys are bounded),
 * stable per account/region/cluster, never a routable address.
 */
export function clusterFindingId(account: string, region: string, cluster: string): string {
  const digest = createHash("sha256").update(`${account}/${region}/${cluster}`).digest("hex").slice(0, 16);
  return `eks-${digest}`;
}

/**
 * Findings about clusters rather than nodes: an EKS API endpoint reachable from the whole internet.
 * `ip` is `clusterFindingId(...)`, the endpoint host is in the evidence.
 */
export function clusterFindings(inventory: Inventory): Finding[] {
  // The SG/endpoint reasoning lives in lib/exposure; here it only gets the store id it is kept under.
  return inventory.clusters.flatMap((cluster) =>
    endpointFindings(cluster).map((f) => ({
      ...f,
      ip: clusterFindingId(cluster.account, cluster.region, cluster.name),
    })),
  );
}

/** Every cluster a cluster-level finding could be about, with its finding id (to resolve closed endpoints). */
export function clusterFindingIds(inventory: Inventory): string[] {
  return inventory.clusters.map((c) => clusterFindingId(c.account, c.region, c.name));
}
