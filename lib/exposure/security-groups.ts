import type { IpPermission, SecurityGroup } from "@aws-sdk/client-ec2";
import { type Cidr, cidrContains, parseCidr } from "../net/cidr.ts";
import { MAX_PORT, MIN_PORT, PortSet } from "../ports/port-set.ts";

/**
 * What the union of some security groups lets in on TCP from outside the VPC, split by who may
 * connect. The two sets are disjoint: a port open to the world is not also listed under
 * `publicCidrs`. Ports opened only to private CIDRs, other groups or prefix lists are in neither.
 */
export interface IngressExposure {
  /** Ports some rule opens to 0.0.0.0/0 or ::/0. */
  internet: PortSet;
  /** Ports opened to specific public CIDRs (a public /8 included), but not to the whole internet. */
  publicCidrs: PortSet;
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
        if (scope === "internet") internet = internet.union(ports);
        else if (scope === "public") publicCidrs = publicCidrs.union(ports);
      }
      // Other groups and prefix lists are sources we do not resolve: internal, so in neither set.
    }
  }
  return { internet, publicCidrs: publicCidrs.subtract(internet) };
}

/** `internet` for 0.0.0.0/0 and ::/0 (any /0), `public` if any address in it is public, else `internal`. */
export function classifyCidr(cidr: string): SourceScope {
  const parsed = parseCidr(cidr);
  // An unreadable source is treated as public: over-reporting beats hiding an exposure.
  if (!parsed) return "public";
  if (parsed.prefix === 0) return "internet";
  return INTERNAL_BLOCKS.some((block) => cidrContains(block, parsed)) ? "internal" : "public";
}

/** RFC 1918, shared (CGNAT), loopback, link-local; ULA, link-local and loopback for IPv6. */
const INTERNAL_BLOCKS = [
  "10.0.0.0/8",
  "172.16.0.0/12",
  "192.168.0.0/16",
  "100.64.0.0/10",
  "127.0.0.0/8",
  "169.254.0.0/16",
  "fc00::/7",
  "fe80::/10",
  "::1/128",
]
  .map(parseCidr)
  .filter((c): c is Cidr => c !== undefined);
