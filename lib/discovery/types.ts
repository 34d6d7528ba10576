import type { PortSet } from "../ports/port-set.ts";

/**
 * The cross-account inventory: the JSON contract of `portwarden inventory --json` and the input of
 * `portwarden run --inventory FILE`. Owned by lib/discovery; extend, don't rename. Port sets are
 * PortSet values here and their canonical SPEC text in JSON (`PortSet.toJSON`, read back by
 * `parseInventory`).
 */
export interface Inventory {
  clusters: ClusterInventory[];
  errors: InventoryError[];
  /** Every account+region discovery read completely (absent in hand-written inventories). */
  inventoried?: Array<{ account: string; region: string }>;
  /**
   * Set by `parseInventory` only (never by discovery): entries of an inventory file left out for a
   * bad value, each failing its own targets; the rest of the file is used.
   */
  rejected?: InventoryRejection[];
}

/** An inventory entry (cluster or node) or a Scan item that was left out, and why. */
export interface InventoryRejection {
  /** The entry's public IP when it had a valid one, else its path (`inventory.clusters[0].nodes[3]`). */
  target: string;
  /** `inventory.clusters[0].nodes[3].instanceId: 'i-…' is longer than 19 characters` */
  error: string;
}

export interface InventoryError {
  account: string;
  region?: string;
  message: string;
}

export interface ClusterInventory {
  account: string;
  region: string;
  name: string;
  kind: "eks" | "self-managed";
  version?: string;
  vpcId?: string;
  /** EKS API endpoint access; absent for self-managed clusters. */
  endpoint?: {
    url?: string;
    publicAccess: boolean;
    privateAccess?: boolean;
    publicAccessCidrs: string[];
  };
  /** EKS managed node group names (nodes are found by tags, this is for the record). */
  nodeGroups?: string[];
  nodes: NodeInventory[];
}

export interface NodeInventory {
  instanceId: string;
  /**
   * The node's EC2 tags that travel with its findings (Name, cluster and node-group tags first),
   * bounded to 50 tags and 2 KiB: see `selectNodeTags` (lib/discovery/node-tags.ts).
   */
  tags?: Record<string, string>;
  privateIps?: string[];
  /** Public IPv4 (incl. Elastic IPs) and IPv6 addresses over all interfaces. */
  publicIps: string[];
  /** TCP ports some security group on some interface opens to 0.0.0.0/0 or ::/0. */
  internetAllowed: PortSet;
  /** TCP ports opened only to specific public CIDRs. */
  publicCidrAllowed?: PortSet;
  interfaces?: NetworkInterfaceInventory[];
}

export interface NetworkInterfaceInventory {
  id: string;
  publicIps: string[];
  securityGroupIds: string[];
  internetAllowed: PortSet;
  publicCidrAllowed?: PortSet;
}
