import { isIP } from "node:net";
import { z } from "zod";
import {
  ACCOUNT_ID_CHARS,
  CLUSTER_NAME_MAX_CHARS,
  ENDPOINT_PUBLIC_CIDRS_MAX,
  INSTANCE_ID_MAX_CHARS,
  IP_MAX_CHARS,
  MESSAGE_MAX_CHARS,
  NETWORK_INTERFACE_ID_MAX_CHARS,
  NODE_GROUP_NAME_MAX_CHARS,
  REGION_MAX_CHARS,
  SECURITY_GROUP_ID_MAX_CHARS,
  SECURITY_GROUPS_PER_INTERFACE_MAX,
  URL_MAX_CHARS,
  VERSION_MAX_CHARS,
  VPC_ID_MAX_CHARS,
} from "../contracts/limits.ts";
import { nodeTagsInputSchema } from "../discovery/node-tags.ts";
import type { ClusterInventory, Inventory, InventoryRejection, NodeInventory } from "../discovery/types.ts";
import { isIpOrCidr } from "../net/cidr.ts";
import { portSetSchema } from "../ports/port-set-schema.ts";
import { readJsonFile } from "./config-file.ts";
import { boundedText, describeIssue, fieldPath, parseInput } from "./zod-input.ts";

/** An inventory of thousands of nodes is a few MB; anything far larger is not an inventory. */
export const MAX_INVENTORY_BYTES = 64 * 1024 * 1024;
/** Public IPs of one node (interfaces × addresses per interface, with IPv6): generous. */
const PUBLIC_IPS_PER_NODE_MAX = 1_000;
/** Network interfaces per instance (the largest instance types have 100+). */
const INTERFACES_PER_NODE_MAX = 256;

/** An IPv4 or IPv6 address (at most the 45 characters of the longest IPv6 text form). */
export const ipAddressSchema = z
  .string()
  .max(IP_MAX_CHARS)
  .refine((v) => isIP(v) !== 0, { error: "is not an IP address" });
const ip = ipAddressSchema;
/** A 12-digit AWS account id. */
const accountPattern = new RegExp(`^\\d{${ACCOUNT_ID_CHARS}}$`);
export const accountIdSchema = z.string().refine((v) => accountPattern.test(v), {
  error: `is not a ${ACCOUNT_ID_CHARS}-digit AWS account id`,
});
export const regionNameSchema = boundedText(REGION_MAX_CHARS, 1);
export const clusterNameSchema = boundedText(CLUSTER_NAME_MAX_CHARS, 1);
export const instanceIdSchema = boundedText(INSTANCE_ID_MAX_CHARS, 1);
/** A port SPEC, or "" for no ports (a security group that opens none), read into a PortSet. */
const spec = portSetSchema;

const nodeSchema = z.object({
  instanceId: instanceIdSchema,
  tags: nodeTagsInputSchema.optional(),
  privateIps: z.array(ip).max(PUBLIC_IPS_PER_NODE_MAX).optional(),
  publicIps: z.array(ip).max(PUBLIC_IPS_PER_NODE_MAX),
  internetAllowed: spec,
  publicCidrAllowed: spec.optional(),
  interfaces: z
    .array(
      z.object({
        id: boundedText(NETWORK_INTERFACE_ID_MAX_CHARS),
        publicIps: z.array(ip).max(PUBLIC_IPS_PER_NODE_MAX),
        securityGroupIds: z
          .array(boundedText(SECURITY_GROUP_ID_MAX_CHARS))
          .max(SECURITY_GROUPS_PER_INTERFACE_MAX),
        internetAllowed: spec,
        publicCidrAllowed: spec.optional(),
      }),
    )
    .max(INTERFACES_PER_NODE_MAX)
    .optional(),
}) satisfies z.ZodType<NodeInventory, unknown>;

/** A cluster's own fields; its nodes are checked one by one (nodeSchema). */
const clusterFieldsSchema = z.object({
  account: accountIdSchema,
  region: regionNameSchema,
  name: clusterNameSchema,
  kind: z.enum(["eks", "self-managed"]),
  version: boundedText(VERSION_MAX_CHARS).optional(),
  vpcId: boundedText(VPC_ID_MAX_CHARS).optional(),
  endpoint: z
    .object({
      url: z.url().max(URL_MAX_CHARS).optional(),
      publicAccess: z.boolean(),
      privateAccess: z.boolean().optional(),
      publicAccessCidrs: z
        .array(
          z
            .string()
            .max(IP_MAX_CHARS + 4)
            .refine(isIpOrCidr, { error: "is not a CIDR" }),
        )
        .max(ENDPOINT_PUBLIC_CIDRS_MAX),
    })
    .optional(),
  nodeGroups: z.array(boundedText(NODE_GROUP_NAME_MAX_CHARS)).max(10_000).optional(),
});

/**
 * The document's shape: what must hold for it to be an inventory at all. A shape error refuses the
 * file (naming the field); a bad value inside a cluster or a node fails only that cluster or node.
 */
const shapeSchema = z.object({
  clusters: z.array(z.object({ nodes: z.array(z.looseObject({})) }).loose()),
  errors: z
    .array(
      z.object({
        account: boundedText(64),
        region: boundedText(REGION_MAX_CHARS).optional(),
        message: boundedText(MESSAGE_MAX_CHARS),
      }),
    )
    .default([]),
  inventoried: z
    .array(z.object({ account: boundedText(64), region: boundedText(REGION_MAX_CHARS) }))
    .optional(),
});

/** The valid IPs of an entry that failed validation: its round-failed alerts are about them. */
export function ipsOf(node: unknown): string[] {
  const ips = (node as { publicIps?: unknown } | null)?.publicIps;
  if (!Array.isArray(ips)) return [];
  return ips.filter((v): v is string => typeof v === "string" && v.length <= IP_MAX_CHARS && isIP(v) !== 0);
}

/** The first problem of a failed parse, as `path: message` (one line, value quoted and bounded). */
export function firstProblem(error: z.ZodError, root: string): string {
  const first = error.issues[0];
  if (!first) return `${root}: invalid`;
  const { field, message } = describeIssue(first, root);
  const more = error.issues.length > 1 ? ` (and ${error.issues.length - 1} more problems)` : "";
  return `${field}: ${message}${more}`;
}

/**
 * Validates an inventory, isolating bad entries:
 * - not an inventory at all (not an object, `clusters` not an array of objects with a `nodes`
 *   array of objects, malformed `errors`): InputError naming the field, e.g.
 *   `inventory.clusters[0].nodes: is required (array)`; nothing is scanned;
 * - a bad value in a cluster's own fields (account, region, name, ...): that cluster and its nodes
 *   are left out, each listed in `rejected` with the reason;
 * - a bad value in a node (an IP, an oversized id, a port SPEC): that node is left out and listed
 *   in `rejected`; the rest of the file is used.
 */
export function parseInventory(data: unknown): Inventory {
  const shape = parseInput(shapeSchema, data, "inventory");
  const clusters: ClusterInventory[] = [];
  const rejected: InventoryRejection[] = [];
  const reject = (path: string, nodes: readonly unknown[], reason: string) => {
    const ips = nodes.flatMap(ipsOf);
    if (ips.length === 0) rejected.push({ target: path, error: reason });
    for (const address of ips) rejected.push({ target: address, error: reason });
  };
  shape.clusters.forEach((rawCluster, c) => {
    const clusterPath = fieldPath("inventory", ["clusters", c]);
    const { nodes: rawNodes, ...fields } = rawCluster;
    const header = clusterFieldsSchema.safeParse(fields, { reportInput: true });
    if (!header.success) {
      reject(clusterPath, rawNodes, firstProblem(header.error, clusterPath));
      return;
    }
    const nodes: NodeInventory[] = [];
    rawNodes.forEach((rawNode, n) => {
      const nodePath = `${clusterPath}.nodes[${n}]`;
      const node = nodeSchema.safeParse(rawNode, { reportInput: true });
      if (node.success) {
        const { tags, ...rest } = node.data;
        nodes.push((tags ? { ...rest, tags } : rest) as NodeInventory);
      } else reject(nodePath, [rawNode], firstProblem(node.error, nodePath));
    });
    clusters.push({ ...(header.data as Omit<ClusterInventory, "nodes">), nodes });
  });
  return {
    clusters,
    errors: shape.errors as Inventory["errors"],
    ...(shape.inventoried ? { inventoried: shape.inventoried } : {}),
    ...(rejected.length > 0 ? { rejected } : {}),
  };
}

export async function loadInventoryFile(path: string): Promise<Inventory> {
  return parseInventory(await readJsonFile(path, "--inventory", MAX_INVENTORY_BYTES));
}
