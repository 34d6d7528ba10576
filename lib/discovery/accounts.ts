import {
  DescribeRegionsCommand,
  type DescribeRegionsCommandOutput,
  type EC2Client,
} from "@aws-sdk/client-ec2";
import { type OrganizationsClient, paginateListAccounts } from "@aws-sdk/client-organizations";

/** Every ACTIVE account of the organization (suspended and closing accounts have nothing to scan). */
export async function organizationAccounts(client: OrganizationsClient): Promise<string[]> {
  const ids: string[] = [];
  for await (const page of paginateListAccounts({ client }, {}))
    for (const account of page.Accounts ?? []) {
      // `State` supersedes `Status`; accept either so older and newer answers both work.
      const state = account.State ?? account.Status;
      if (account.Id && state === "ACTIVE") ids.push(account.Id);
    }
  return ids.sort();
}

/** Regions enabled in the account: those that need no opt-in, and those opted into. */
export async function enabledRegions(client: EC2Client): Promise<string[]> {
  const answer: DescribeRegionsCommandOutput = await client.send(
    new DescribeRegionsCommand({ AllRegions: false }),
  );
  return (answer.Regions ?? [])
    .filter((r) => r.OptInStatus === undefined || r.OptInStatus !== "not-opted-in")
    .map((r) => r.RegionName)
    .filter((name): name is string => Boolean(name))
    .sort();
}
