import { type AwsClientOptions, AwsClients } from "../aws/clients.ts";
import type { MemberCredentials } from "../discovery/member-credentials.ts";
import { inventoryRegion } from "../discovery/region-inventory.ts";
import type { ClusterInventory } from "../discovery/types.ts";

/**
 * Reads one account-region the way discovery does (same member role, same inventoryRegion), so a
 * rescan sees the node exactly as the scheduled round would: same context, same SG reasoning.
 */
export function memberInventoryReader(
  credentials: MemberCredentials,
  extraTagKeys: readonly string[] = [],
  clientOptions: Pick<AwsClientOptions, "instrument"> = {},
): (account: string, region: string) => Promise<ClusterInventory[]> {
  return async (account, region) => {
    const creds = await credentials.for(account);
    const clients = new AwsClients({ ...clientOptions, region, ...(creds ? { credentials: creds } : {}) });
    try {
      return await inventoryRegion(clients, account, region, extraTagKeys);
    } finally {
      clients.destroy();
    }
  };
}
