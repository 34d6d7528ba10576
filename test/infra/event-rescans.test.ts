import { App, Stack } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { PortwardenEventForwarderStack, PortwardenMemberRoleStack } from "../../infra/member-role-stack.ts";
import { Portwarden, type PortwardenProps } from "../../infra/portwarden.ts";

const ACCOUNT = "111122223333";
const BUS_ARN = `arn:aws:events:eu-west-1:${ACCOUNT}:event-bus/portwarden-changes`;
const CHANGE_NAMES = [
  "AuthorizeSecurityGroupIngress",
  "ModifySecurityGroupRules",
  "AssociateAddress",
  "AttachNetworkInterface",
  "ModifyNetworkInterfaceAttribute",
  "ModifyInstanceAttribute",
  "CreateNodegroup",
  "UpdateNodegroupConfig",
  "UpdateClusterConfig",
];

function synthesize(props: PortwardenProps): Template {
  const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
  const stack = new Stack(app, "Test", { env: { account: ACCOUNT, region: "eu-west-1" } });
  new Portwarden(stack, "Portwarden", props);
  return Template.fromStack(stack);
}

/** Every IAM statement of the template's inline/default policies. */
function statements(template: Template): { Action: string | string[]; Resource: unknown }[] {
  return Object.values(template.findResources("AWS::IAM::Policy")).flatMap(
    (p) =>
      (p as { Properties: { PolicyDocument: { Statement: never[] } } }).Properties.PolicyDocument.Statement,
  );
}

describe("event rescans in the Portwarden construct", () => {
  const template = synthesize({ eventRescans: true, accounts: [ACCOUNT, "444455556666"] });

  it("routes exactly the change events (successful calls only) to the change queue, launches to the delayed queue", () => {
    template.hasResourceProperties("AWS::Events::Rule", {
      EventPattern: {
        source: ["aws.ec2", "aws.eks"],
        "detail-type": ["AWS API Call via CloudTrail"],
        detail: { eventName: CHANGE_NAMES, errorCode: [{ exists: false }] },
      },
    });
    template.hasResourceProperties("AWS::Events::Rule", {
      EventPattern: {
        detail: { eventName: ["RunInstances", "StartInstances"], errorCode: [{ exists: false }] },
      },
    });
    template.hasResourceProperties("AWS::Events::Rule", {
      EventPattern: {
        "detail-type": ["EC2 Instance State-change Notification"],
        detail: { state: ["running"] },
      },
    });
    template.hasResourceProperties("AWS::SQS::Queue", { DelaySeconds: 90 });
  });

  it("lets only the scanned accounts put events on the bus", () => {
    template.hasResourceProperties("AWS::Events::EventBusPolicy", {
      Statement: Match.objectLike({
        Action: "events:PutEvents",
        Principal: {
          AWS: [
            { "Fn::Join": ["", ["arn:", { Ref: "AWS::Partition" }, `:iam::${ACCOUNT}:root`]] },
            { "Fn::Join": ["", ["arn:", { Ref: "AWS::Partition" }, ":iam::444455556666:root"]] },
          ],
        },
      }),
    });
  });

  it("has a DLQ for every rule target and queue, and an alarm on it", () => {
    const rules = Object.values(template.findResources("AWS::Events::Rule"));
    expect(rules).toHaveLength(3);
    for (const rule of rules)
      expect(
        (rule as { Properties: { Targets: { DeadLetterConfig?: unknown }[] } }).Properties.Targets[0]
          ?.DeadLetterConfig,
      ).toBeDefined();
    const queues = Object.values(template.findResources("AWS::SQS::Queue")) as {
      Properties: Record<string, unknown>;
    }[];
    expect(queues.filter((q) => q.Properties.RedrivePolicy !== undefined)).toHaveLength(2);
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      AlarmDescription: Match.stringLikeRegexp("could not be rescanned"),
    });
  });

  it("guards concurrency: one rescan at a time, bursts batched over 60 s, partial batch failures", () => {
    template.hasResourceProperties("AWS::Lambda::Function", {
      ReservedConcurrentExecutions: 1,
      Environment: {
        Variables: Match.objectLike({ SECURITY_HUB: "false", ACCOUNTS: `${ACCOUNT},444455556666` }),
      },
    });
    template.hasResourceProperties("AWS::Lambda::Function", {
      ReservedConcurrentExecutions: 1,
      Timeout: 120,
    });
    template.resourcePropertiesCountIs("AWS::SQS::Queue", { VisibilityTimeout: 120 }, 2);
    template.resourcePropertiesCountIs(
      "AWS::Lambda::EventSourceMapping",
      {
        BatchSize: 100,
        MaximumBatchingWindowInSeconds: 60,
        FunctionResponseTypes: ["ReportBatchItemFailures"],
      },
      2,
    );
  });

  it("admits a whole organization by aws:PrincipalOrgID, and needs its id", () => {
    const org = synthesize({ eventRescans: true, organization: true, organizationId: "o-a1b2c3d4e5" });
    org.hasResourceProperties("AWS::Events::EventBusPolicy", {
      Statement: Match.objectLike({
        Principal: { AWS: "*" },
        Condition: { StringEquals: { "aws:PrincipalOrgID": "o-a1b2c3d4e5" } },
      }),
    });
    expect(() => synthesize({ eventRescans: true, organization: true })).toThrow(/organizationId/);
    expect(() => synthesize({ eventRescans: true, organization: true, organizationId: "org-1" })).toThrow(
      /organizationId: 'org-1'/,
    );
  });

  it("creates nothing of it when off", () => {
    const off = synthesize({});
    off.resourceCountIs("AWS::Events::EventBus", 0);
    expect(statements(off).some((s) => String(s.Action).includes("securityhub"))).toBe(false);
  });
});

describe("Security Hub permission", () => {
  it("grants BatchImportFindings on the account's own default product only, to Notify and Rescan", () => {
    const template = synthesize({ securityHub: true, eventRescans: true });
    const hub = statements(template).filter((s) => s.Action === "securityhub:BatchImportFindings");
    expect(hub).toHaveLength(2);
    for (const s of hub)
      expect(s.Resource).toEqual({
        "Fn::Join": [
          "",
          ["arn:", { Ref: "AWS::Partition" }, `:securityhub:eu-west-1:${ACCOUNT}:product/${ACCOUNT}/default`],
        ],
      });
    template.hasResourceProperties("AWS::Lambda::Function", {
      Environment: {
        Variables: Match.objectLike({ SECURITY_HUB: "true", STATE_TABLE_NAME: Match.anyValue() }),
      },
    });
  });
});

describe("member account forwarding", () => {
  const app = new App();
  const forwarder = Template.fromStack(
    new PortwardenEventForwarderStack(app, "Fwd", { scannerEventBusArn: BUS_ARN }),
  );

  it("forwards only portwarden's patterns to the scanner bus, with a role that may only PutEvents there", () => {
    const rules = Object.values(forwarder.findResources("AWS::Events::Rule")) as {
      Properties: {
        EventPattern: { detail: { eventName?: string[] } };
        Targets: { Arn: string; RoleArn: unknown }[];
      };
    }[];
    expect(rules).toHaveLength(3);
    expect(rules.flatMap((r) => r.Properties.EventPattern.detail.eventName ?? []).sort()).toEqual(
      [...CHANGE_NAMES, "RunInstances", "StartInstances"].sort(),
    );
    for (const rule of rules) expect(rule.Properties.Targets[0]?.Arn).toBe(BUS_ARN);
    forwarder.hasResourceProperties("AWS::IAM::Role", {
      AssumeRolePolicyDocument: {
        Statement: [Match.objectLike({ Principal: { Service: "events.amazonaws.com" } })],
      },
      Policies: [
        {
          PolicyName: "forward",
          PolicyDocument: { Statement: [{ Action: "events:PutEvents", Effect: "Allow", Resource: BUS_ARN }] },
        },
      ],
    });
  });

  it("refuses a bus ARN that is not one, naming the field", () => {
    expect(
      () => new PortwardenEventForwarderStack(new App(), "Bad", { scannerEventBusArn: "portwarden-changes" }),
    ).toThrow(/scannerEventBusArn/);
  });

  it("the member role trusts the rescan role (with the external id) only when asked to", () => {
    const trusted = (rescanRoleName?: string) =>
      JSON.stringify(
        Template.fromStack(
          new PortwardenMemberRoleStack(new App(), "M", {
            scannerAccountId: ACCOUNT,
            externalId: "portwarden-7f3a",
            ...(rescanRoleName ? { rescanRoleName } : {}),
          }),
        ).findResources("AWS::IAM::Role"),
      );
    expect(trusted("portwarden-rescan")).toContain(`:iam::${ACCOUNT}:role/portwarden-rescan`);
    expect(trusted()).not.toContain("portwarden-rescan");
    expect(trusted("portwarden-rescan").match(/sts:ExternalId/g)).toHaveLength(2);
  });
});

describe("cdk-nag with event rescans for an organization", () => {
  it("finds nothing unacknowledged in the rescan construct", async () => {
    const { Validations } = await import("aws-cdk-lib");
    const { AwsSolutionsChecks, ServerlessChecks } = await import("cdk-nag");
    const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
    const stack = new Stack(app, "Org", { env: { account: ACCOUNT, region: "eu-west-1" } });
    new Portwarden(stack, "Portwarden", {
      eventRescans: true,
      securityHub: true,
      organization: true,
      organizationId: "o-a1b2c3d4e5",
    });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
    let message = "";
    try {
      app.synth();
    } catch (error) {
      message = String(error);
    }
    expect(message.split("\n").filter((l) => /EventRescans|Rescan/.test(l))).toEqual([]);
  });
});
