import { isIP } from "node:net";
import type { AwsSecurityFinding, Resource } from "@aws-sdk/client-securityhub";
import { causeText, endpointText, fixText, safeText, whereText, whyItMatters } from "../alerts/format.ts";
import type { Severity } from "../catalog/severity.ts";
import { assertAccountId, assertRegion } from "../contracts/aws-identifiers.ts";
import { selectNodeTags } from "../discovery/node-tags.ts";
import { InputError } from "../errors/errors.ts";
import { type AlertEvent, type Finding, type FindingKind, findingKey } from "../findings/types.ts";

/**
 * portwarden alerts as AWS Security Finding Format (ASFF) findings.
 *
 * Where they go: BatchImportFindings with the default (custom-integration) product ARN only accepts
 * findings whose `AwsAccountId` is the calling account, so every finding is imported into the
 * SCANNER's account and region (its aggregation point). The account and region the exposed
 * resource lives in are in `Resources[].Id` (its ARN), `Resources[].Region` and `ProductFields`.
 */

/** The account/region/partition findings are imported into (the scanner's own). */
export interface SecurityHubDestination {
  account: string;
  region: string;
  /** `aws`, `aws-cn`, `aws-us-gov`. */
  partition: string;
}

export const ASFF_SCHEMA_VERSION = "2018-10-08";
/** ASFF field limits (API reference, AwsSecurityFinding). */
const MAX_TITLE = 256;
const MAX_DESCRIPTION = 1024;
const MAX_RECOMMENDATION = 512;
const MAX_PRODUCT_FIELD_VALUE = 1024;

const SEVERITY_LABEL: Record<Severity, "CRITICAL" | "HIGH" | "MEDIUM" | "LOW" | "INFORMATIONAL"> = {
  critical: "CRITICAL",
  high: "HIGH",
  medium: "MEDIUM",
  low: "LOW",
  info: "INFORMATIONAL",
};

export function severityLabel(severity: Severity): string {
  return SEVERITY_LABEL[severity];
}

/**
 * The default product ARN Security Hub creates for custom integrations in every account where it is
 * enabled, `arn:<partition>:securityhub:<region>:<account>:product/<account>/default` (Security Hub
 * User Guide, "Integrating Security Hub with custom products"); the partition is the caller's, read
 * from its ARN (scannerDestination), never assumed.
 */
export function productArn(to: SecurityHubDestination): string {
  return `arn:${to.partition}:securityhub:${to.region}:${to.account}:product/${to.account}/default`;
}

export function assertDestination(to: SecurityHubDestination): void {
  assertAccountId(to.account, "securityHub.account");
  assertRegion(to.region, "securityHub.region");
  if (!/^aws(-[a-z]+)*$/.test(to.partition))
    throw new InputError("securityHub.partition", `'${to.partition}' is not an AWS partition`);
}

/**
 * The finding's `Id`: the state's record key (ip#port, ip#port#latent, eks-<id>#443), so the same
 * exposure keeps its id across rounds, scheduled or event-driven, and a reopen updates the same finding.
 */
export function asffFindingId(finding: Pick<Finding, "ip" | "port" | "kind">): string {
  return `portwarden/${findingKey(finding)}`;
}

function isClusterFinding(finding: Finding): boolean {
  return isIP(finding.ip) === 0;
}

/** One generator per finding type: what rule of portwarden's produced it. */
export function generatorId(finding: Finding): string {
  if (isClusterFinding(finding)) return "portwarden/eks-public-endpoint";
  const byKind: Record<FindingKind, string> = {
    exposed: "portwarden/exposed-port",
    unexplained: "portwarden/unexplained-open-port",
    latent: "portwarden/latent-exposure",
  };
  return byKind[finding.kind];
}

/**
 * A probe proved data is readable without credentials (anonymous kubelet, etcd, dashboard, ...):
 * the probes say so in the evidence ("without credentials", "anonymous").
 */
export function provesDataExposure(finding: Finding): boolean {
  return finding.kind === "exposed" && /without credentials|anonymous/i.test(finding.evidence);
}

const NETWORK_REACHABILITY =
  "Software and Configuration Checks/AWS Security Best Practices/Network Reachability";

export function findingTypes(finding: Finding): string[] {
  const types = [NETWORK_REACHABILITY];
  if (finding.kind === "unexplained") types.push("Unusual Behaviors/Network Flows");
  if (provesDataExposure(finding)) types.push("Effects/Data Exposure");
  return types;
}

/** Resource.Partition takes only these; a finding in another partition leaves it out (the ARN still says it). */
const RESOURCE_PARTITIONS = new Set(["aws", "aws-cn", "aws-us-gov"]);

function partitionField(to: SecurityHubDestination): Pick<Resource, "Partition"> {
  return RESOURCE_PARTITIONS.has(to.partition) ? { Partition: to.partition as Resource["Partition"] } : {};
}

/**
 * `Resources[].Tags`: the node's carried tags under the AWS tag limits the ASFF asks for (at most 50,
 * keys 1-128 and values up to 256 characters), cleaned again by the one sanitiser. `selectNodeTags`
 * already wrote them that way (and within 2 KiB); selecting again costs little and holds for records
 * from any writer. Absent when there are none.
 */
export function asffResourceTags(finding: Pick<Finding, "tags">): Record<string, string> | undefined {
  return selectNodeTags(finding.tags);
}

function resourcesOf(finding: Finding, to: SecurityHubDestination): Resource[] {
  const region = finding.region ?? to.region;
  const account = finding.account;
  const resources: Resource[] = [];
  const tags = asffResourceTags(finding);
  if (finding.instanceId && account) {
    resources.push({
      Type: "AwsEc2Instance",
      Id: `arn:${to.partition}:ec2:${region}:${account}:instance/${finding.instanceId}`,
      ...partitionField(to),
      Region: region,
      ...(tags ? { Tags: tags } : {}),
      ...(isIP(finding.ip) === 4 ? { Details: { AwsEc2Instance: { IpV4Addresses: [finding.ip] } } } : {}),
      ...(isIP(finding.ip) === 6 ? { Details: { AwsEc2Instance: { IpV6Addresses: [finding.ip] } } } : {}),
    });
  }
  if (finding.cluster && account) {
    resources.push({
      Type: "AwsEksCluster",
      Id: `arn:${to.partition}:eks:${region}:${account}:cluster/${finding.cluster}`,
      ...partitionField(to),
      Region: region,
      Details: { AwsEksCluster: { Name: safeText(finding.cluster, 256) } },
    });
  }
  if (resources.length === 0) {
    // `--targets` rounds know only the address.
    resources.push({
      Type: "Other",
      Id: finding.ip,
      ...partitionField(to),
      Region: region,
    });
  }
  return resources;
}

const KIND_TITLE: Record<FindingKind, string> = {
  exposed: "exposed to the internet",
  unexplained: "open from the internet without a rule that explains it",
  latent: "opened to the internet by a security group (nothing listens yet)",
};

/** Stable across the finding's life (the state is in RecordState/Compliance, not the title). */
function titleOf(f: Finding): string {
  return safeText(`${f.service || "unknown service"} on ${endpointText(f)} ${KIND_TITLE[f.kind]}`, MAX_TITLE);
}

function descriptionOf(event: AlertEvent): string {
  const f = event.finding;
  const where = whereText(f);
  const parts = [
    whyItMatters(event),
    `Evidence: ${safeText(f.evidence, 500)}.`,
    where ? `Where: ${where}.` : "",
    event.cause ? `Caused by: ${causeText(event.cause)}.` : "",
  ];
  return safeText(parts.filter(Boolean).join(" "), MAX_DESCRIPTION);
}

/**
 * One alert (new or resolved) as an ASFF finding. A "new" alert (also an escalation or a reopen)
 * makes it ACTIVE / FAILED; "resolved" makes it ARCHIVED / PASSED, which Security Hub turns into
 * Workflow RESOLVED. Severity and Types also go in FindingProviderFields: after the first import
 * that is where a provider may change them (BatchImportFindings ignores top-level updates).
 */
export function toAsff(event: AlertEvent, to: SecurityHubDestination): AwsSecurityFinding {
  if (event.eventType === "round-failed")
    throw new InputError("event.eventType", "round-failed alerts are not findings");
  const f = event.finding;
  // Escalated and de-escalated exposures are still open: only "resolved" archives the finding.
  const active = event.eventType !== "resolved";
  const types = findingTypes(f);
  const severity = { Label: SEVERITY_LABEL[f.severity], Original: f.severity } as const;
  const firstSeen = event.firstSeen ?? event.at;
  const ipVersion = isIP(f.ip);
  return {
    SchemaVersion: ASFF_SCHEMA_VERSION,
    Id: asffFindingId(f),
    ProductArn: productArn(to),
    ProductName: "portwarden",
    CompanyName: "portwarden",
    GeneratorId: generatorId(f),
    AwsAccountId: to.account,
    Types: types,
    CreatedAt: firstSeen,
    UpdatedAt: event.at,
    FirstObservedAt: firstSeen,
    ...(active ? { LastObservedAt: event.at } : {}),
    Severity: severity,
    FindingProviderFields: { Severity: severity, Types: types },
    Title: titleOf(f),
    Description: descriptionOf(event),
    Remediation: { Recommendation: { Text: safeText(fixText(f), MAX_RECOMMENDATION) } },
    Resources: resourcesOf(f, to),
    ...(ipVersion !== 0
      ? {
          Network: {
            Direction: "IN",
            Protocol: "TCP",
            ...(ipVersion === 4 ? { DestinationIpV4: f.ip } : { DestinationIpV6: f.ip }),
            DestinationPort: f.port,
          },
        }
      : {}),
    Compliance: { Status: active ? "FAILED" : "PASSED" },
    RecordState: active ? "ACTIVE" : "ARCHIVED",
    ProductFields: productFields(event),
  };
}

function productFields(event: AlertEvent): Record<string, string> {
  const f = event.finding;
  const fields: Record<string, string | undefined> = {
    "portwarden/alertId": event.id,
    "portwarden/kind": f.kind,
    "portwarden/service": f.service,
    "portwarden/port": f.portSpec ?? String(f.port),
    "portwarden/resourceAccount": f.account,
    "portwarden/resourceRegion": f.region,
    "portwarden/cluster": f.cluster,
    "portwarden/causeEvent": event.cause?.eventName,
    "portwarden/causeActor": event.cause?.actor,
    "portwarden/causeTime": event.cause?.at,
  };
  return Object.fromEntries(
    Object.entries(fields)
      .filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== "")
      .map(([k, v]) => [k, safeText(v, MAX_PRODUCT_FIELD_VALUE)]),
  );
}

/** `finding` with no `Resources[].Tags` (the publisher's second try when an import was refused). */
export function withoutResourceTags(finding: AwsSecurityFinding): AwsSecurityFinding {
  return { ...finding, Resources: finding.Resources?.map(({ Tags: _tags, ...resource }) => resource) };
}

export function hasResourceTags(finding: AwsSecurityFinding): boolean {
  return (finding.Resources ?? []).some((r) => r.Tags !== undefined);
}
