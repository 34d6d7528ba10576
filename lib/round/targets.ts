import { createHash } from "node:crypto";
import { isIP } from "node:net";
import ipaddr from "ipaddr.js";
import { z } from "zod";
import {
  accountIdSchema,
  clusterNameSchema,
  firstProblem,
  instanceIdSchema,
  ipAddressSchema,
  ipsOf,
  regionNameSchema,
} from "../config/inventory-file.ts";
import { parseInput } from "../config/zod-input.ts";
import { nodeTagsInputSchema } from "../discovery/node-tags.ts";
import type { Inventory, InventoryRejection } from "../discovery/types.ts";
import { InputError } from "../errors/errors.ts";
import { endpointFindings } from "../exposure/eks-endpoint.ts";
import type { Finding, NodeContext } from "../findings/types.ts";
import type { PortSet } from "../ports/port-set.ts";
import { portSetSchema } from "../ports/port-set-schema.ts";

/** One address to scan, with what we know about where it lives and what its security groups allow. */
export interface ScanTarget extends NodeContext {
  ip: string;
  /** Ports some SG opens to 0.0.0.0/0 or ::/0. Absent: no SG data (`--targets`). */
  internetAllowed?: PortSet;
  /** Ports opened only to specific public CIDRs. */
  publicCidrAllowed?: PortSet;
  /** This round's coverage slice (lib/coverage): scanned on top of the profile and SG ports. */
  coveragePorts?: PortSet;
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
          ...(node.tags ? { tags: node.tags } : {}),
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

/** Most addresses one `scan`/`run --targets` may expand to: a /20 of IPv4 (a typo must not scan a /8). */
export const MAX_TARGET_ADDRESSES = 4096;
/** A DNS name is at most 253 characters. */
const MAX_NAME_CHARS = 253;

/** One item of a target list after parsing: an address to scan, or a name still to resolve. */
export type TargetItem = { kind: "ip"; ip: string; given: string } | { kind: "name"; name: string };

export interface TargetGrammarOptions {
  /** The flag or argument the items came from, named in every error (`--targets`, `HOST`). */
  field: string;
  /** Default MAX_TARGET_ADDRESSES. */
  maxAddresses?: number;
}

function refuse(field: string, item: string, why: string): never {
  throw new InputError(field, `'${item.length > 60 ? `${item.slice(0, 60)}...` : item}' ${why}`);
}

/** Every address of a CIDR (network and broadcast included: on a cloud VPC range both can be hosts). */
function expandCidr(item: string, field: string, room: number, cap: number): string[] {
  let network: ipaddr.IPv4 | ipaddr.IPv6;
  let prefix: number;
  try {
    [network, prefix] = ipaddr.parseCIDR(item);
  } catch {
    return refuse(field, item, "is not a CIDR (e.g. 127.0.0.0/30 or ::1/128)");
  }
  const bits = network.kind() === "ipv4" ? 32 : 128;
  const hostBits = bits - prefix;
  if (hostBits > 30 || 2 ** hostBits > room) {
    const size = hostBits > 52 ? `2^${hostBits}` : (2 ** hostBits).toLocaleString("en-US");
    return refuse(
      field,
      item,
      `expands to ${size} addresses, over the cap of ${cap.toLocaleString("en-US")} per run${room < cap ? ` (${room.toLocaleString("en-US")} left after the items before it)` : ""}; scan smaller blocks`,
    );
  }
  const bytes = network.toByteArray();
  // Clear the host bits (a CIDR written with host bits set, 127.0.0.1/30, means its network).
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, prefix - i * 8));
    bytes[i] = (bytes[i] ?? 0) & ((0xff << (8 - keep)) & 0xff);
  }
  const out: string[] = [];
  for (let n = 0; n < 2 ** hostBits; n++) {
    const address = [...bytes];
    let carry = n;
    for (let i = address.length - 1; i >= 0 && carry > 0; i--) {
      address[i] = (address[i] ?? 0) + (carry & 0xff);
      carry = Math.floor(carry / 256);
    }
    out.push(ipaddr.fromByteArray(address).toString());
  }
  return out;
}

/**
 * The one target grammar of `portwarden scan` and `portwarden run --targets`: each item (a
 * comma list or separate arguments) is an IPv4/IPv6 address (`[::1]` too), a CIDR (expanded to
 * every address), or a DNS name (resolved later to every address). `host:port` and dash ranges
 * are refused with what to write instead; more than `maxAddresses` addresses in all is refused.
 * Duplicates are dropped, order is kept.
 */
export function parseTargetList(items: readonly string[], options: TargetGrammarOptions): TargetItem[] {
  const { field } = options;
  const cap = options.maxAddresses ?? MAX_TARGET_ADDRESSES;
  const out: TargetItem[] = [];
  const seen = new Set<string>();
  let addresses = 0;
  const add = (item: TargetItem) => {
    const key = item.kind === "ip" ? item.ip : item.name.toLowerCase();
    if (seen.has(key)) return;
    seen.add(key);
    out.push(item);
    addresses++;
    if (addresses > cap)
      throw new InputError(
        field,
        `more than ${cap.toLocaleString("en-US")} addresses in one run; split the list or use smaller CIDRs`,
      );
  };
  for (const raw of items.flatMap((i) => i.split(","))) {
    const item = raw.trim();
    if (item === "") throw new InputError(field, `empty item in '${items.join(",")}'`);
    if (item.length > MAX_NAME_CHARS) refuse(field, item, `is longer than ${MAX_NAME_CHARS} characters`);
    const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(item);
    if (bracketed?.[2] !== undefined)
      refuse(
        field,
        item,
        `is host:port; give the address alone and ports with --ports (e.g. --ports ${bracketed[2]})`,
      );
    const literal = bracketed?.[1] ?? item;
    if (isIP(literal)) {
      add({ kind: "ip", ip: ipaddr.parse(literal).toString(), given: item });
      continue;
    }
    if (item.includes("/")) {
      for (const ip of expandCidr(item, field, cap - addresses, cap)) add({ kind: "ip", ip, given: item });
      continue;
    }
    const hostPort = /^([^:]+):(\d*)$/.exec(item);
    if (hostPort)
      refuse(
        field,
        item,
        `is host:port; give the host alone and ports with --ports (e.g. ${hostPort[1]} --ports ${hostPort[2] || "22"})`,
      );
    if (/^[0-9a-f.:]+-[0-9a-f.:]*$/i.test(item) && /^[\d.]+-|:.*-/.test(item))
      refuse(field, item, "is an address range; ranges are not supported, write a CIDR (e.g. 10.0.0.0/29)");
    if (
      !/^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$/.test(
        item,
      )
    )
      refuse(field, item, "is not an IP address, CIDR or host name");
    if (/^[\d.]+$/.test(item))
      refuse(field, item, "is not an IP address (nor a host name: names are not all digits)");
    add({ kind: "name", name: item });
  }
  return out;
}

const scanTargetSchema = z.strictObject({
  ip: ipAddressSchema,
  account: accountIdSchema.optional(),
  region: regionNameSchema.optional(),
  cluster: clusterNameSchema.optional(),
  instanceId: instanceIdSchema.optional(),
  // Re-selected on read: a batch item never carries more than the bounded selection on.
  tags: nodeTagsInputSchema.optional(),
  internetAllowed: portSetSchema.optional(),
  publicCidrAllowed: portSetSchema.optional(),
  coveragePorts: portSetSchema.optional(),
});

/** Items of one list: the Map's ItemBatcher sends a few; a file of targets may hold more. */
export const SCAN_TARGETS_MAX = 10_000;

/**
 * Validates a list of ScanTargets from outside (a Step Functions item batch, a file), one by one:
 * a bad item is returned in `rejected` with its reason (`targets[3].ip: 'x' is not an IP address`)
 * and the others are scanned. Only a list that is not a list (or too long) throws.
 */
export function parseScanTargets(
  data: unknown,
  root = "targets",
): { targets: ScanTarget[]; rejected: InventoryRejection[] } {
  const items = parseInput(z.array(z.unknown()).max(SCAN_TARGETS_MAX), data, root);
  const targets: ScanTarget[] = [];
  const rejected: InventoryRejection[] = [];
  items.forEach((item, i) => {
    const parsed = scanTargetSchema.safeParse(item, { reportInput: true });
    if (parsed.success) {
      const { tags, ...target } = parsed.data;
      targets.push((tags ? { ...target, tags } : target) as ScanTarget);
      return;
    }
    const path = `${root}[${i}]`;
    const [address] = ipsOf({ publicIps: [(item as { ip?: unknown } | null)?.ip] });
    rejected.push({ target: address ?? path, error: firstProblem(parsed.error, path) });
  });
  return { targets, rejected };
}
