import type { AwsCredentialIdentity } from "@smithy/types";
import pLimit from "p-limit";
import { type AwsClientOptions, AwsClients } from "../aws/clients.ts";
import { DEFAULT_MEMBER_ROLE_NAME } from "../contracts/deployment.ts";
import { errorMessage } from "../errors/errors.ts";
import { enabledRegions, organizationAccounts } from "./accounts.ts";
import { MemberCredentials } from "./member-credentials.ts";
import { DEFAULT_CONCURRENCY, type DiscoveryOptions, validateDiscoveryOptions } from "./options.ts";
import { inventoryRegion } from "./region-inventory.ts";
import type { ClusterInventory, Inventory, InventoryError } from "./types.ts";

export type { DiscoveryOptions, DiscoveryProgress } from "./options.ts";

export interface DiscoveryDeps {
  /** Clients for one account+region; `credentials` undefined means the scanner's own. */
  clientsFor?: (account: string, region: string, credentials?: AwsCredentialIdentity) => AwsClients;
  /** Clients in the home region with the scanner's own credentials (STS, Organizations). */
  baseClients?: AwsClients;
  /** Wraps every client the default `clientsFor` makes (the Lambda passes its X-Ray Tracer). */
  instrument?: AwsClientOptions["instrument"];
}

const DEFAULT_HOME_REGION = "us-east-1";
const MAX_MESSAGE = 300;

/**
 * The cross-account cluster inventory: accounts × regions → EKS and self-managed clusters → nodes
 * with public IPs and what their security groups let in. An account or region that fails is an
 * entry in `errors`; only invalid options throw (InputError).
 */
export async function discoverInventory(
  options: DiscoveryOptions = {},
  deps: DiscoveryDeps = {},
): Promise<Inventory> {
  validateDiscoveryOptions(options);
  const homeRegion =
    options.homeRegion ??
    options.region ??
    process.env.AWS_REGION ??
    process.env.AWS_DEFAULT_REGION ??
    DEFAULT_HOME_REGION;
  const made: AwsClients[] = [];
  const clientsFor =
    deps.clientsFor ??
    ((_account: string, region: string, credentials?: AwsCredentialIdentity) => {
      const clients = new AwsClients({
        region,
        ...(credentials ? { credentials } : {}),
        ...(deps.instrument ? { instrument: deps.instrument } : {}),
      });
      made.push(clients);
      return clients;
    });
  const base = deps.baseClients ?? clientsFor("self", homeRegion);
  const credentials = new MemberCredentials(
    base.sts,
    options.roleName ?? DEFAULT_MEMBER_ROLE_NAME,
    options.externalId,
  );

  const errors: InventoryError[] = [];
  const clusters: ClusterInventory[] = [];
  const inventoried: Array<{ account: string; region: string }> = [];
  try {
    const accounts = await targetAccounts(options, base, credentials, errors);
    // Per account: credentials, then its regions (explicit, or enabled ones read in that account).
    const tasks: Array<{ account: string; region: string; clients: AwsClients }> = [];
    await pLimit(options.concurrency ?? DEFAULT_CONCURRENCY).map(accounts, async (account) => {
      try {
        const creds = await credentials.for(account);
        const regions = options.regions ?? (await enabledRegions(clientsFor(account, homeRegion, creds).ec2));
        for (const region of regions)
          tasks.push({ account, region, clients: clientsFor(account, region, creds) });
      } catch (error) {
        errors.push({ account, message: describeFailure(error) });
      }
    });

    let done = 0;
    await pLimit(options.concurrency ?? DEFAULT_CONCURRENCY).map(
      tasks,
      async ({ account, region, clients }) => {
        let ok = true;
        try {
          clusters.push(
            ...(await inventoryRegion(clients, account, region, options.extraTagKeys, options.addressPolicy)),
          );
          inventoried.push({ account, region });
        } catch (error) {
          ok = false;
          errors.push({ account, region, message: describeFailure(error) });
        }
        done++;
        options.onProgress?.({ account, region, done, total: tasks.length, ok });
      },
    );
  } finally {
    for (const clients of made) clients.destroy();
  }

  const byPlace = (a: { account: string; region?: string }, b: { account: string; region?: string }) =>
    a.account.localeCompare(b.account) || (a.region ?? "").localeCompare(b.region ?? "");
  clusters.sort((a, b) => byPlace(a, b) || a.name.localeCompare(b.name));
  return { clusters, errors: errors.sort(byPlace), inventoried: inventoried.sort(byPlace) };
}

async function targetAccounts(
  options: DiscoveryOptions,
  base: AwsClients,
  credentials: MemberCredentials,
  errors: InventoryError[],
): Promise<string[]> {
  if (options.accounts) return [...new Set(options.accounts)];
  if (options.organization) {
    try {
      return await organizationAccounts(base.organizations);
    } catch (error) {
      errors.push({ account: "organization", message: `could not list accounts: ${describeFailure(error)}` });
      return [];
    }
  }
  try {
    return [await credentials.scannerAccount()];
  } catch (error) {
    errors.push({
      account: "scanner",
      message: `could not identify the scanner's account: ${describeFailure(error)}`,
    });
    return [];
  }
}

/** One line safe to print: error name and message, bounded, with anything shaped like an access key masked. */
export function describeFailure(error: unknown): string {
  const name = error instanceof Error && error.name !== "Error" ? `${error.name}: ` : "";
  const message = `${name}${errorMessage(error)}`
    .replace(/\b(AKIA|ASIA)[A-Z0-9]{12,}\b/g, "$1…")
    .replace(/\s+/g, " ");
  return message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE)}…` : message;
}
