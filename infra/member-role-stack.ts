import { CliCredentialsStackSynthesizer, Stack, type StackProps, Validations } from "aws-cdk-lib";
import { ArnPrincipal, PolicyDocument, PolicyStatement, Role } from "aws-cdk-lib/aws-iam";
import type { Construct } from "constructs";
import {
  assertAccountId,
  assertExternalId,
  assertRoleName,
  roleArn,
} from "../lib/contracts/aws-identifiers.ts";
import { DEFAULT_DISCOVERY_ROLE_NAME, DEFAULT_MEMBER_ROLE_NAME } from "../lib/contracts/deployment.ts";

/**
 * Exactly the read-only calls discovery makes in an account (lib/discovery/region-inventory.ts,
 * accounts.ts): enabled regions, EKS clusters and node groups, instances (with their interfaces and
 * public IPs) and security groups.
 * None of them supports resource-level permissions, hence `Resource: *`.
 */
export const MEMBER_ROLE_ACTIONS = [
  "ec2:DescribeInstances",
  "ec2:DescribeRegions",
  "ec2:DescribeSecurityGroups",
  "eks:DescribeCluster",
  "eks:ListClusters",
  "eks:ListNodegroups",
] as const;

export interface PortwardenMemberRoleStackProps extends StackProps {
  /** The account where the Portwarden stack (and its discovery role) runs. */
  readonly scannerAccountId: string;
  /** Must equal the Portwarden construct's `externalId`. */
  readonly externalId: string;
  /** Default: `PortwardenMemberRole` (the construct's `memberRoleName` default). */
  readonly roleName?: string;
  /** Default: `portwarden-discovery` (the construct's `discoveryRoleName` default). */
  readonly discoveryRoleName?: string;
}

/**
 * The role portwarden assumes in each scanned account: read-only, trusted only by the scanner's
 * discovery role and only with the external id. Deploy it per account, or synthesize it once and
 * roll the template out as a StackSet (it has no account-specific values besides its parameters).
 */
export class PortwardenMemberRoleStack extends Stack {
  readonly role: Role;

  constructor(scope: Construct, id: string, props: PortwardenMemberRoleStackProps) {
    // No assets and no bootstrap rule: deployable in un-bootstrapped accounts and as a StackSet template.
    super(scope, id, { synthesizer: new CliCredentialsStackSynthesizer(), ...props });
    assertAccountId(props.scannerAccountId, "scannerAccountId");
    assertExternalId(props.externalId, "externalId");
    const discoveryRoleName = assertRoleName(
      props.discoveryRoleName ?? DEFAULT_DISCOVERY_ROLE_NAME,
      "discoveryRoleName",
    );
    this.role = new Role(this, "MemberRole", {
      roleName: assertRoleName(props.roleName ?? DEFAULT_MEMBER_ROLE_NAME, "roleName"),
      description: "portwarden: read-only discovery of EKS clusters, nodes and their security groups",
      assumedBy: new ArnPrincipal(
        roleArn(this.partition, props.scannerAccountId, discoveryRoleName),
      ).withConditions({ StringEquals: { "sts:ExternalId": props.externalId } }),
      inlinePolicies: {
        discovery: new PolicyDocument({
          statements: [new PolicyStatement({ actions: [...MEMBER_ROLE_ACTIONS], resources: ["*"] })],
        }),
      },
    });
    Validations.of(this.role).acknowledge({
      id: "AwsSolutions-IAM5[Resource::*]",
      reason:
        "EC2 Describe* and eks:ListClusters support no resource-level permissions; the actions are read-only and listed one by one.",
    });
  }
}
