import {
  DescribeInstancesCommand,
  DescribeRegionsCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
} from "@aws-sdk/client-ec2";
import { DescribeClusterCommand, EKSClient, ListClustersCommand } from "@aws-sdk/client-eks";
import { ListAccountsCommand, OrganizationsClient } from "@aws-sdk/client-organizations";
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AwsClients } from "../../lib/aws/clients.ts";
import { inventoryCommand } from "../../lib/cli/inventory-command.ts";
import { type DiscoveryDeps, describeFailure, discoverInventory } from "../../lib/discovery/discover.ts";

// Error paths moto cannot produce. Every SDK client here is mocked: nothing leaves the process.
const sts = mockClient(STSClient);
const ec2 = mockClient(EC2Client);
const eks = mockClient(EKSClient);
const organizations = mockClient(OrganizationsClient);

const SCANNER = "111111111111";
const MEMBER = "222222222222";
const DENIED = "333333333333";
const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzSECRETKEY";

function awsError(name: string, message: string): Error {
  return Object.assign(new Error(message), { name, $metadata: {} });
}

const made: AwsClients[] = [];
const deps: DiscoveryDeps = {
  baseClients: new AwsClients({
    region: "us-east-1",
    credentials: { accessKeyId: "AKIDBASE", secretAccessKey: "x" },
  }),
  clientsFor: (_account, region, credentials) => {
    const clients = new AwsClients({
      region,
      credentials: credentials ?? { accessKeyId: "AKIDBASE", secretAccessKey: "x" },
    });
    made.push(clients);
    return clients;
  },
};

beforeEach(() => {
  for (const mock of [sts, ec2, eks, organizations]) mock.reset();
  sts
    .on(GetCallerIdentityCommand)
    .resolves({ Account: SCANNER, Arn: `arn:aws:sts::${SCANNER}:assumed-role/scanner/x` });
  sts.on(AssumeRoleCommand).resolves({
    Credentials: {
      AccessKeyId: "ASIAMEMBERMEMBERMEMB",
      SecretAccessKey: SECRET,
      SessionToken: "token",
      Expiration: new Date(Date.now() + 3600_000),
    },
  });
  sts
    .on(AssumeRoleCommand, { RoleArn: `arn:aws:iam::${DENIED}:role/PortwardenMemberRole` })
    .rejects(
      awsError(
        "AccessDenied",
        `User: arn:aws:sts::${SCANNER}:assumed-role/scanner/x is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::${DENIED}:role/PortwardenMemberRole`,
      ),
    );
  eks.on(ListClustersCommand).resolves({ clusters: [] });
  ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
  ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [] });
});

afterEach(() => {
  for (const clients of made.splice(0)) clients.destroy();
});

describe("discoverInventory failure isolation", () => {
  it("lists an account whose AssumeRole is denied and still inventories the others", async () => {
    // Act
    const inventory = await discoverInventory({ accounts: [MEMBER, DENIED], regions: ["us-east-1"] }, deps);

    // Assess
    expect([
      inventory.inventoried,
      inventory.errors.map((e) => [e.account, e.region, e.message.split(":")[0]]),
    ]).toEqual([[{ account: MEMBER, region: "us-east-1" }], [[DENIED, undefined, "AccessDenied"]]]);
  });

  it("lists a region that stays throttled and still inventories the other region", async () => {
    eks.on(ListClustersCommand).callsFake(async () => {
      // Which region a call is for is known only to its client; fail the eu-west-1 one.
      const region = await eks.call(eks.calls().length - 1).thisValue.config.region();
      if (region === "eu-west-1") throw awsError("ThrottlingException", "Rate exceeded");
      return { clusters: [] };
    });

    const inventory = await discoverInventory(
      { accounts: [SCANNER], regions: ["us-east-1", "eu-west-1"] },
      deps,
    );

    expect([inventory.inventoried, inventory.errors]).toEqual([
      [{ account: SCANNER, region: "us-east-1" }],
      [{ account: SCANNER, region: "eu-west-1", message: "ThrottlingException: Rate exceeded" }],
    ]);
  });

  it("lists a disabled region with the reason AWS gives", async () => {
    ec2
      .on(DescribeInstancesCommand)
      .rejects(awsError("AuthFailure", "AWS was not able to validate the provided access credentials"));

    const inventory = await discoverInventory({ accounts: [SCANNER], regions: ["ap-east-1"] }, deps);

    expect(inventory.errors).toEqual([
      {
        account: SCANNER,
        region: "ap-east-1",
        message: "AuthFailure: AWS was not able to validate the provided access credentials",
      },
    ]);
  });

  it("skips a cluster deleted between ListClusters and DescribeCluster without failing the region", async () => {
    eks.on(ListClustersCommand).resolves({ clusters: ["gone"] });
    eks
      .on(DescribeClusterCommand)
      .rejects(awsError("ResourceNotFoundException", "No cluster found for name: gone."));

    const inventory = await discoverInventory({ accounts: [SCANNER], regions: ["us-east-1"] }, deps);

    expect([inventory.clusters, inventory.errors, inventory.inventoried?.length]).toEqual([[], [], 1]);
  });

  it("assumes each member role once per round, with the external id and a portwarden session name", async () => {
    await discoverInventory(
      { accounts: [MEMBER], regions: ["us-east-1", "us-west-2", "eu-west-1"], externalId: "pw-ext-1" },
      deps,
    );

    expect(sts.commandCalls(AssumeRoleCommand).map((c) => c.args[0].input)).toEqual([
      {
        RoleArn: `arn:aws:iam::${MEMBER}:role/PortwardenMemberRole`,
        RoleSessionName: "portwarden-discovery",
        DurationSeconds: 3600,
        ExternalId: "pw-ext-1",
      },
    ]);
  });

  it("builds the member role ARN in the caller's partition (GovCloud, China), not in `aws`", async () => {
    sts
      .on(GetCallerIdentityCommand)
      .resolves({ Account: SCANNER, Arn: `arn:aws-us-gov:sts::${SCANNER}:assumed-role/scanner/x` });

    await discoverInventory({ accounts: [MEMBER], regions: ["us-gov-west-1"] }, deps);

    expect(sts.commandCalls(AssumeRoleCommand).map((c) => c.args[0].input.RoleArn)).toEqual([
      `arn:aws-us-gov:iam::${MEMBER}:role/PortwardenMemberRole`,
    ]);
  });

  it("uses the scanner's own credentials for its own account instead of assuming a role", async () => {
    await discoverInventory({ accounts: [SCANNER], regions: ["us-east-1"] }, deps);

    expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(0);
  });

  it("never puts assumed credentials in the inventory", async () => {
    const inventory = await discoverInventory({ accounts: [MEMBER, DENIED], regions: ["us-east-1"] }, deps);

    const text = JSON.stringify(inventory);
    expect([text.includes(SECRET), text.includes("ASIAMEMBER")]).toEqual([false, false]);
  });

  it("masks anything shaped like an access key id in a failure message", () => {
    const message = describeFailure(
      awsError("InvalidClientTokenId", "key ASIAABCDEFGHIJKLMNOP is not valid"),
    );

    expect(message).toBe("InvalidClientTokenId: key ASIA… is not valid");
  });

  it("reads only ACTIVE organization accounts", async () => {
    organizations.on(ListAccountsCommand).resolves({
      Accounts: [
        { Id: MEMBER, Status: "ACTIVE" },
        { Id: "444444444444", Status: "SUSPENDED" },
        { Id: "555555555555", State: "PENDING_CLOSURE" },
      ],
    });

    const inventory = await discoverInventory({ organization: true, regions: ["us-east-1"] }, deps);

    expect(inventory.inventoried).toEqual([{ account: MEMBER, region: "us-east-1" }]);
  });

  it("reports an organization that cannot be listed instead of throwing", async () => {
    organizations
      .on(ListAccountsCommand)
      .rejects(awsError("AWSOrganizationsNotInUseException", "not in an organization"));

    const inventory = await discoverInventory({ organization: true }, deps);

    expect(inventory.errors).toEqual([
      {
        account: "organization",
        message: "could not list accounts: AWSOrganizationsNotInUseException: not in an organization",
      },
    ]);
  });

  it("skips regions the account has not opted into", async () => {
    ec2.on(DescribeRegionsCommand).resolves({
      Regions: [
        { RegionName: "us-east-1", OptInStatus: "opt-in-not-required" },
        { RegionName: "af-south-1", OptInStatus: "not-opted-in" },
        { RegionName: "me-south-1", OptInStatus: "opted-in" },
      ],
    });

    const inventory = await discoverInventory({ accounts: [SCANNER] }, deps);

    expect(inventory.inventoried?.map((i) => i.region)).toEqual(["me-south-1", "us-east-1"]);
  });
});

describe("inventoryCommand when nothing can be read", () => {
  it("exits 1 and prints why when every account is denied", async () => {
    const out: string[] = [];
    const io = { stdout: (t: string) => out.push(t), stderr: (t: string) => out.push(t), interactive: false };

    const code = await inventoryCommand(["--accounts", DENIED, "--regions", "us-east-1"], io, deps);

    expect([code, out.join("").includes(`not inventoried: ${DENIED}: AccessDenied`)]).toEqual([1, true]);
  });

  it("exits 0 when one account is denied but another is read", async () => {
    const io = { stdout: () => {}, stderr: () => {}, interactive: false };

    const code = await inventoryCommand(
      ["--accounts", `${MEMBER},${DENIED}`, "--regions", "us-east-1", "--json"],
      io,
      deps,
    );

    expect(code).toBe(0);
  });
});
