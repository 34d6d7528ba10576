import { Duration, Stack, Token, Validations } from "aws-cdk-lib";
import { Alarm, ComparisonOperator, TreatMissingData } from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import type { ITable } from "aws-cdk-lib/aws-dynamodb";
import { EventBus, Rule } from "aws-cdk-lib/aws-events";
import { SqsQueue } from "aws-cdk-lib/aws-events-targets";
import { AccountPrincipal, AnyPrincipal, PolicyStatement } from "aws-cdk-lib/aws-iam";
import type { CfnFunction } from "aws-cdk-lib/aws-lambda";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import type { ITopic } from "aws-cdk-lib/aws-sns";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { roleArn } from "../lib/contracts/aws-identifiers.ts";
import {
  DEFAULT_CHANGE_BUS_NAME,
  DEFAULT_RESCAN_ROLE_NAME,
  ENV,
  RESCAN_TIMING,
} from "../lib/contracts/deployment.ts";
import { InputError } from "../lib/errors/errors.ts";
import { NOTIFY_STAGE_METHODS, SCAN_STAGE_METHODS } from "../lib/state/dynamo-schema.ts";
import { CHANGE_PATTERN, LAUNCH_PATTERN, RUNNING_PATTERN } from "./change-patterns.ts";
import { MEMBER_ROLE_ACTIONS } from "./member-role-stack.ts";
import type { ResolvedPortwardenProps } from "./portwarden-props.ts";
import { ScannerFunction } from "./scanner-function.ts";

export interface EventRescansProps {
  readonly stateTable: ITable;
  readonly alertTopic: ITopic;
  /** The Portwarden construct's resolved props: scan scope, ports, member role, Security Hub, window. */
  readonly settings: ResolvedPortwardenProps;
  /** Delay for launch events so the node's services listen before the scan. Default: 90 s. */
  readonly launchDelay?: Duration;
  /** Default: `portwarden-changes`. */
  readonly busName?: string;
  /** Default: `portwarden-rescan` (member roles trust it by name). */
  readonly roleName?: string;
}

/**
 * Rescans minutes after a change: member accounts forward CloudTrail change events to this bus
 * (infra/member-role-stack.ts, PortwardenEventForwarderStack); rules route them into two SQS queues
 * (changes now, launches after a delay), and one Lambda (reserved concurrency 1: a burst is one round
 * at a time) drains both in batches gathered over `batchingWindow`. Undeliverable messages go to a
 * DLQ with an alarm.
 */
export class EventRescans extends Construct {
  readonly bus: EventBus;
  readonly changeQueue: Queue;
  readonly launchQueue: Queue;
  readonly deadLetterQueue: Queue;
  readonly rescanFunction: ScannerFunction;
  readonly deadLetterAlarm: Alarm;

  constructor(scope: Construct, id: string, props: EventRescansProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const { settings } = props;
    const { accounts, organization, organizationId, memberRoleName } = settings;
    const batchingWindow = settings.rescanBatchingWindow;
    if (batchingWindow.toSeconds() < 0 || batchingWindow.toSeconds() > 300)
      throw new InputError("rescanBatchingWindow", `${batchingWindow.toSeconds()} s is not 0-300 seconds`);
    const launchDelay = props.launchDelay ?? Duration.seconds(RESCAN_TIMING.launchDelay);
    if (launchDelay.toSeconds() > 900)
      throw new InputError(
        "rescanLaunchDelay",
        `${launchDelay.toSeconds()} s is more than SQS allows (900 s)`,
      );
    if (organizationId !== undefined && !/^o-[a-z0-9]{10,32}$/.test(organizationId))
      throw new InputError("organizationId", `'${organizationId}' is not an organization id (o-…)`);
    if (organization && organizationId === undefined)
      throw new InputError(
        "organizationId",
        "needed for event rescans of an organization (the bus admits its accounts)",
      );
    // The same scope as discovery: the member roles it may assume, and the accounts that may send.
    const scannedAccounts = organization ? ["*"] : accounts.length > 0 ? accounts : [stack.account];
    const scansOwnAccount =
      organization ||
      accounts.length === 0 ||
      Token.isUnresolved(stack.account) ||
      accounts.includes(stack.account);

    this.bus = new EventBus(this, "Bus", { eventBusName: props.busName ?? DEFAULT_CHANGE_BUS_NAME });
    // Who may put events: the organization's principals, or each listed account; this bus only.
    this.bus.addToResourcePolicy(
      new PolicyStatement({
        sid: "PortwardenChangeSenders",
        actions: ["events:PutEvents"],
        resources: [this.bus.eventBusArn],
        ...(organizationId
          ? {
              principals: [new AnyPrincipal()],
              conditions: { StringEquals: { "aws:PrincipalOrgID": organizationId } },
            }
          : { principals: scannedAccounts.map((account) => new AccountPrincipal(account)) }),
      }),
    );

    const queueDefaults = { encryption: QueueEncryption.SQS_MANAGED, enforceSSL: true };
    this.deadLetterQueue = new Queue(this, "DeadLetters", {
      ...queueDefaults,
      retentionPeriod: Duration.days(14),
    });
    // A rescan touches a few nodes (~15 s); 2 minutes bounds a large one (the scan stage stops at the
    // deadline, incomplete scans resolve nothing). With reserved concurrency 1 the second queue's
    // poller is throttled while a rescan runs and its batch returns after the visibility timeout:
    // equal to the function timeout (the least Lambda accepts) keeps even a launch caught that way
    // (delay + window + visibility, npm run bench:rescan) under 5 minutes, where the usual 6x
    // guidance would hold it for 12. 10 receives before the DLQ, as throttles count.
    const timeout = Duration.seconds(RESCAN_TIMING.functionTimeout);
    const queue = (qid: string, delay?: Duration) =>
      new Queue(this, qid, {
        ...queueDefaults,
        visibilityTimeout: Duration.seconds(RESCAN_TIMING.visibilityTimeout),
        retentionPeriod: Duration.days(1),
        ...(delay ? { deliveryDelay: delay } : {}),
        deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: 10 },
      });
    this.changeQueue = queue("Changes");
    this.launchQueue = queue("Launches", launchDelay);
    const target = (q: Queue) => new SqsQueue(q, { deadLetterQueue: this.deadLetterQueue, retryAttempts: 8 });
    new Rule(this, "ChangeRule", {
      eventBus: this.bus,
      eventPattern: CHANGE_PATTERN,
      targets: [target(this.changeQueue)],
    });
    new Rule(this, "LaunchRule", {
      eventBus: this.bus,
      eventPattern: LAUNCH_PATTERN,
      targets: [target(this.launchQueue)],
    });
    new Rule(this, "RunningRule", {
      eventBus: this.bus,
      eventPattern: RUNNING_PATTERN,
      targets: [target(this.launchQueue)],
    });

    this.rescanFunction = new ScannerFunction(this, "Rescan", {
      handlerName: "rescan",
      memorySize: 512,
      timeout,
      roleName: props.roleName ?? DEFAULT_RESCAN_ROLE_NAME,
      logRetention: settings.logRetention,
      environment: {
        [ENV.portSpec]: settings.ports,
        [ENV.timingAnchor]: settings.timingAnchor,
        [ENV.accounts]: accounts.join(","),
        [ENV.regions]: settings.regions.join(","),
        [ENV.memberRoleName]: memberRoleName,
        [ENV.externalId]: settings.externalId,
        [ENV.securityHub]: String(settings.securityHub),
      },
    })
      .bindStateTable(props.stateTable, [...SCAN_STAGE_METHODS, ...NOTIFY_STAGE_METHODS])
      .bindAlertTopic(props.alertTopic);
    // The concurrency guard: one rescan at a time; a burst waits in the queue and becomes the next batch.
    (this.rescanFunction.node.defaultChild as CfnFunction).reservedConcurrentExecutions = 1;
    this.rescanFunction.addToRolePolicy(
      new PolicyStatement({
        actions: ["sts:AssumeRole"],
        resources: scannedAccounts.map((account) => roleArn(stack.partition, account, memberRoleName)),
      }),
    );
    if (scansOwnAccount)
      this.rescanFunction.addToRolePolicy(
        new PolicyStatement({ actions: [...MEMBER_ROLE_ACTIONS], resources: ["*"] }),
      );
    if (settings.securityHub) grantSecurityHubImport(this.rescanFunction);
    for (const q of [this.changeQueue, this.launchQueue])
      this.rescanFunction.addEventSource(
        new SqsEventSource(q, {
          batchSize: RESCAN_TIMING.batchSize,
          maxBatchingWindow: batchingWindow,
          reportBatchItemFailures: true,
        }),
      );

    this.deadLetterAlarm = new Alarm(this, "DeadLettered", {
      alarmDescription:
        "portwarden change events could not be rescanned (see the rescan DLQ); the hourly round still runs",
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    this.deadLetterAlarm.addAlarmAction(new SnsAction(props.alertTopic));
    this.acknowledgeNagFindings(memberRoleName);
  }

  private acknowledgeNagFindings(memberRoleName: string): void {
    const ack = (scope: Construct, id: string, reason: string) =>
      Validations.of(scope).acknowledge({ id, reason });
    ack(
      this.deadLetterQueue,
      "AwsSolutions-SQS3",
      "This queue is itself the dead-letter queue of the rescan queues and rules.",
    );
    ack(this.deadLetterQueue, "Serverless-SQSRedrivePolicy", "This queue is itself a dead-letter queue.");
    const policy = this.rescanFunction.role?.node.tryFindChild("DefaultPolicy") ?? this.rescanFunction;
    ack(
      policy,
      "AwsSolutions-IAM5[Resource::*]",
      "X-Ray telemetry, EC2 Describe* and eks:ListClusters support no resource-level permissions (read-only or telemetry).",
    );
    ack(
      policy,
      `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::*:role/${memberRoleName}]`,
      "Organization mode: accounts join and leave; only the member role of that one name, whose trust needs the external id.",
    );
    ack(
      policy,
      "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
      "Publishing to the KMS-encrypted alert topic needs GenerateDataKey* on that one key.",
    );
    ack(
      this.rescanFunction,
      "Serverless-LambdaDLQ",
      "Invoked by SQS event source mappings: failed messages go to the queues' redrive DLQ, not a function DLQ.",
    );
    for (const mapping of this.rescanFunction.node.children.filter((c) =>
      c.node.id.startsWith("SqsEventSource"),
    ))
      ack(
        mapping,
        "Serverless-LambdaEventSourceMappingDestination",
        "SQS event sources take no on-failure destination; each queue's redrive policy sends failed messages to the DLQ.",
      );
  }
}

/**
 * securityhub:BatchImportFindings on this account's own default product only, and
 * BatchUpdateFindings (Workflow RESOLVED on archived findings) on this account's hub only.
 */
export function grantSecurityHubImport(fn: ScannerFunction): void {
  const stack = Stack.of(fn);
  const prefix = `arn:${stack.partition}:securityhub:${stack.region}:${stack.account}`;
  fn.addToRolePolicy(
    new PolicyStatement({
      actions: ["securityhub:BatchImportFindings"],
      resources: [`${prefix}:product/${stack.account}/default`],
    }),
  );
  fn.addToRolePolicy(
    new PolicyStatement({
      actions: ["securityhub:BatchUpdateFindings"],
      resources: [`${prefix}:hub/default`],
    }),
  );
}
