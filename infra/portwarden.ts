import { type CfnElement, Duration, RemovalPolicy, Stack, Token, Validations } from "aws-cdk-lib";
import { Alarm, ComparisonOperator, TreatMissingData } from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import { AttributeType, BillingMode, Table, TableEncryption } from "aws-cdk-lib/aws-dynamodb";
import { PolicyStatement, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Key } from "aws-cdk-lib/aws-kms";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import { BlockPublicAccess, Bucket, BucketEncryption } from "aws-cdk-lib/aws-s3";
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
import { LambdaInvoke } from "aws-cdk-lib/aws-stepfunctions-tasks";
import { Construct, type IConstruct } from "constructs";
import { SEVERITIES, type Severity } from "../lib/catalog/severity.ts";
import { InputError } from "../lib/errors/errors.ts";
import { parsePortSpec } from "../lib/ports/port-spec.ts";
import {
  OUTBOX_INDEX_NAME,
  OUTBOX_PARTITION_KEY,
  OUTBOX_SORT_KEY,
  PARTITION_KEY,
  SORT_KEY,
  TTL_ATTRIBUTE,
} from "../lib/state/dynamo-schema.ts";
import { MEMBER_ROLE_ACTIONS } from "./member-role-stack.ts";
import { ScannerFunction } from "./scanner-function.ts";

export interface PortwardenProps {
  /** When rounds start: `rate(N unit)` or a 6-field `cron(...)` (EventBridge Scheduler). Default: `rate(1 hour)`. */
  readonly schedule?: string;
  /** Scheduler may start a round anywhere in this window (spreads load). Default: 15 minutes. */
  readonly scheduleWindow?: Duration;
  /** Accounts to scan (12 digits each). Default: the stack's own account. */
  readonly accounts?: string[];
  /** Scan every active account of the AWS Organization (needs organizations:ListAccounts). Default: false. */
  readonly organization?: boolean;
  /** Regions to scan. Default: every region enabled in each account (ec2:DescribeRegions). */
  readonly regions?: string[];
  /** The read-only role in each member account. Default: `PortwardenMemberRole`. */
  readonly memberRoleName?: string;
  /** `sts:ExternalId` the member roles require (8-1224 characters, no spaces). Default: `portwarden`. */
  readonly externalId?: string;
  /** Name of the role that assumes the member roles (member stacks trust it). Default: `portwarden-discovery`. */
  readonly discoveryRoleName?: string;
  /** Port SPEC scanned per node, e.g. `kubernetes,8000-8100` or `all`. Default: `kubernetes`. */
  readonly ports?: string;
  /** Email subscribers (each must confirm the subscription mail). Default: none. */
  readonly alertEmails?: string[];
  /** An HTTPS pager endpoint subscribed to the topic. Default: none. */
  readonly pagerUrl?: string;
  /** Severities the pager receives (a `severity` filter policy). Default: critical and high. */
  readonly pagerSeverities?: Severity[];
  /** Scan Lambda memory in MB (128-10240). Default: 256 (see BENCHMARKS.md). */
  readonly scannerMemoryMb?: number;
  /** Scan Lambda timeout (1-15 minutes); its deadline is the remaining time minus a margin. Default: 10 minutes. */
  readonly scannerTimeout?: Duration;
  /** Scan Lambdas running at once (1-10000). Default: 50. */
  readonly maxConcurrency?: number;
  /** IPs per scan invocation (they share one socket budget). Default: 4. */
  readonly targetsPerBatch?: number;
  /** Percent of scan batches that may fail before the round fails. Default: 10. */
  readonly toleratedFailurePercentage?: number;
  /** A round (one execution) is stopped after this long. Default: 50 minutes. */
  readonly roundTimeout?: Duration;
  /** Lambda and state machine log retention. Default: one month. */
  readonly logRetention?: RetentionDays;
  /** Round data (target lists, map results) in S3 expires after this many days. Default: 14. */
  readonly roundDataRetentionDays?: number;
  /** Removal policy of the state table (exposure history). Default: RETAIN. */
  readonly stateRemovalPolicy?: RemovalPolicy;
}

const RATE = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/;
const CRON = /^cron\((\S+ ){5}\S+\)$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const ACCOUNT = /^\d{12}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;
const ROLE_NAME = /^[\w+=,.@-]{1,64}$/;
const EXTERNAL_ID = /^[\w+=,.@:/-]{2,1224}$/;

/** Synth-time validation: a bad prop stops `cdk synth` with the prop's name and value. */
function validateSchedule(schedule: string): void {
  const rate = RATE.exec(schedule);
  if (rate) {
    const [, amount, unit] = rate;
    if (Number(amount) < 1 || (Number(amount) === 1) !== !unit?.endsWith("s") || Number(amount) > 100_000)
      throw new InputError("schedule", `'${schedule}': use 'rate(1 hour)' or 'rate(2 hours)' style`);
    if (unit?.startsWith("minute") && Number(amount) < 15)
      throw new InputError("schedule", `'${schedule}': rounds closer than 15 minutes would overlap`);
    return;
  }
  if (!CRON.test(schedule))
    throw new InputError("schedule", `'${schedule}' is neither 'rate(N unit)' nor a 6-field 'cron(...)'`);
}

function checkRange(field: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max)
    throw new InputError(field, `${value} is not an integer from ${min} to ${max}`);
  return value;
}

function checkEach(field: string, values: readonly string[], pattern: RegExp, what: string): string[] {
  values.forEach((value, i) => {
    if (!pattern.test(value)) throw new InputError(`${field}[${i}]`, `'${value}' is not ${what}`);
  });
  return [...values];
}

function checkPagerUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InputError("pagerUrl", `'${url}' is not a URL`);
  }
  if (parsed.protocol !== "https:") throw new InputError("pagerUrl", `'${url}' must use https://`);
  return url;
}

/**
 * portwarden in one construct: a scheduled Step Functions round (Discover → Distributed Map of Scan
 * Lambdas → Notify), the DynamoDB state table, the round-data bucket and the encrypted alert topic.
 */
export class Portwarden extends Construct {
  readonly alertTopic: Topic;
  readonly alertKey: Key;
  readonly stateTable: Table;
  readonly roundBucket: Bucket;
  readonly stateMachine: StateMachine;
  readonly schedule: Schedule;
  readonly scheduleDeadLetterQueue: Queue;
  readonly discoverFunction: ScannerFunction;
  readonly scanFunction: ScannerFunction;
  readonly notifyFunction: ScannerFunction;
  readonly roundFailedAlarm: Alarm;
  readonly roundTimedOutAlarm: Alarm;

  constructor(scope: Construct, id: string, props: PortwardenProps = {}) {
    super(scope, id);
    // The Map's ResultWriterV2 is only rendered under this flag; scoped here so any app gets it.
    this.node.setContext("@aws-cdk/aws-stepfunctions:useDistributedMapResultWriterV2", true);
    const stack = Stack.of(this);
    const schedule = props.schedule ?? "rate(1 hour)";
    validateSchedule(schedule);
    const portSpec = props.ports ?? "kubernetes";
    parsePortSpec(portSpec, "ports");
    const accounts = checkEach("accounts", props.accounts ?? [], ACCOUNT, "a 12-digit account id");
    const regions = checkEach("regions", props.regions ?? [], REGION, "an AWS region");
    const organization = props.organization ?? false;
    if (organization && accounts.length > 0)
      throw new InputError("organization", "give either accounts or organization, not both");
    const memberRoleName = checkEach(
      "memberRoleName",
      [props.memberRoleName ?? "PortwardenMemberRole"],
      ROLE_NAME,
      "an IAM role name",
    )[0] as string;
    const discoveryRoleName = checkEach(
      "discoveryRoleName",
      [props.discoveryRoleName ?? "portwarden-discovery"],
      ROLE_NAME,
      "an IAM role name",
    )[0] as string;
    const externalId = props.externalId ?? "portwarden";
    if (!EXTERNAL_ID.test(externalId))
      throw new InputError("externalId", "must be 2-1224 characters of letters, digits and +=,.@:/-");
    const alertEmails = checkEach("alertEmails", props.alertEmails ?? [], EMAIL, "an email address");
    const pagerUrl = props.pagerUrl !== undefined ? checkPagerUrl(props.pagerUrl) : undefined;
    const pagerSeverities = props.pagerSeverities ?? ["critical", "high"];
    pagerSeverities.forEach((s, i) => {
      if (!SEVERITIES.includes(s))
        throw new InputError(`pagerSeverities[${i}]`, `'${s}' is not one of ${SEVERITIES.join(", ")}`);
    });
    if (pagerSeverities.length === 0)
      throw new InputError("pagerSeverities", "must name at least one severity");
    const scannerMemoryMb = checkRange("scannerMemoryMb", props.scannerMemoryMb ?? 256, 128, 10_240);
    const scannerTimeout = props.scannerTimeout ?? Duration.minutes(10);
    checkRange("scannerTimeout (seconds)", scannerTimeout.toSeconds(), 60, 900);
    const maxConcurrency = checkRange("maxConcurrency", props.maxConcurrency ?? 50, 1, 10_000);
    const targetsPerBatch = checkRange("targetsPerBatch", props.targetsPerBatch ?? 4, 1, 50);
    const toleratedFailurePercentage = checkRange(
      "toleratedFailurePercentage",
      props.toleratedFailurePercentage ?? 10,
      0,
      100,
    );
    const roundTimeout = props.roundTimeout ?? Duration.minutes(50);
    checkRange("roundTimeout (minutes)", roundTimeout.toMinutes(), 5, 24 * 60);
    const roundDataRetentionDays = checkRange(
      "roundDataRetentionDays",
      props.roundDataRetentionDays ?? 14,
      1,
      3650,
    );
    const logRetention = props.logRetention ?? RetentionDays.ONE_MONTH;

    // --- state, round data, alerts ---
    this.stateTable = new Table(this, "StateTable", {
      partitionKey: { name: PARTITION_KEY, type: AttributeType.STRING },
      sortKey: { name: SORT_KEY, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      // AWS-managed key: encrypted at rest with key use in CloudTrail; no other account reads the table.
      encryption: TableEncryption.AWS_MANAGED,
      timeToLiveAttribute: TTL_ATTRIBUTE,
      removalPolicy: props.stateRemovalPolicy ?? RemovalPolicy.RETAIN,
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
          expiration: Duration.days(roundDataRetentionDays),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
      // Kept on `cdk destroy` (CloudFormation cannot delete a non-empty bucket); the README says how to remove it.
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.alertKey = new Key(this, "AlertKey", {
      description: "portwarden alert topic",
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // CloudWatch alarms and EventBridge publish to the encrypted topic as services, not as roles.
    for (const service of ["cloudwatch.amazonaws.com", "events.amazonaws.com"]) {
      this.alertKey.addToResourcePolicy(
        new PolicyStatement({
          principals: [new ServicePrincipal(service)],
          actions: ["kms:Decrypt", "kms:GenerateDataKey*"],
          resources: ["*"],
          conditions: { StringEquals: { "aws:SourceAccount": stack.account } },
        }),
      );
    }
    this.alertTopic = new Topic(this, "AlertTopic", {
      displayName: "portwarden alerts",
      masterKey: this.alertKey,
      enforceSSL: true,
    });
    const subscriptionDeadLetters = new Queue(this, "SubscriptionDeadLetters", {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    for (const email of alertEmails)
      this.alertTopic.addSubscription(
        new EmailSubscription(email, { deadLetterQueue: subscriptionDeadLetters }),
      );
    if (pagerUrl !== undefined)
      this.alertTopic.addSubscription(
        new UrlSubscription(pagerUrl, {
          deadLetterQueue: subscriptionDeadLetters,
          filterPolicy: { severity: SubscriptionFilter.stringFilter({ allowlist: pagerSeverities }) },
        }),
      );

    // --- the three Lambdas ---
    const common = { logRetention };
    this.discoverFunction = new ScannerFunction(this, "Discover", {
      ...common,
      handlerName: "discover",
      memorySize: 512,
      timeout: Duration.minutes(10),
      roleName: discoveryRoleName,
      environment: {
        ACCOUNTS: accounts.join(","),
        ORGANIZATION: String(organization),
        REGIONS: regions.join(","),
        MEMBER_ROLE_NAME: memberRoleName,
        EXTERNAL_ID: externalId,
      },
    })
      .bindStateTable(this.stateTable)
      .bindRoundBucket(this.roundBucket, "readWrite");
    const memberAccounts = organization ? ["*"] : accounts.length > 0 ? accounts : [stack.account];
    this.discoverFunction.addToRolePolicy(
      new PolicyStatement({
        actions: ["sts:AssumeRole"],
        resources: memberAccounts.map((a) => `arn:${stack.partition}:iam::${a}:role/${memberRoleName}`),
      }),
    );
    // Discovery reads the scanner's own account with its own credentials (no member role there).
    const scansOwnAccount =
      organization ||
      accounts.length === 0 ||
      Token.isUnresolved(stack.account) ||
      accounts.includes(stack.account);
    if (scansOwnAccount)
      this.discoverFunction.addToRolePolicy(
        new PolicyStatement({ actions: [...MEMBER_ROLE_ACTIONS], resources: ["*"] }),
      );
    if (organization)
      this.discoverFunction.addToRolePolicy(
        new PolicyStatement({ actions: ["organizations:ListAccounts"], resources: ["*"] }),
      );

    this.scanFunction = new ScannerFunction(this, "Scan", {
      ...common,
      handlerName: "scan",
      memorySize: scannerMemoryMb,
      timeout: scannerTimeout,
      environment: { PORT_SPEC: portSpec },
    }).bindStateTable(this.stateTable);

    this.notifyFunction = new ScannerFunction(this, "Notify", {
      ...common,
      handlerName: "notify",
      memorySize: 256,
      timeout: Duration.minutes(2),
    })
      .bindStateTable(this.stateTable, { listIps: true })
      .bindRoundBucket(this.roundBucket, "read")
      .bindAlertTopic(this.alertTopic);

    // --- the round ---
    const serviceErrors = [
      "Lambda.ServiceException",
      "Lambda.AWSLambdaException",
      "Lambda.SdkClientException",
      "Lambda.TooManyRequestsException",
    ];
    const discover = new LambdaInvoke(this, "Discover targets", {
      lambdaFunction: this.discoverFunction,
      payload: TaskInput.fromObject({
        roundId: JsonPath.stringAt("$$.Execution.Name"),
        startedAt: JsonPath.stringAt("$$.Execution.StartTime"),
      }),
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
    });
    discover.addRetry({
      errors: serviceErrors,
      interval: Duration.seconds(2),
      maxAttempts: 3,
      backoffRate: 2,
      jitterStrategy: undefined,
    });

    const scan = new LambdaInvoke(this, "Scan batch", {
      lambdaFunction: this.scanFunction,
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
    });
    scan.addRetry({ errors: serviceErrors, interval: Duration.seconds(5), maxAttempts: 3, backoffRate: 2 });

    const fanOut = new DistributedMap(this, "Scan targets", {
      itemReader: new S3JsonItemReader({ bucket: this.roundBucket, key: JsonPath.stringAt("$.targetsKey") }),
      itemBatcher: new ItemBatcher({
        maxItemsPerBatch: targetsPerBatch,
        // ItemBatcher renders BatchInput as written: the ".$" suffix makes Step Functions resolve the path.
        batchInput: { "roundId.$": "$.roundId" },
      }),
      maxConcurrency,
      toleratedFailurePercentage,
      resultWriterV2: new ResultWriterV2({ bucket: this.roundBucket, prefix: "rounds/map-results" }),
      resultPath: "$.map",
      mapExecutionType: StateMachineType.STANDARD,
    });
    fanOut.itemProcessor(scan);

    const notify = new LambdaInvoke(this, "Notify alerts", {
      lambdaFunction: this.notifyFunction,
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
      resultPath: "$.notify",
    });
    notify.addRetry({ errors: serviceErrors, interval: Duration.seconds(2), maxAttempts: 3, backoffRate: 2 });

    const discoverFailed = new Fail(this, "Discovery failed", {
      causePath: "$.error.Cause",
      errorPath: "$.error.Error",
    });
    const notifyFailed = new Fail(this, "Notify failed", {
      causePath: "$.error.Cause",
      errorPath: "$.error.Error",
    });
    const fanOutFailed = new Fail(this, "Scan fan-out failed", {
      error: "ScanFanOutFailed",
      cause: "More scan batches failed than tolerated; recorded findings were still notified",
    });
    discover.addCatch(discoverFailed, { errors: ["States.ALL"], resultPath: "$.error" });
    // A failed fan-out still notifies: what the successful scans recorded must not wait a round.
    fanOut.addCatch(notify, { errors: ["States.ALL"], resultPath: "$.mapError" });
    notify.addCatch(notifyFailed, { errors: ["States.ALL"], resultPath: "$.error" });
    const outcome = new Choice(this, "Fan-out succeeded?")
      .when(Condition.isPresent("$.mapError"), fanOutFailed)
      .otherwise(new Succeed(this, "Round done"));

    const stateMachineLogs = new LogGroup(this, "StateMachineLogs", {
      retention: logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stateMachine = new StateMachine(this, "Round", {
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: DefinitionBody.fromChainable(discover.next(fanOut).next(notify).next(outcome)),
      timeout: roundTimeout,
      tracingEnabled: true,
      logs: { destination: stateMachineLogs, level: LogLevel.ALL, includeExecutionData: false },
    });
    // The Distributed Map grants its own S3 reader/writer access (GetObject, PutObject, multipart).

    // --- schedule and alarms ---
    this.scheduleDeadLetterQueue = new Queue(this, "ScheduleDeadLetters", {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.schedule = new Schedule(this, "RoundSchedule", {
      description: "Starts one portwarden scan round",
      schedule: ScheduleExpression.expression(schedule),
      timeWindow: TimeWindow.flexible(props.scheduleWindow ?? Duration.minutes(15)),
      target: new StepFunctionsStartExecution(this.stateMachine, {
        deadLetterQueue: this.scheduleDeadLetterQueue,
        retryAttempts: 3,
        maxEventAge: Duration.hours(1),
      }),
    });

    const alarmAction = new SnsAction(this.alertTopic);
    this.roundFailedAlarm = new Alarm(this, "RoundFailed", {
      alarmDescription: "A portwarden round failed: nodes may be unscanned this hour",
      metric: this.stateMachine.metricFailed({ period: Duration.minutes(5), statistic: "Sum" }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    this.roundTimedOutAlarm = new Alarm(this, "RoundTimedOut", {
      alarmDescription: "A portwarden round timed out: raise scannerTimeout/maxConcurrency or roundTimeout",
      metric: this.stateMachine.metricTimedOut({ period: Duration.minutes(5), statistic: "Sum" }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    const scheduleDropped = new Alarm(this, "ScheduleDeadLettered", {
      alarmDescription: "The scheduler could not start a portwarden round (see the schedule's DLQ)",
      metric: this.scheduleDeadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(5),
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    for (const alarm of [this.roundFailedAlarm, this.roundTimedOutAlarm, scheduleDropped])
      alarm.addAlarmAction(alarmAction);

    this.acknowledgeNagFindings([subscriptionDeadLetters, this.scheduleDeadLetterQueue]);
  }

  /**
   * cdk-nag (AwsSolutions, Serverless) findings that are deliberate, each with its reason. Plain
   * `Validations` acknowledgements: users of the construct need no cdk-nag dependency.
   */
  private acknowledgeNagFindings(deadLetterQueues: Queue[]): void {
    const stack = Stack.of(this);
    const logicalId = (c: IConstruct) =>
      stack.resolve((c.node.defaultChild as CfnElement).logicalId) as string;
    const ack = (scope: IConstruct, id: string, reason: string) =>
      Validations.of(scope).acknowledge({ id, reason });
    const policyOf = (role: IConstruct | undefined, fallback: IConstruct) =>
      role?.node.tryFindChild("DefaultPolicy") ?? fallback;

    for (const queue of deadLetterQueues) {
      ack(
        queue,
        "AwsSolutions-SQS3",
        "This queue is itself a dead-letter queue (schedule target, SNS subscriptions).",
      );
      ack(
        queue,
        "Serverless-SQSRedrivePolicy",
        "This queue is itself a dead-letter queue; a DLQ of a DLQ adds nothing.",
      );
    }
    ack(
      this.roundBucket,
      "AwsSolutions-S1",
      "Round data expires within days and only this construct's roles touch it; CloudTrail data events are the audit path, an access-log bucket would outweigh the data.",
    );
    const functions = [this.discoverFunction, this.scanFunction, this.notifyFunction];
    const roundObjects = `Resource::<${logicalId(this.roundBucket)}.Arn>/rounds/*`;
    for (const fn of functions) {
      const policy = policyOf(fn.role, fn);
      ack(
        policy,
        "AwsSolutions-IAM5[Resource::*]",
        "X-Ray PutTraceSegments/PutTelemetryRecords, EC2 Describe*, eks:ListClusters and organizations:ListAccounts support no resource-level permissions (all read-only or telemetry).",
      );
      ack(
        policy,
        `AwsSolutions-IAM5[${roundObjects}]`,
        "Round objects are created per round; the grant is scoped to the rounds/ prefix.",
      );
      ack(
        fn,
        "Serverless-LambdaDLQ",
        "Invoked synchronously by Step Functions: failures are handled by the state machine's Retry/Catch.",
      );
    }
    ack(
      policyOf(this.notifyFunction.role, this.notifyFunction),
      "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
      "Publishing to the KMS-encrypted topic needs GenerateDataKey* on that one key.",
    );

    const roundPolicy = policyOf(this.stateMachine.role, this.stateMachine);
    ack(
      roundPolicy,
      "AwsSolutions-IAM5[Resource::*]",
      "Log delivery and X-Ray actions support no resource-level permissions.",
    );
    for (const fn of functions)
      ack(
        roundPolicy,
        `AwsSolutions-IAM5[Resource::<${logicalId(fn)}.Arn>:*]`,
        "LambdaInvoke also grants the function's versions; these are this construct's own functions.",
      );
    ack(
      roundPolicy,
      `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::<${logicalId(this.roundBucket)}>/*]`,
      "The Distributed Map's ItemReader/ResultWriter grant: objects of the round bucket only.",
    );
    const mapPolicy = this.stateMachine.node.tryFindChild("DistributedMapPolicy") ?? this.stateMachine;
    const executions = `arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"${logicalId(this.stateMachine)}"}]}]}`;
    for (const suffix of [":*", "/*:*"])
      ack(
        mapPolicy,
        `AwsSolutions-IAM5[Resource::${executions}${suffix}]`,
        "The Distributed Map manages its own child executions of this state machine only.",
      );
  }
}
