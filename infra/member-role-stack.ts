import {
  Arn,
  ArnFormat,
  CliCredentialsStackSynthesizer,
  Duration,
  Stack,
  type StackProps,
  Validations,
} from "aws-cdk-lib";
import { EventBus, Rule } from "aws-cdk-lib/aws-events";
import { EventBus as EventBusTarget } from "aws-cdk-lib/aws-events-targets";
import {
  ArnPrincipal,
  CompositePrincipal,
  PolicyDocument,
  PolicyStatement,
  Role,
  ServicePrincipal,
} from "aws-cdk-lib/aws-iam";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";
import {
  assertAccountId,
  assertExternalId,
  assertRoleName,
  roleArn,
} from "../lib/contracts/aws-identifiers.ts";
import { DEFAULT_DISCOVERY_ROLE_NAME, DEFAULT_MEMBER_ROLE_NAME } from "../lib/contracts/deployment.ts";
import { InputError } from "../lib/errors/errors.ts";
import { FORWARDED_PATTERNS } from "./change-patterns.ts";

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
  /**
   * With event rescans on the scanner (`eventRescans`): its rescan role, trusted like the discovery
   * role. Leave unset otherwise (IAM refuses a trust policy naming a role that does not exist).
   */
  readonly rescanRoleName?: string;
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
      assumedBy: new CompositePrincipal(
        ...[
          discoveryRoleName,
          ...(props.rescanRoleName ? [assertRoleName(props.rescanRoleName, "rescanRoleName")] : []),
        ].map((name) =>
          new ArnPrincipal(roleArn(this.partition, props.scannerAccountId, name)).withConditions({
            StringEquals: { "sts:ExternalId": props.externalId },
          }),
        ),
      ),
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

export interface PortwardenEventForwarderStackProps extends StackProps {
  /** The scanner's change bus (`EventRescans.bus`), e.g. `arn:aws:events:us-east-1:111122223333:event-bus/portwarden-changes`. */
  readonly scannerEventBusArn: string;
}

/**
 * Forwards this account-region's node changes (CloudTrail events through the default bus, and EC2
 * "running" notifications) to the scanner's change bus. CloudTrail events reach EventBridge in the
 * region of the call, so deploy it in every scanned region (a StackSet over accounts x regions); its
 * role is unnamed, one per region. Least privilege: the rules match only portwarden's event names,
 * the role may only events:PutEvents on that one bus.
 */
export class PortwardenEventForwarderStack extends Stack {
  readonly role: Role;
  readonly rules: Rule[];
  readonly deadLetterQueue: Queue;

  constructor(scope: Construct, id: string, props: PortwardenEventForwarderStackProps) {
    super(scope, id, { synthesizer: new CliCredentialsStackSynthesizer(), ...props });
    const parts = /^arn:aws[a-z-]*:events:[a-z0-9-]+:\d{12}:event-bus\/[\w.\-/]{1,256}$/.test(
      props.scannerEventBusArn,
    )
      ? Arn.split(props.scannerEventBusArn, ArnFormat.SLASH_RESOURCE_NAME)
      : undefined;
    if (!parts)
      throw new InputError(
        "scannerEventBusArn",
        `'${props.scannerEventBusArn}' is not an EventBridge event bus ARN`,
      );
    this.role = new Role(this, "ForwardRole", {
      description: "portwarden: forwards node change events to the scanner's bus",
      assumedBy: new ServicePrincipal("events.amazonaws.com"),
      inlinePolicies: {
        forward: new PolicyDocument({
          statements: [
            new PolicyStatement({ actions: ["events:PutEvents"], resources: [props.scannerEventBusArn] }),
          ],
        }),
      },
    });
    const bus = EventBus.fromEventBusArn(this, "ScannerBus", props.scannerEventBusArn);
    // Events the scanner's bus refused (policy, throttling) land here instead of vanishing.
    this.deadLetterQueue = new Queue(this, "ForwardDeadLetters", {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    for (const id of ["AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy"])
      Validations.of(this.deadLetterQueue).acknowledge({
        id,
        reason: "This queue is itself the dead-letter queue of the forwarding rules.",
      });
    this.rules = FORWARDED_PATTERNS.map(
      (eventPattern, i) =>
        new Rule(this, `Forward${i}`, {
          description: "portwarden: node changes to the scanner account",
          eventPattern,
          targets: [new EventBusTarget(bus, { role: this.role, deadLetterQueue: this.deadLetterQueue })],
        }),
    );
  }
}
