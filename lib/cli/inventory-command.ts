import { assertExternalId, assertRegion, assertRoleName } from "../contracts/aws-identifiers.ts";
import { DEFAULT_MEMBER_ROLE_NAME } from "../contracts/deployment.ts";
import { type DiscoveryDeps, type DiscoveryOptions, discoverInventory } from "../discovery/discover.ts";
import { parseAccountList, parseRegionList } from "../discovery/options.ts";
import type { ClusterInventory, Inventory } from "../discovery/types.ts";
import { InputError } from "../errors/errors.ts";
import { ALLOW_INTERNAL } from "../net/address-policy.ts";
import type { PortSet } from "../ports/port-set.ts";
import { sanitizeDeep } from "../text/sanitize.ts";
import { parseCommandArgs } from "./args.ts";
import type { CliIo } from "./io.ts";
import { discoveryProgressLine } from "./progress.ts";

const USAGE = `Usage: portwarden inventory [--accounts ID,ID | --organization] [--role-name NAME]
                            [--external-id X] [--regions R,R] [--allow-private] [--json]

Lists accounts → regions → clusters → nodes with their public IPs and the TCP ports their
security groups open to the internet (0.0.0.0/0, ::/0) or to specific public CIDRs.

  --accounts ID,ID     12-digit account ids (default: the scanner's own account)
  --organization       every ACTIVE account of the AWS Organization
  --role-name NAME     member role to assume in other accounts (default ${DEFAULT_MEMBER_ROLE_NAME})
  --external-id X      sts:ExternalId the member role requires
  --regions R,R        regions to read (default: every region enabled in each account)
  --region R           home region: STS, Organizations, DescribeRegions (default $AWS_REGION, else
                       us-east-1); the same flag as 'run --region'. --home-region is a deprecated alias
  --tag-key KEY        extra tag key naming a self-managed node's cluster (repeatable)
  --allow-private      also list loopback/private node addresses (the same opt-in as 'run
                       --allow-private'); link-local/metadata addresses are never listed
  --json               the inventory as JSON (input of 'portwarden run --inventory FILE')

Exit status: 0 something was inventoried (failed accounts/regions are listed); 1 nothing could
be inventoried; 2 bad input.
`;

/** `portwarden inventory`: the cross-account cluster inventory as a table or JSON. */
export async function inventoryCommand(argv: string[], io: CliIo, deps: DiscoveryDeps = {}): Promise<number> {
  const options = parseInventoryArgs(argv, io);
  if (options === "help") {
    io.stdout(USAGE);
    return 0;
  }
  const { json, ...discovery } = options;
  const progress = io.interactive ? discoveryProgressLine(io, "inventory") : undefined;
  if (progress) discovery.onProgress = progress.update;
  let inventory: Inventory;
  try {
    inventory = await discoverInventory(discovery, deps);
  } finally {
    progress?.done();
  }

  // Tag-derived names may carry bidi/control characters: cleaned like every other output.
  const clean = sanitizeDeep(inventory);
  io.stdout(json ? `${JSON.stringify(clean, null, 2)}\n` : renderInventory(clean));
  const nothingRead = (inventory.inventoried ?? []).length === 0 && inventory.errors.length > 0;
  return nothingRead ? 1 : 0;
}

function parseInventoryArgs(argv: string[], io: CliIo): (DiscoveryOptions & { json: boolean }) | "help" {
  const { values, positionals } = parse(argv);
  if (values.help) return "help";
  if (positionals.length > 0)
    throw new InputError(
      "arguments",
      `unexpected argument '${positionals[0]}'; see portwarden inventory --help`,
    );
  if (values.accounts !== undefined && values.organization)
    throw new InputError("--accounts", "give either --accounts or --organization, not both");

  const options: DiscoveryOptions & { json: boolean } = { json: Boolean(values.json) };
  if (values.accounts !== undefined) options.accounts = parseAccountList(values.accounts, "--accounts");
  if (values.organization) options.organization = true;
  if (values.regions !== undefined) options.regions = parseRegionList(values.regions, "--regions");
  if (values["role-name"] !== undefined) {
    assertRoleName(values["role-name"], "--role-name");
    options.roleName = values["role-name"];
  }
  if (values["external-id"] !== undefined) {
    assertExternalId(values["external-id"], "--external-id");
    options.externalId = values["external-id"];
  }
  if (values["home-region"] !== undefined) {
    // One name per concept across commands: `run` and `inventory` both say --region.
    io.stderr("portwarden inventory: --home-region is deprecated, use --region (same meaning)\n");
    if (values.region !== undefined && values.region !== values["home-region"])
      throw new InputError("--region", "give --region once (--home-region is its deprecated alias)");
  }
  const homeRegion = values.region ?? values["home-region"];
  if (homeRegion !== undefined) {
    assertRegion(homeRegion, values.region !== undefined ? "--region" : "--home-region");
    options.homeRegion = homeRegion;
  }
  if (values["allow-private"]) options.addressPolicy = ALLOW_INTERNAL;
  if (values["tag-key"] !== undefined) {
    values["tag-key"].forEach((key) => {
      if (key === "" || key.length > 128)
        throw new InputError("--tag-key", `'${key}' is not a tag key (1-128 characters)`);
    });
    options.extraTagKeys = values["tag-key"];
  }
  return options;
}

function parse(argv: string[]) {
  return parseCommandArgs("inventory", {
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      accounts: { type: "string" },
      organization: { type: "boolean" },
      "role-name": { type: "string" },
      "external-id": { type: "string" },
      regions: { type: "string" },
      region: { type: "string" },
      "home-region": { type: "string" },
      "tag-key": { type: "string", multiple: true },
      "allow-private": { type: "boolean" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
}

function specOrDash(ports: PortSet | undefined): string {
  return ports && !ports.isEmpty ? ports.toSpec() : "-";
}

/** The readable table: one block per cluster, one row per node. */
export function renderInventory(inventory: Inventory): string {
  const lines: string[] = [];
  for (const cluster of inventory.clusters) {
    lines.push(`${cluster.account}  ${cluster.region}  ${cluster.name}  (${clusterSummary(cluster)})`);
    if (cluster.nodes.length === 0) lines.push("  no running nodes");
    const rows = cluster.nodes.map((n) => [
      n.instanceId,
      n.publicIps.join(",") || "-",
      specOrDash(n.internetAllowed),
      specOrDash(n.publicCidrAllowed),
    ]);
    if (rows.length > 0)
      lines.push(...table(["node", "public IPs", "open to internet", "open to public CIDRs"], rows));
    lines.push("");
  }
  if (inventory.clusters.length === 0) lines.push("no clusters found", "");
  for (const error of inventory.errors)
    lines.push(
      `not inventoried: ${error.account}${error.region ? ` ${error.region}` : ""}: ${error.message}`,
    );
  const read = inventory.inventoried?.length ?? 0;
  lines.push(
    `${inventory.clusters.length} cluster(s), ${inventory.clusters.reduce((n, c) => n + c.nodes.length, 0)} node(s) in ${read} account-region(s); ${inventory.errors.length} failed`,
  );
  return `${lines.join("\n")}\n`;
}

function clusterSummary(cluster: ClusterInventory): string {
  const parts: string[] = [cluster.kind];
  if (cluster.version) parts.push(cluster.version);
  const endpoint = cluster.endpoint;
  if (endpoint)
    parts.push(
      endpoint.publicAccess
        ? `public endpoint from ${endpoint.publicAccessCidrs.join(",")}`
        : "private endpoint",
    );
  return parts.join(", ");
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const format = (cells: string[]) =>
    `  ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ")}`.trimEnd();
  return [format(header), ...rows.map(format)];
}
