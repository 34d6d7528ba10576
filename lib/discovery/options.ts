import {
  assertAccountId,
  assertExternalId,
  assertRegion,
  assertRoleName,
} from "../contracts/aws-identifiers.ts";
import { InputError } from "../errors/errors.ts";
import type { AddressPolicy } from "../net/address-policy.ts";

/** What `discoverInventory` reads; every field optional, validated by `validateDiscoveryOptions`. */
export interface DiscoveryOptions {
  /** Accounts to inventory; default the scanner's own account. Exclusive with `organization`. */
  accounts?: string[];
  /** Every ACTIVE account of the AWS Organization (needs organizations:ListAccounts). */
  organization?: boolean;
  /** Role assumed in every account other than the scanner's own. Default `PortwardenMemberRole`. */
  roleName?: string;
  /** sts:ExternalId the member role's trust policy requires, if any. */
  externalId?: string;
  /** Regions to read; default every region enabled in each account (DescribeRegions). */
  regions?: string[];
  /** Tag keys whose value names the cluster of a self-managed node, besides the standard ones. */
  extraTagKeys?: string[];
  /** Region for STS, Organizations and DescribeRegions. Default $AWS_REGION, else us-east-1. */
  homeRegion?: string;
  /** Alias of `homeRegion` (what `portwarden run` passes). */
  region?: string;
  /**
   * Which node addresses the inventory may list. Default PUBLIC_ONLY: loopback/private addresses are
   * left out unless a person opted in (`--allow-private`); link-local/metadata ones always.
   */
  addressPolicy?: AddressPolicy;
  /** Account×region reads in flight at once. Default 4. */
  concurrency?: number;
  onProgress?: (progress: DiscoveryProgress) => void;
}

export interface DiscoveryProgress {
  account: string;
  region: string;
  done: number;
  total: number;
  ok: boolean;
}

export const DEFAULT_CONCURRENCY = 4;

const TAG_KEY_MAX = 128;

function quoted(value: string): string {
  return `'${value.length > 80 ? `${value.slice(0, 80)}…` : value}'`;
}

/** `111111111111,222222222222` → ids; each must be 12 digits. */
export function parseAccountList(text: string, field: string): string[] {
  const ids = splitList(text, field);
  for (const id of ids) assertAccountId(id, field);
  return [...new Set(ids)];
}

/** `us-east-1,eu-west-1` → region names. */
export function parseRegionList(text: string, field: string): string[] {
  const regions = splitList(text, field);
  for (const region of regions) assertRegion(region, field);
  return [...new Set(regions)];
}

function splitList(text: string, field: string): string[] {
  const items = text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (items.length === 0)
    throw new InputError(field, `${quoted(text)} is empty; give a comma-separated list`);
  return items;
}

/** Checks options given in code (the CLI checks its flags first, naming them). */
export function validateDiscoveryOptions(options: DiscoveryOptions): void {
  if (options.organization && options.accounts)
    throw new InputError("accounts", "give either accounts or organization, not both");
  for (const [i, id] of (options.accounts ?? []).entries()) assertAccountId(id, `accounts[${i}]`);
  for (const [i, r] of (options.regions ?? []).entries()) assertRegion(r, `regions[${i}]`);
  if (options.regions?.length === 0)
    throw new InputError("regions", "is empty; omit it for every enabled region");
  if (options.roleName !== undefined) assertRoleName(options.roleName, "roleName");
  if (options.externalId !== undefined) assertExternalId(options.externalId, "externalId");
  const home = options.homeRegion ?? options.region;
  if (home !== undefined) assertRegion(home, "homeRegion");
  options.extraTagKeys?.forEach((key, i) => {
    if (key === "" || key.length > TAG_KEY_MAX)
      throw new InputError(
        `extraTagKeys[${i}]`,
        `${quoted(key)} is not a tag key (1-${TAG_KEY_MAX} characters)`,
      );
  });
  const c = options.concurrency;
  if (c !== undefined && (!Number.isInteger(c) || c < 1 || c > 64))
    throw new InputError("concurrency", `${c} is not a whole number from 1 to 64`);
}
