import { type AwsClientOptions, AwsClients } from "../aws/clients.ts";
import type { MemberCredentials } from "../discovery/member-credentials.ts";
import { inventoryRegion } from "../discovery/region-inventory.ts";
import type { ClusterInventory } from "../discovery/types.ts";
import { type AddressPolicy, PUBLIC_ONLY } from "../net/address-policy.ts";

/**
 * Reads one account-region the way discovery does (same member role, same inventoryRegion), so a
 * rescan sees the node exactly as the scheduled round would: same context, same SG reasoning.
 * `addresses`: which node addresses count (default public only, as discovery).
 */
export function memberInventoryReader(
  credentials: MemberCredentials,
  extraTagKeys: readonly string[] = [],
  clientOptions: Pick<AwsClientOptions, "instrument"> = {},
  addresses: AddressPolicy = PUBLIC_ONLY,
): (account: string, region: string) => Promise<ClusterInventory[]> {
  return async (account, region) => {
    const creds = await credentials.for(account);
    const clients = new AwsClients({ ...clientOptions, region, ...(creds ? { credentials: creds } : {}) });
    try {
      return await inventoryRegion(clients, account, region, extraTagKeys, addresses);
    } finally {
      clients.destroy();
    }
  };
}
