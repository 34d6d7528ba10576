import { App, Duration, Stack } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { MEMBER_ROLE_ACTIONS } from "../../infra/member-role-stack.ts";
import { Portwarden, type PortwardenProps } from "../../infra/portwarden.ts";
import { InputError } from "../../lib/errors/errors.ts";
import {
  OUTBOX_INDEX_NAME,
  OUTBOX_PARTITION_KEY,
  PARTITION_KEY,
  SORT_KEY,
  TTL_ATTRIBUTE,
} from "../../lib/state/dynamo-schema.ts";

/** Template tests skip esbuild (bundling is tested with the real bundles in test/functions). */
function newStack(): Stack {
  const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
  return new Stack(app, "Test", { env: { account: "111122223333", region: "eu-west-1" } });
}

function synthesize(props: PortwardenProps): { template: Template; construct: Portwarden } {
  const stack = newStack();
  const construct = new Portwarden(stack, "Portwarden", props);
  return { template: Template.fromStack(stack), construct };
}

interface State {
  Type: string;
  Next?: string;
  End?: boolean;
  Retry?: { ErrorEquals: string[]; MaxAttempts?: number }[];
  Catch?: { ErrorEquals: string[]; Next: string; ResultPath?: string }[];
  [key: string]: unknown;
}

/** The state machine's definition with CloudFormation intrinsics flattened to placeholders. */
function definitionOf(template: Template): {
  StartAt: string;
  States: Record<string, State>;
  TimeoutSeconds?: number;
} {
  const machines = template.findResources("AWS::StepFunctions::StateMachine");
  const [machine] = Object.values(machines);
  const body = machine?.Properties.DefinitionString as { "Fn::Join": [string, unknown[]] };
  const text = body["Fn::Join"][1].map((part) => (typeof part === "string" ? part : "TOKEN")).join("");
  return JSON.parse(text);
}

describe("Portwarden construct with defaults and a pager", () => {
  let template: Template;
  let construct: Portwarden;

  beforeAll(() => {
    ({ template, construct } = synthesize({
      alertEmails: ["secops@example.com"],
      pagerUrl: "https://pager.example.com/hooks/portwarden",
      accounts: ["111122223333", "444455556666"],
    }));
  });

  it("schedules a round hourly with a flexible window, retries and a dead-letter queue", () => {
    // Assess
    template.hasResourceProperties("AWS::Scheduler::Schedule", {
      ScheduleExpression: "rate(1 hour)",
      FlexibleTimeWindow: { Mode: "FLEXIBLE", MaximumWindowInMinutes: 10 },
      Target: Match.objectLike({
        Arn: Match.anyValue(),
        RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 3600 },
        DeadLetterConfig: { Arn: Match.anyValue() },
      }),
    });
  });

  it("runs the round as a Standard state machine with X-Ray and full logging", () => {
    template.hasResourceProperties("AWS::StepFunctions::StateMachine", {
      StateMachineType: "STANDARD",
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: Match.objectLike({ Level: "ALL" }),
    });
  });

  it("runs every Lambda on arm64 and Node 24, outside any VPC", () => {
    const functions = Object.values(template.findResources("AWS::Lambda::Function"));
    expect(functions).toHaveLength(3);
    for (const fn of functions) {
      expect(fn.Properties.Architectures).toEqual(["arm64"]);
      expect(fn.Properties.Runtime).toBe("nodejs24.x");
      expect(fn.Properties.VpcConfig).toBeUndefined();
      expect(fn.Properties.Environment.Variables.NODE_OPTIONS).toBe("--enable-source-maps");
    }
  });

  it("gives the scanner 256 MB and a 10-minute timeout for a full-range scan", () => {
    template.hasResourceProperties("AWS::Lambda::Function", {
      MemorySize: 256,
      Timeout: 600,
      Environment: {
        Variables: Match.objectLike({ PORT_SPEC: "kubernetes", STATE_TABLE_NAME: Match.anyValue() }),
      },
    });
  });

  it("keeps each Lambda's logs in its own log group with one month's retention", () => {
    const groups = Object.values(template.findResources("AWS::Logs::LogGroup"));
    expect(groups.length).toBe(4);
    for (const group of groups) expect(group.Properties.RetentionInDays).toBe(30);
  });

  it("creates the state table from the shared schema: keys, outbox index, TTL, on-demand, PITR, encryption", () => {
    template.hasResourceProperties("AWS::DynamoDB::Table", {
      KeySchema: [
        { AttributeName: PARTITION_KEY, KeyType: "HASH" },
        { AttributeName: SORT_KEY, KeyType: "RANGE" },
      ],
      BillingMode: "PAY_PER_REQUEST",
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
      TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true },
      GlobalSecondaryIndexes: [
        Match.objectLike({
          IndexName: OUTBOX_INDEX_NAME,
          KeySchema: [
            { AttributeName: OUTBOX_PARTITION_KEY, KeyType: "HASH" },
            { AttributeName: PARTITION_KEY, KeyType: "RANGE" },
          ],
        }),
      ],
    });
  });

  it("retains the state table when the stack is deleted", () => {
    template.hasResource("AWS::DynamoDB::Table", { DeletionPolicy: "Retain", UpdateReplacePolicy: "Retain" });
  });

  it("keeps the round bucket encrypted, private and expiring", () => {
    template.hasResourceProperties("AWS::S3::Bucket", {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: 14, Status: "Enabled" })] },
    });
  });

  it("keeps the round bucket when the stack is deleted (CloudFormation cannot delete it non-empty)", () => {
    template.hasResource("AWS::S3::Bucket", { DeletionPolicy: "Retain" });
  });

  it("denies non-TLS access to the round bucket", () => {
    template.hasResourceProperties("AWS::S3::BucketPolicy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
        ]),
      },
    });
  });

  it("encrypts the alert topic with a rotating customer key that CloudWatch alarms may use", () => {
    template.hasResourceProperties("AWS::SNS::Topic", { KmsMasterKeyId: Match.anyValue() });
    template.hasResourceProperties("AWS::KMS::Key", {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: "cloudwatch.amazonaws.com" },
            Action: ["kms:Decrypt", "kms:GenerateDataKey*"],
          }),
        ]),
      },
    });
  });

  it("denies non-TLS publishing to the alert topic", () => {
    template.hasResourceProperties("AWS::SNS::TopicPolicy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
        ]),
      },
    });
  });

  it("subscribes each alert email", () => {
    template.hasResourceProperties("AWS::SNS::Subscription", {
      Protocol: "email",
      Endpoint: "secops@example.com",
      RedrivePolicy: { deadLetterTargetArn: Match.anyValue() },
    });
  });

  it("pages only for critical and high findings, never for a resolved alert", () => {
    template.hasResourceProperties("AWS::SNS::Subscription", {
      Protocol: "https",
      Endpoint: "https://pager.example.com/hooks/portwarden",
      FilterPolicy: {
        severity: ["critical", "high"],
        eventType: [{ "anything-but": ["resolved", "de-escalated"] }],
      },
    });
  });

  it("alarms to the topic when a round fails or times out", () => {
    for (const metric of ["ExecutionsFailed", "ExecutionsTimedOut"])
      template.hasResourceProperties("AWS::CloudWatch::Alarm", {
        Namespace: "AWS/States",
        MetricName: metric,
        Threshold: 1,
        ComparisonOperator: "GreaterThanOrEqualToThreshold",
        AlarmActions: [{ Ref: Match.stringLikeRegexp("AlertTopic") }],
      });
  });

  it("lets discovery assume only the member role of each configured account", () => {
    template.hasResourceProperties("AWS::IAM::Policy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Action: "sts:AssumeRole",
            Effect: "Allow",
            Resource: [
              {
                "Fn::Join": [
                  "",
                  ["arn:", { Ref: "AWS::Partition" }, ":iam::111122223333:role/PortwardenMemberRole"],
                ],
              },
              {
                "Fn::Join": [
                  "",
                  ["arn:", { Ref: "AWS::Partition" }, ":iam::444455556666:role/PortwardenMemberRole"],
                ],
              },
            ],
          },
        ]),
      },
    });
  });

  it("lets discovery read the scanner's own account directly with the member role's read-only actions", () => {
    template.hasResourceProperties("AWS::IAM::Policy", {
      Roles: [{ Ref: Match.stringLikeRegexp("DiscoverRole") }],
      PolicyDocument: {
        Statement: Match.arrayWith([{ Action: [...MEMBER_ROLE_ACTIONS], Effect: "Allow", Resource: "*" }]),
      },
    });
  });

  it("names the discovery role so member accounts can trust it", () => {
    template.hasResourceProperties("AWS::IAM::Role", { RoleName: "portwarden-discovery" });
  });

  it("grants the scanner only the DynamoDB item actions the state store uses, and no S3 or SNS", () => {
    const scanRole = template.findResources("AWS::IAM::Policy", {
      Properties: { Roles: [{ Ref: Match.stringLikeRegexp("ScanRole") }] },
    });
    const statements = Object.values(scanRole).flatMap((p) => p.Properties.PolicyDocument.Statement);
    const actions = statements.flatMap((s: { Action: string | string[] }) => [s.Action].flat());
    // loadIp and saveRecords only (STATE_STORE_ACTIONS): no UpdateItem, no ConditionCheckItem.
    expect(actions.filter((a) => a.startsWith("dynamodb:")).sort()).toEqual([
      "dynamodb:PutItem",
      "dynamodb:Query",
    ]);
    expect(actions.some((a) => a.startsWith("s3:") || a.startsWith("sns:") || a.startsWith("sts:"))).toBe(
      false,
    );
  });

  it("exposes the topic, table and state machine for other stacks", () => {
    expect(construct.alertTopic.topicArn).toBeTruthy();
    expect(construct.stateTable.tableName).toBeTruthy();
    expect(construct.stateMachine.stateMachineArn).toBeTruthy();
  });

  describe("the round's definition", () => {
    it("starts with discovery and passes the execution name as the round id", () => {
      const definition = definitionOf(template);
      expect(definition.StartAt).toBe("Discover targets");
      expect(definition.States["Discover targets"]?.Parameters).toEqual({
        "roundId.$": "$$.Execution.Name",
        "startedAt.$": "$$.Execution.StartTime",
      });
      expect(definition.States["Discover targets"]?.Next).toBe("Scan targets");
    });

    it("fans out with a Distributed Map reading the target list from S3 in batches of 48 (bench:fleet)", () => {
      const map = definitionOf(template).States["Scan targets"];
      expect(map).toMatchObject({
        Type: "Map",
        ItemProcessor: { ProcessorConfig: { Mode: "DISTRIBUTED", ExecutionType: "STANDARD" } },
        ItemReader: { ReaderConfig: { InputType: "JSON" }, Parameters: { "Key.$": "$.targetsKey" } },
        ItemBatcher: {
          MaxItemsPerBatch: 48,
          MaxInputBytesPerBatch: 200_000,
          BatchInput: { "roundId.$": "$.roundId" },
        },
        MaxConcurrency: 100,
        ToleratedFailurePercentage: 10,
        ResultWriter: { Parameters: { Prefix: "rounds/map-results" } },
        ResultPath: "$.map",
        Next: "Notify alerts",
      });
    });

    it("retries Lambda service errors and throttling on every task", () => {
      const states = definitionOf(template).States;
      const processor = states["Scan targets"]?.ItemProcessor as
        | { States: Record<string, State> }
        | undefined;
      const scan = processor?.States["Scan batch"];
      for (const task of [states["Discover targets"], scan, states["Notify alerts"]]) {
        expect(task?.Retry?.[0]?.ErrorEquals).toContain("Lambda.TooManyRequestsException");
        expect(task?.Retry?.[0]?.MaxAttempts).toBe(3);
      }
    });

    it("still notifies when the fan-out fails, then fails the execution", () => {
      const states = definitionOf(template).States;
      expect(states["Scan targets"]?.Catch).toEqual([
        { ErrorEquals: ["States.ALL"], ResultPath: "$.mapError", Next: "Notify alerts" },
      ]);
      expect(states["Fan-out succeeded?"]).toMatchObject({
        Type: "Choice",
        Choices: [{ Variable: "$.mapError", IsPresent: true, Next: "Scan fan-out failed" }],
        Default: "Round done",
      });
      expect(states["Scan fan-out failed"]?.Type).toBe("Fail");
    });

    it("fails the execution when discovery or notify fail", () => {
      const states = definitionOf(template).States;
      expect(states["Discover targets"]?.Catch?.[0]).toMatchObject({
        ErrorEquals: ["States.ALL"],
        Next: "Discovery failed",
      });
      expect(states["Notify alerts"]?.Catch?.[0]).toMatchObject({
        ErrorEquals: ["States.ALL"],
        Next: "Notify failed",
      });
      expect(states["Discovery failed"]?.Type).toBe("Fail");
      expect(states["Notify failed"]?.Type).toBe("Fail");
    });

    it("stops a round after 50 minutes", () => {
      expect(definitionOf(template).TimeoutSeconds).toBe(3000);
    });
  });
});

describe("Portwarden construct props", () => {
  it("scans every Organization account through a wildcard member-role ARN and may list accounts", () => {
    const { template } = synthesize({ organization: true });
    template.hasResourceProperties("AWS::IAM::Policy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: "sts:AssumeRole",
            Resource: {
              "Fn::Join": ["", ["arn:", { Ref: "AWS::Partition" }, ":iam::*:role/PortwardenMemberRole"]],
            },
          }),
          Match.objectLike({ Action: "organizations:ListAccounts" }),
        ]),
      },
    });
  });

  it("gives discovery no direct EC2/EKS reads when its own account is not scanned", () => {
    const { template } = synthesize({ accounts: ["444455556666"] });
    const policies = template.findResources("AWS::IAM::Policy", {
      Properties: { Roles: [{ Ref: Match.stringLikeRegexp("DiscoverRole") }] },
    });
    const actions = Object.values(policies)
      .flatMap((p) => p.Properties.PolicyDocument.Statement)
      .flatMap((st: { Action: string | string[] }) => [st.Action].flat());
    expect(actions.filter((a) => a.startsWith("ec2:") || a.startsWith("eks:"))).toEqual([]);
    expect(actions).toContain("sts:AssumeRole");
  });

  it("applies schedule, memory, concurrency, batch size and pager severities from props", () => {
    const { template } = synthesize({
      schedule: "cron(0 */2 * * ? *)",
      scannerMemoryMb: 512,
      maxConcurrency: 200,
      targetsPerBatch: 2,
      pagerUrl: "https://pager.example.com/x",
      pagerSeverities: ["critical"],
    });
    template.hasResourceProperties("AWS::Scheduler::Schedule", { ScheduleExpression: "cron(0 */2 * * ? *)" });
    template.hasResourceProperties("AWS::Lambda::Function", { MemorySize: 512, Timeout: 600 });
    template.hasResourceProperties("AWS::SNS::Subscription", {
      FilterPolicy: { severity: ["critical"], eventType: [{ "anything-but": ["resolved", "de-escalated"] }] },
    });
    const map = definitionOf(template).States["Scan targets"];
    expect(map).toMatchObject({ MaxConcurrency: 200, ItemBatcher: { MaxItemsPerBatch: 2 } });
  });

  const invalid: [string, PortwardenProps, string][] = [
    ["schedule", { schedule: "every hour" }, "'every hour' is neither"],
    ["schedule", { schedule: "rate(5 minutes)" }, "would overlap"],
    ["schedule", { schedule: "rate(1 hours)" }, "rate(1 hour)"],
    ["ports", { ports: "kubernetes,70000" }, "70000"],
    ["scannerMemoryMb", { scannerMemoryMb: 64 }, "64 is not an integer from 128 to 10240"],
    ["scannerTimeout (seconds)", { scannerTimeout: Duration.minutes(20) }, "1200"],
    ["maxConcurrency", { maxConcurrency: 0 }, "0 is not an integer"],
    [
      "alertEmails[1]",
      { alertEmails: ["a@example.com", "not-an-email"] },
      "'not-an-email' is not an email address",
    ],
    ["pagerUrl", { pagerUrl: "http://pager.example.com" }, "must use https://"],
    ["pagerSeverities[0]", { pagerSeverities: ["urgent" as "critical"] }, "'urgent' is not one of"],
    ["accounts[0]", { accounts: ["12345"] }, "'12345' is not a 12-digit AWS account id"],
    ["regions[0]", { regions: ["mars-1"] }, "'mars-1' is not an AWS region"],
    ["organization", { organization: true, accounts: ["111122223333"] }, "not both"],
    ["externalId", { externalId: "has space" }, "2-1224 characters"],
    // A batch of 48 silent nodes x 65,535 ports waits ~3,500 s: far beyond a 10-minute Lambda.
    ["targetsPerBatch", { ports: "all" }, "use targetsPerBatch <= 6"],
    // 10,000 nodes in batches of 4, 50 at a time: 50 waves of ~25 s silent batches and more.
    ["expectedNodes", { targetsPerBatch: 4, maxConcurrency: 10 }, "raise maxConcurrency"],
    ["expectedNodes", { schedule: "rate(15 minutes)", expectedNodes: 50_000 }, "min the schedule"],
    ["coveragePeriodHours", { coveragePeriodHours: -1 }, "-1 is not an integer"],
  ];
  it("sizes coverage slices from the schedule and turns them off for ports=all", () => {
    const slicesOf = (props: PortwardenProps) => {
      const { template } = synthesize(props);
      const fns = template.findResources("AWS::Lambda::Function", {
        Properties: { Environment: { Variables: { COVERAGE_SLICES: Match.anyValue() } } },
      });
      return Object.values(fns).map((f) => f.Properties.Environment.Variables.COVERAGE_SLICES);
    };
    expect(slicesOf({})).toEqual(["24"]);
    expect(slicesOf({ schedule: "rate(2 hours)", coveragePeriodHours: 48 })).toEqual(["24"]);
    expect(slicesOf({ ports: "all", targetsPerBatch: 4, maxConcurrency: 1000 })).toEqual(["0"]);
  });

  it.each(invalid)("rejects a bad %s at synth time, naming the prop", (field, props, message) => {
    // Prepare
    const stack = newStack();
    // Act
    let thrown: unknown;
    try {
      new Portwarden(stack, "Portwarden", props);
    } catch (error) {
      thrown = error;
    }
    // Assess
    expect(thrown).toBeInstanceOf(InputError);
    expect((thrown as InputError).field).toBe(field);
    expect((thrown as InputError).message).toContain(message);
  });
});

describe("Portwarden construct fields", () => {
  it("exposes every alarm and queue it creates as a public field", () => {
    // Prepare
    const { template, construct } = synthesize({ alertEmails: ["secops@example.com"] });
    const stack = Stack.of(construct);
    const logicalIds = (fields: { node: { defaultChild?: unknown } }[]) =>
      fields.map((f) => stack.getLogicalId(f.node.defaultChild as never)).sort();
    // Assess: the template holds exactly the alarms and queues the fields name
    expect(Object.keys(template.findResources("AWS::CloudWatch::Alarm")).sort()).toEqual(
      logicalIds([
        construct.roundFailedAlarm,
        construct.roundTimedOutAlarm,
        construct.scheduleDeadLetteredAlarm,
      ]),
    );
    expect(Object.keys(template.findResources("AWS::SQS::Queue")).sort()).toEqual(
      logicalIds([construct.subscriptionDeadLetterQueue, construct.scheduleDeadLetterQueue]),
    );
  });
});
