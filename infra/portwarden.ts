import { Aws, type CfnElement, Duration, Fn, RemovalPolicy, Stack, Token, Validations } from "aws-cdk-lib";
import { Alarm, ComparisonOperator, type IMetric, TreatMissingData } from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import { AttributeType, BillingMode, Table, TableEncryption } from "aws-cdk-lib/aws-dynamodb";
import { PolicyStatement, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Key } from "aws-cdk-lib/aws-kms";
import { LogGroup } from "aws-cdk-lib/aws-logs";
import { BlockPublicAccess, Bucket, BucketEncryption, type IBucket } from "aws-cdk-lib/aws-s3";
import { Schedule, ScheduleExpression, TimeWindow } from "aws-cdk-lib/aws-scheduler";
import { StepFunctionsStartExecution } from "aws-cdk-lib/aws-scheduler-targets";
import { SubscriptionFilter, Topic } from "aws-cdk-lib/aws-sns";
import { EmailSubscription, UrlSubscription } from "aws-cdk-lib/aws-sns-subscriptions";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import {
  Choice,
  Condition,
  DefinitionBody,
  DistributedMap,
  Fail,
  ItemBatcher,
  JsonPath,
  LogLevel,
  ResultWriterV2,
  S3JsonItemReader,
  StateMachine,
  StateMachineType,
  Succeed,
  TaskInput,
} from "aws-cdk-lib/aws-stepfunctions";
import { LambdaInvoke, type LambdaInvokeProps } from "aws-cdk-lib/aws-stepfunctions-tasks";
import { Construct, type IConstruct } from "constructs";
import { roleArn } from "../lib/contracts/aws-identifiers.ts";
import {
  ENV,
  GENERATED_EXTERNAL_ID_PREFIX,
  MAP_RESULTS_PREFIX,
  ROUND_OBJECTS,
} from "../lib/contracts/deployment.ts";
import { MAP_BATCH_MAX_INPUT_BYTES } from "../lib/contracts/limits.ts";
import {
  NOTIFY_STAGE_METHODS,
  OUTBOX_INDEX_NAME,
  OUTBOX_PARTITION_KEY,
  OUTBOX_SORT_KEY,
  PARTITION_KEY,
  ROUND_LOCK_METHODS,
  SCAN_STAGE_METHODS,
  SORT_KEY,
  TTL_ATTRIBUTE,
} from "../lib/state/dynamo-schema.ts";
import { EventRescans, grantSecurityHubImport } from "./event-rescans.ts";
import { MEMBER_ROLE_ACTIONS } from "./member-role-stack.ts";
import {
  type PortwardenProps,
  type ResolvedPortwardenProps,
  resolvePortwardenProps,
} from "./portwarden-props.ts";
import { ScannerFunction } from "./scanner-function.ts";

export type { PortwardenProps } from "./portwarden-props.ts";

/** Lambda errors worth a retry of the invoke itself (the function's own errors are not retried). */
const LAMBDA_SERVICE_ERRORS = [
  "Lambda.ServiceException",
  "Lambda.AWSLambdaException",
  "Lambda.SdkClientException",
  "Lambda.TooManyRequestsException",
];

/**
 * The Map's item reader, granted the round objects only (`rounds/*`): CDK's S3JsonItemReader
 * grants s3:GetObject on every object of the bucket.
 */
class RoundTargetsReader extends S3JsonItemReader {
  private readonly roundBucket: IBucket;
  constructor(props: { bucket: IBucket; key: string }) {
    super(props);
    this.roundBucket = props.bucket;
  }
  override providePolicyStatements(): PolicyStatement[] {
    return [
      new PolicyStatement({
        actions: ["s3:GetObject"],
        resources: [this.roundBucket.arnForObjects(ROUND_OBJECTS)],
      }),
    ];
  }
}

/**
 * The Map's result writer, granted its own prefix only (`rounds/map-results/*`): CDK's
 * ResultWriterV2 grants put/get/multipart on every object of the bucket.
 */
class RoundResultWriter extends ResultWriterV2 {
  private readonly roundBucket: IBucket;
  constructor(props: { bucket: IBucket; prefix: string }) {
    super(props);
    this.roundBucket = props.bucket;
  }
  override providePolicyStatements(): PolicyStatement[] {
    return [
      new PolicyStatement({
        actions: ["s3:PutObject", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"],
        resources: [this.roundBucket.arnForObjects(`${this.prefix ?? MAP_RESULTS_PREFIX}/*`)],
      }),
    ];
  }
}

/**
 * portwarden in one construct: a scheduled Step Functions round (Discover → Distributed Map of Scan
 * Lambdas → Notify), the DynamoDB state table, the round-data bucket and the encrypted alert topic.
 * Every resource it makes is a public field, so a stack can add outputs, grants or alarms.
 */
export class Portwarden extends Construct {
  /** The props with their defaults, as validated at synth time. */
  readonly settings: ResolvedPortwardenProps;
  /** Exposure history and the alert outbox (layout: lib/state/dynamo-schema.ts). */
  readonly stateTable: Table;
  /** Round data under `rounds/`: target lists, cluster ids, the Map's result files. */
  readonly roundBucket: Bucket;
  /** The customer-managed key the alert topic is encrypted with. */
  readonly alertKey: Key;
  /** Alerts, round summaries and the alarms' notifications. */
  readonly alertTopic: Topic;
  /** Dead-letter queue of the topic's email and pager subscriptions. */
  readonly subscriptionDeadLetterQueue: Queue;
  /** Lists accounts → regions → nodes and writes the round's targets (its role is assumed-from by member roles). */
  readonly discoverFunction: ScannerFunction;
  /** Scans, probes and records one batch of targets (run by the Distributed Map). */
  readonly scanFunction: ScannerFunction;
  /** Sums the round, publishes pending alerts and the round summary. */
  readonly notifyFunction: ScannerFunction;
  /** The state machine's execution log. */
  readonly stateMachineLogGroup: LogGroup;
  /** One execution is one round. */
  readonly stateMachine: StateMachine;
  /** Where the scheduler puts a round it could not start. */
  readonly scheduleDeadLetterQueue: Queue;
  /** Starts a round (`schedule`, within `scheduleWindow`). */
  readonly schedule: Schedule;
  /** A round failed: nodes may be unscanned this period. */
  readonly roundFailedAlarm: Alarm;
  /** A round hit `roundTimeout`. */
  readonly roundTimedOutAlarm: Alarm;
  /** The scheduler could not start a round (a message is in `scheduleDeadLetterQueue`). */
  readonly scheduleDeadLetteredAlarm: Alarm;
  /** Change bus, queues and rescan Lambda; present with `eventRescans`. */
  readonly eventRescans?: EventRescans;

  constructor(scope: Construct, id: string, props: PortwardenProps = {}) {
    super(scope, id);
    // The Map's ResultWriterV2 is only rendered under this flag; scoped here so any app gets it.
    this.node.setContext("@aws-cdk/aws-stepfunctions:useDistributedMapResultWriterV2", true);
    // No constant default external id: one per stack, from the UUID CloudFormation gives the stack.
    const settings = resolvePortwardenProps(props, () =>
      Fn.join("", [GENERATED_EXTERNAL_ID_PREFIX, Fn.select(2, Fn.split("/", Aws.STACK_ID))]),
    );
    this.settings = settings;

    // --- state, round data, alerts ---
    this.stateTable = new Table(this, "StateTable", {
      partitionKey: { name: PARTITION_KEY, type: AttributeType.STRING },
      sortKey: { name: SORT_KEY, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      // AWS-managed key: encrypted at rest with key use in CloudTrail; no other account reads the table.
      encryption: TableEncryption.AWS_MANAGED,
      timeToLiveAttribute: TTL_ATTRIBUTE,
      removalPolicy: settings.stateRemovalPolicy,
    });
    this.stateTable.addGlobalSecondaryIndex({
      indexName: OUTBOX_INDEX_NAME,
      partitionKey: { name: OUTBOX_PARTITION_KEY, type: AttributeType.STRING },
      sortKey: { name: OUTBOX_SORT_KEY, type: AttributeType.STRING },
    });

    this.roundBucket = new Bucket(this, "RoundBucket", {
      // SSE-S3: the Distributed Map reads and writes here with no KMS key policy to keep in step.
      encryption: BucketEncryption.S3_MANAGED,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: false,
      lifecycleRules: [
        {
          expiration: Duration.days(settings.roundDataRetentionDays),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
      // Kept on `cdk destroy` (CloudFormation cannot delete a non-empty bucket); the README says how to remove it.
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.alertKey = this.createAlertKey();
    this.alertTopic = new Topic(this, "AlertTopic", {
      displayName: "portwarden alerts",
      masterKey: this.alertKey,
      enforceSSL: true,
    });
    this.allowAlarmsToPublish(this.alertTopic);
    this.subscriptionDeadLetterQueue = this.deadLetterQueue("SubscriptionDeadLetters");
    this.subscribe(settings);

    // --- the three Lambdas ---
    this.discoverFunction = this.createDiscoverFunction(settings);
    this.scanFunction = new ScannerFunction(this, "Scan", {
      handlerName: "scan",
      logRetention: settings.logRetention,
      memorySize: settings.scannerMemoryMb,
      timeout: settings.scannerTimeout,
      environment: { [ENV.portSpec]: settings.ports, [ENV.timingAnchor]: settings.timingAnchor },
    }).bindStateTable(this.stateTable, SCAN_STAGE_METHODS);
    this.notifyFunction = new ScannerFunction(this, "Notify", {
      handlerName: "notify",
      logRetention: settings.logRetention,
      memorySize: 256,
      timeout: Duration.minutes(2),
      environment: { [ENV.baseline]: JSON.stringify(settings.baseline) },
    })
      .bindStateTable(this.stateTable, [...NOTIFY_STAGE_METHODS, ...ROUND_LOCK_METHODS, "listIps"])
      .bindRoundBucket(this.roundBucket, "read")
      .bindAlertTopic(this.alertTopic);
    if (settings.securityHub) {
      this.notifyFunction.addEnvironment(ENV.securityHub, "true");
      grantSecurityHubImport(this.notifyFunction);
    }
    if (settings.eventRescans)
      this.eventRescans = new EventRescans(this, "EventRescans", {
        stateTable: this.stateTable,
        alertTopic: this.alertTopic,
        settings,
      });

    // --- the round ---
    this.stateMachineLogGroup = new LogGroup(this, "StateMachineLogs", {
      retention: settings.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stateMachine = new StateMachine(this, "Round", {
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: DefinitionBody.fromChainable(this.roundDefinition(settings)),
      timeout: settings.roundTimeout,
      tracingEnabled: true,
      logs: { destination: this.stateMachineLogGroup, level: LogLevel.ALL, includeExecutionData: false },
    });
    // The Distributed Map grants its own S3 reader/writer access (GetObject, PutObject, multipart).

    // --- schedule and alarms ---
    this.scheduleDeadLetterQueue = this.deadLetterQueue("ScheduleDeadLetters");
    this.schedule = new Schedule(this, "RoundSchedule", {
      description: "Starts one portwarden scan round",
      schedule: ScheduleExpression.expression(settings.schedule),
      timeWindow: TimeWindow.flexible(settings.scheduleWindow),
      target: new StepFunctionsStartExecution(this.stateMachine, {
        deadLetterQueue: this.scheduleDeadLetterQueue,
        retryAttempts: 3,
        maxEventAge: Duration.hours(1),
      }),
    });
    const fiveMinuteSum = { period: Duration.minutes(5), statistic: "Sum" };
    this.roundFailedAlarm = this.alarmOnAny(
      "RoundFailed",
      "A portwarden round failed: nodes may be unscanned this hour",
      this.stateMachine.metricFailed(fiveMinuteSum),
    );
    this.roundTimedOutAlarm = this.alarmOnAny(
      "RoundTimedOut",
      "A portwarden round timed out: raise scannerTimeout/maxConcurrency or roundTimeout",
      this.stateMachine.metricTimedOut(fiveMinuteSum),
    );
    this.scheduleDeadLetteredAlarm = this.alarmOnAny(
      "ScheduleDeadLettered",
      "The scheduler could not start a portwarden round (see the schedule's DLQ)",
      this.scheduleDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
    );

    this.acknowledgeNagFindings();
  }

  /**
   * Who may use the topic as a service: CloudWatch alarms of this account and region (the
   * construct's, and any a stack adds), nothing else. The same two conditions (aws:SourceAccount,
   * aws:SourceArn) guard the key statement and the topic statement: without both, a "round failed"
   * alarm fires and nothing arrives. A wildcard over alarm names, not their ARNs: the key's policy
   * cannot name an alarm that references the topic that references the key (a cycle).
   */
  private alarmSourceConditions(): Record<string, Record<string, string>> {
    const stack = Stack.of(this);
    return {
      StringEquals: { "aws:SourceAccount": stack.account },
      ArnLike: {
        "aws:SourceArn": `arn:${stack.partition}:cloudwatch:${stack.region}:${stack.account}:alarm:*`,
      },
    };
  }

  /** The topic's key: CloudWatch alarms may use it to publish (nothing else publishes as a service). */
  private createAlertKey(): Key {
    const key = new Key(this, "AlertKey", {
      description: "portwarden alert topic",
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    key.addToResourcePolicy(
      new PolicyStatement({
        sid: "CloudWatchAlarmsPublishToAlertTopic",
        principals: [new ServicePrincipal("cloudwatch.amazonaws.com")],
        actions: ["kms:Decrypt", "kms:GenerateDataKey*"],
        resources: ["*"],
        conditions: this.alarmSourceConditions(),
      }),
    );
    return key;
  }

  /** The topic's policy (beside the TLS-only Deny): CloudWatch alarms of this account may publish. */
  private allowAlarmsToPublish(topic: Topic): void {
    topic.addToResourcePolicy(
      new PolicyStatement({
        sid: "CloudWatchAlarmsPublish",
        principals: [new ServicePrincipal("cloudwatch.amazonaws.com")],
        actions: ["sns:Publish"],
        resources: [topic.topicArn],
        conditions: this.alarmSourceConditions(),
      }),
    );
  }

  /** Email subscribers get everything; the pager only the severities it asked for, and never a resolved alert. */
  private subscribe(settings: ResolvedPortwardenProps): void {
    const deadLetterQueue = this.subscriptionDeadLetterQueue;
    for (const email of settings.alertEmails)
      this.alertTopic.addSubscription(new EmailSubscription(email, { deadLetterQueue }));
    if (settings.pagerUrl !== undefined)
      this.alertTopic.addSubscription(
        new UrlSubscription(settings.pagerUrl, {
          deadLetterQueue,
          // Resolved/de-escalated alerts carry severity "info" already; the eventType clause keeps them out even
          // when someone adds info to pagerSeverities. Escalations and new alerts page.
          filterPolicy: {
            severity: SubscriptionFilter.stringFilter({ allowlist: settings.pagerSeverities }),
            eventType: SubscriptionFilter.stringFilter({ denylist: ["resolved", "de-escalated"] }),
          },
        }),
      );
  }

  /** Discovery: a fixed role name (member roles trust it), AssumeRole on the member roles only. */
  private createDiscoverFunction(settings: ResolvedPortwardenProps): ScannerFunction {
    const stack = Stack.of(this);
    const { accounts, organization, memberRoleName } = settings;
    const fn = new ScannerFunction(this, "Discover", {
      handlerName: "discover",
      logRetention: settings.logRetention,
      memorySize: 512,
      timeout: Duration.minutes(10),
      roleName: settings.discoveryRoleName,
      environment: {
        [ENV.accounts]: accounts.join(","),
        [ENV.organization]: String(organization),
        [ENV.regions]: settings.regions.join(","),
        [ENV.memberRoleName]: memberRoleName,
        [ENV.externalId]: settings.externalId,
        [ENV.coverageSlices]: String(settings.coverageSlices),
        [ENV.roundLockSeconds]: String(settings.roundTimeout.toSeconds()),
      },
    })
      .bindStateTable(this.stateTable, [...SCAN_STAGE_METHODS, ...ROUND_LOCK_METHODS])
      .bindRoundBucket(this.roundBucket, "readWrite");
    const memberAccounts = organization ? ["*"] : accounts.length > 0 ? accounts : [stack.account];
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ["sts:AssumeRole"],
        resources: memberAccounts.map((account) => roleArn(stack.partition, account, memberRoleName)),
      }),
    );
    // Discovery reads the scanner's own account with its own credentials (no member role there).
    const scansOwnAccount =
      organization ||
      accounts.length === 0 ||
      Token.isUnresolved(stack.account) ||
      accounts.includes(stack.account);
    if (scansOwnAccount)
      fn.addToRolePolicy(new PolicyStatement({ actions: [...MEMBER_ROLE_ACTIONS], resources: ["*"] }));
    if (organization)
      fn.addToRolePolicy(new PolicyStatement({ actions: ["organizations:ListAccounts"], resources: ["*"] }));
    return fn;
  }

  /** Discover → Distributed Map of Scan batches → Notify (also after a failed fan-out) → outcome. */
  private roundDefinition(settings: ResolvedPortwardenProps) {
    const discover = this.invoke("Discover targets", this.discoverFunction, Duration.seconds(2), {
      payload: TaskInput.fromObject({
        roundId: JsonPath.stringAt("$$.Execution.Name"),
        startedAt: JsonPath.stringAt("$$.Execution.StartTime"),
      }),
    });
    const scan = this.invoke("Scan batch", this.scanFunction, Duration.seconds(5));
    const fanOut = new DistributedMap(this, "Scan targets", {
      itemReader: new RoundTargetsReader({
        bucket: this.roundBucket,
        key: JsonPath.stringAt("$.targetsKey"),
      }),
      itemBatcher: new ItemBatcher({
        maxItemsPerBatch: settings.targetsPerBatch,
        // A batch is also cut by size: targets with long SG port lists must never push a Scan
        // invocation past the 256 KiB Step Functions / Lambda payload limit (room left for BatchInput).
        maxInputBytesPerBatch: MAP_BATCH_MAX_INPUT_BYTES,
        // ItemBatcher renders BatchInput as written: the ".$" suffix makes Step Functions resolve the path.
        batchInput: { "roundId.$": "$.roundId" },
      }),
      maxConcurrency: settings.maxConcurrency,
      toleratedFailurePercentage: settings.toleratedFailurePercentage,
      resultWriterV2: new RoundResultWriter({ bucket: this.roundBucket, prefix: MAP_RESULTS_PREFIX }),
      resultPath: "$.map",
      mapExecutionType: StateMachineType.STANDARD,
    });
    fanOut.itemProcessor(scan);
    const notify = this.invoke("Notify alerts", this.notifyFunction, Duration.seconds(2), {
      resultPath: "$.notify",
    });

    const failWithError = (id: string) =>
      new Fail(this, id, { causePath: "$.error.Cause", errorPath: "$.error.Error" });
    discover.addCatch(failWithError("Discovery failed"), { errors: ["States.ALL"], resultPath: "$.error" });
    // A failed fan-out still notifies: what the successful scans recorded must not wait a round.
    fanOut.addCatch(notify, { errors: ["States.ALL"], resultPath: "$.mapError" });
    notify.addCatch(failWithError("Notify failed"), { errors: ["States.ALL"], resultPath: "$.error" });
    const fanOutFailed = new Fail(this, "Scan fan-out failed", {
      error: "ScanFanOutFailed",
      cause: "More scan batches failed than tolerated; recorded findings were still notified",
    });
    const outcome = new Choice(this, "Fan-out succeeded?")
      .when(Condition.isPresent("$.mapError"), fanOutFailed)
      .otherwise(new Succeed(this, "Round done"));
    // A large outbox takes several Notify passes: each stops near its Lambda deadline with
    // `more: true` and a cursor, and the round loops back until the outbox is drained.
    const moreAlerts = new Choice(this, "More alerts?")
      .when(Condition.booleanEquals("$.notify.more", true), notify)
      .otherwise(outcome);
    return discover.next(fanOut).next(notify).next(moreAlerts);
  }

  /** A synchronous Lambda task: its output only, Lambda service errors retried 3 times with backoff. */
  private invoke(
    id: string,
    lambdaFunction: ScannerFunction,
    retryInterval: Duration,
    props: Omit<LambdaInvokeProps, "lambdaFunction"> = {},
  ): LambdaInvoke {
    const task = new LambdaInvoke(this, id, {
      lambdaFunction,
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
      ...props,
    });
    task.addRetry({ errors: LAMBDA_SERVICE_ERRORS, interval: retryInterval, maxAttempts: 3, backoffRate: 2 });
    return task;
  }

  /** An encrypted, TLS-only queue that keeps what it receives for 14 days. */
  private deadLetterQueue(id: string): Queue {
    return new Queue(this, id, {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
  }

  /** An alarm that fires on the first occurrence in a period and notifies the alert topic. */
  private alarmOnAny(id: string, alarmDescription: string, metric: IMetric): Alarm {
    const alarm = new Alarm(this, id, {
      alarmDescription,
      metric,
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    alarm.addAlarmAction(new SnsAction(this.alertTopic));
    return alarm;
  }

  /**
   * cdk-nag (AwsSolutions, Serverless) findings that are deliberate, each with its reason, attached
   * to the construct it is about. Plain `Validations` acknowledgements (cdk-nag v3 has no
   * NagSuppressions): users of the construct need no cdk-nag dependency. IAM5 finding ids name the
   * resource they are about; those names are resolved from the constructs, never written by hand.
   */
  private acknowledgeNagFindings(): void {
    const stack = Stack.of(this);
    const ref = (c: IConstruct) => stack.resolve((c.node.defaultChild as CfnElement).logicalId) as string;
    const acknowledge = (scope: IConstruct, findings: Record<string, string>) => {
      for (const [id, reason] of Object.entries(findings)) Validations.of(scope).acknowledge({ id, reason });
    };
    const policyOf = (fn: { role?: IConstruct | undefined }, fallback: IConstruct) =>
      fn.role?.node.tryFindChild("DefaultPolicy") ?? fallback;

    for (const queue of [this.subscriptionDeadLetterQueue, this.scheduleDeadLetterQueue])
      acknowledge(queue, {
        "AwsSolutions-SQS3": "This queue is itself a dead-letter queue (schedule target, SNS subscriptions).",
        "Serverless-SQSRedrivePolicy":
          "This queue is itself a dead-letter queue; a DLQ of a DLQ adds nothing.",
      });
    acknowledge(this.roundBucket, {
      "AwsSolutions-S1":
        "Round data expires within days and only this construct's roles touch it; CloudTrail data events are the audit path, an access-log bucket would outweigh the data.",
    });
    const functions = [this.discoverFunction, this.scanFunction, this.notifyFunction];
    for (const fn of functions) {
      acknowledge(policyOf(fn, fn), {
        "AwsSolutions-IAM5[Resource::*]":
          "X-Ray PutTraceSegments/PutTelemetryRecords, EC2 Describe*, eks:ListClusters and organizations:ListAccounts support no resource-level permissions (all read-only or telemetry).",
        [`AwsSolutions-IAM5[Resource::<${ref(this.roundBucket)}.Arn>/${ROUND_OBJECTS}]`]:
          "Round objects are created per round; the grant is scoped to the rounds/ prefix.",
      });
      acknowledge(fn, {
        "Serverless-LambdaDLQ":
          "Invoked synchronously by Step Functions: failures are handled by the state machine's Retry/Catch.",
      });
    }
    acknowledge(policyOf(this.notifyFunction, this.notifyFunction), {
      "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]":
        "Publishing to the KMS-encrypted topic needs GenerateDataKey* on that one key.",
    });

    const roundPolicy = policyOf(this.stateMachine, this.stateMachine);
    acknowledge(roundPolicy, {
      "AwsSolutions-IAM5[Resource::*]":
        "Log delivery and X-Ray actions support no resource-level permissions.",
      [`AwsSolutions-IAM5[Resource::<${ref(this.roundBucket)}.Arn>/${ROUND_OBJECTS}]`]:
        "The Distributed Map's item reader: the round objects (rounds/*) only, created per round.",
      [`AwsSolutions-IAM5[Resource::<${ref(this.roundBucket)}.Arn>/${MAP_RESULTS_PREFIX}/*]`]:
        "The Distributed Map's result writer: its own prefix (rounds/map-results/*) only, objects named per run.",
    });
    for (const fn of functions)
      acknowledge(roundPolicy, {
        [`AwsSolutions-IAM5[Resource::<${ref(fn)}.Arn>:*]`]:
          "LambdaInvoke also grants the function's versions; these are this construct's own functions.",
      });
    const mapPolicy = this.stateMachine.node.tryFindChild("DistributedMapPolicy") ?? this.stateMachine;
    const executions = `arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"${ref(this.stateMachine)}"}]}]}`;
    for (const suffix of [":*", "/*:*"])
      acknowledge(mapPolicy, {
        [`AwsSolutions-IAM5[Resource::${executions}${suffix}]`]:
          "The Distributed Map manages its own child executions of this state machine only.",
      });
  }
}
