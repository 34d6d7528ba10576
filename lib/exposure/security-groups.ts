import type { IpPermission, SecurityGroup } from "@aws-sdk/client-ec2";
import type { ClusterInventory } from "../discovery/types.ts";
import type { Finding } from "../findings/types.ts";
import { MAX_PORT, MIN_PORT, PortSet } from "../ports/port-set.ts";

/**
 * What the union of some security groups lets in on TCP, split by who may connect. The three sets
 * are disjoint: a port open to the world is not also listed under `publicCidrs`.
 */
export interface IngressExposure {
  /** Ports some rule opens to 0.0.0.0/0 or ::/0. */
  internet: PortSet;
  /** Ports opened to specific public CIDRs (a public /8 included), but not to the whole internet. */
  publicCidrs: PortSet;
  /** Ports opened only to private CIDRs, other security groups or prefix lists. */
  internalOnly: PortSet;
  /** Each public source CIDR (world included) with the TCP ports it may reach, for the record. */
  publicSources: PublicSource[];
}

export interface PublicSource {
  cidr: string;
  ports: PortSet;
  /** The security group whose rule says so. */
  groupId?: string;
}

type SourceScope = "internet" | "public" | "internal";

/**
 * The TCP ports one rule covers: `-1` (all protocols) and `tcp`/`6` count, anything else (udp, icmp)
 * opens no TCP port. Missing or -1 port bounds on a TCP rule mean every port.
 */
export function tcpPortsOf(permission: IpPermission): PortSet {
  const protocol = (permission.IpProtocol ?? "").toLowerCase();
  if (protocol === "-1" || protocol === "all") return PortSet.ALL;
  if (protocol !== "tcp" && protocol !== "6") return PortSet.EMPTY;
  const from = permission.FromPort;
  const to = permission.ToPort;
  if (from === undefined || to === undefined || from < 0 || to < 0) return PortSet.ALL;
  const lo = Math.max(MIN_PORT, from);
  const hi = Math.min(MAX_PORT, to);
  return lo <= hi ? PortSet.fromRanges([{ from: lo, to: hi }]) : PortSet.EMPTY;
}

/** Reads the TCP ingress of the given groups (typically all groups of one network interface). */
export function analyzeIngress(groups: readonly SecurityGroup[]): IngressExposure {
  let internet = PortSet.EMPTY;
  let publicCidrs = PortSet.EMPTY;
  let internal = PortSet.EMPTY;
  const publicSources: PublicSource[] = [];

  for (const group of groups) {
    for (const permission of group.IpPermissions ?? []) {
      const ports = tcpPortsOf(permission);
      if (ports.isEmpty) continue;
      const cidrs = [
        ...(permission.IpRanges ?? []).map((r) => r.CidrIp),
        ...(permission.Ipv6Ranges ?? []).map((r) => r.CidrIpv6),
      ].filter((c): c is string => typeof c === "string");
      for (const cidr of cidrs) {
        const scope = classifyCidr(cidr);
        if (scope === "internal") {
          internal = internal.union(ports);
          continue;
        }
        if (scope === "internet") internet = internet.union(ports);
        else publicCidrs = publicCidrs.union(ports);
        publicSources.push({ cidr, ports, ...(group.GroupId ? { groupId: group.GroupId } : {}) });
      }
      // Other groups and prefix lists are sources we do not resolve: internal by the definition.
      if ((permission.UserIdGroupPairs?.length ?? 0) > 0 || (permission.PrefixListIds?.length ?? 0) > 0)
        internal = internal.union(ports);
    }
  }

  const publicOnly = publicCidrs.subtract(internet);
  return {
    internet,
    publicCidrs: publicOnly,
    internalOnly: internal.subtract(internet).subtract(publicOnly),
    publicSources,
  };
}

/** `internet` for 0.0.0.0/0 and ::/0 (any /0), `public` if any address in it is public, else `internal`. */
export function classifyCidr(cidr: string): SourceScope {
  const parsed = parseCidr(cidr);
  // An unreadable source is treated as public: over-reporting beats hiding an exposure.
  if (!parsed) return "public";
  if (parsed.prefix === 0) return "internet";
  const internalBlocks = parsed.version === 4 ? INTERNAL_V4 : INTERNAL_V6;
  return internalBlocks.some((block) => contains(block, parsed)) ? "internal" : "public";
}

interface Cidr {
  version: 4 | 6;
  /** Network address as a bigint, host bits cleared. */
  network: bigint;
  prefix: number;
}

/** RFC 1918, shared (CGNAT), loopback, link-local; ULA, link-local and loopback for IPv6. */
const INTERNAL_V4 = [
  "10.0.0.0/8",
  "172.16.0.0/12",
  "192.168.0.0/16",
  "100.64.0.0/10",
  "127.0.0.0/8",
  "169.254.0.0/16",
]
  .map(parseCidr)
  .filter((c): c is Cidr => c !== undefined);
const INTERNAL_V6 = ["fc00::/7", "fe80::/10", "::1/128"]
  .map(parseCidr)
  .filter((c): c is Cidr => c !== undefined);

function contains(outer: Cidr, inner: Cidr): boolean {
  if (outer.version !== inner.version || inner.prefix < outer.prefix) return false;
  const bits = outer.version === 4 ? 32 : 128;
  const shift = BigInt(bits - outer.prefix);
  return inner.network >> shift === outer.network >> shift;
}

function parseCidr(text: string): Cidr | undefined {
  const [address, prefixText, ...rest] = text.trim().split("/");
  if (address === undefined || rest.length > 0) return undefined;
  const isV6 = address.includes(":");
  const bits = isV6 ? 128 : 32;
  const prefix = prefixText === undefined ? bits : Number(prefixText);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > bits || !/^\d+$/.test(prefixText ?? String(bits)))
    return undefined;
  const value = isV6 ? parseIpv6(address) : parseIpv4(address);
  if (value === undefined) return undefined;
  const hostBits = BigInt(bits - prefix);
  return { version: isV6 ? 6 : 4, network: (value >> hostBits) << hostBits, prefix };
}

function parseIpv4(address: string): bigint | undefined {
  const parts = address.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return undefined;
    value = (value << 8n) | BigInt(part);
  }
  return value;
}

function parseIpv6(address: string): bigint | undefined {
  const halves = address.split("::");
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(":") : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(":") : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...new Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  let value = 0n;
  for (const group of groups) {
    if (!/^[0-9a-f]{1,4}$/i.test(group)) return undefined;
    value = (value << 16n) | BigInt(Number.parseInt(group, 16));
  }
  return value;
}

/** A cluster-level finding before it is given a store id (the round keys it by cluster). */
export type ClusterFinding = Omit<Finding, "ip">;

/**
 * Config findings about a cluster: an EKS API endpoint that is public with 0.0.0.0/0 or ::/0 in
 * `publicAccessCidrs` (the EKS default). Restricted CIDRs are recorded in the inventory, not flagged.
 */
export function endpointFindings(cluster: ClusterInventory): ClusterFinding[] {
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
