import { isIP } from "node:net";
import { z } from "zod";
import type { Inventory } from "../discovery/types.ts";
import { isIpOrCidr } from "../net/cidr.ts";
import { parsePortSpec } from "../ports/port-spec.ts";
import { readJsonFile } from "./config-file.ts";
import { parseInput } from "./zod-input.ts";

/** An inventory of thousands of nodes is a few MB; anything far larger is not an inventory. */
export const MAX_INVENTORY_BYTES = 64 * 1024 * 1024;

/** An IPv4 or IPv6 address. */
export const ipAddressSchema = z.string().refine((v) => isIP(v) !== 0, { error: "is not an IP address" });
/** A port SPEC, or "" for no ports (a security group that opens none). */
export const portSpecTextSchema = z.string().refine(
  (v) => {
    if (v.trim() === "") return true;
    try {
      parsePortSpec(v);
      return true;
    } catch {
      return false;
    }
  },
  { error: "is not a port SPEC (e.g. '22,443,30000-32767')" },
);

const nodeSchema = z.object({
  instanceId: z.string().min(1).max(64),
  privateIps: z.array(ipAddressSchema).optional(),
  publicIps: z.array(ipAddressSchema),
  internetAllowed: portSpecTextSchema,
  publicCidrAllowed: portSpecTextSchema.optional(),
  interfaces: z
    .array(
      z.object({
        id: z.string(),
        publicIps: z.array(ipAddressSchema),
        securityGroupIds: z.array(z.string()),
        internetAllowed: portSpecTextSchema,
        publicCidrAllowed: portSpecTextSchema.optional(),
      }),
    )
    .optional(),
});

const clusterSchema = z.object({
  account: z.string().min(1).max(64),
  region: z.string().min(1).max(64),
  name: z.string().min(1).max(200),
  kind: z.enum(["eks", "self-managed"]),
  version: z.string().optional(),
  vpcId: z.string().optional(),
  endpoint: z
    .object({
      url: z.url().optional(),
      publicAccess: z.boolean(),
      privateAccess: z.boolean().optional(),
      publicAccessCidrs: z.array(z.string().refine(isIpOrCidr, { error: "is not a CIDR" })),
    })
    .optional(),
  nodeGroups: z.array(z.string()).optional(),
  nodes: z.array(nodeSchema),
});

/** The `portwarden inventory --json` document, as `run --inventory FILE` accepts it. */
export const inventorySchema = z.object({
  clusters: z.array(clusterSchema),
  errors: z
    .array(z.object({ account: z.string(), region: z.string().optional(), message: z.string() }))
    .default([]),
  inventoried: z.array(z.object({ account: z.string(), region: z.string() })).optional(),
}) satisfies z.ZodType<Inventory, unknown>;

/** Validates an inventory; errors read `inventory.clusters[0].nodes[1].publicIps[0]: 'x' is not an IP address`. */
export function parseInventory(data: unknown): Inventory {
  return parseInput(inventorySchema, data, "inventory") as Inventory;
}

export async function loadInventoryFile(path: string): Promise<Inventory> {
  return parseInventory(await readJsonFile(path, "--inventory", MAX_INVENTORY_BYTES));
}
