import { readFileSync } from "node:fs";
import { App, Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { Portwarden } from "../../infra/portwarden.ts";
import { PortwardenStack } from "../../infra/stacks.ts";
import { MAP_RESULTS_PREFIX, ROUND_OBJECTS } from "../../lib/contracts/deployment.ts";
import {
  NOTIFY_STAGE_METHODS,
  ROUND_LOCK_METHODS,
  SCAN_STAGE_METHODS,
} from "../../lib/state/dynamo-schema.ts";

// Least privilege, asserted as exact action lists per role (derived from the calls each handler
// makes), and the two grants that let CloudWatch alarms reach the encrypted topic.

type Statement = {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Principal?: { Service?: string };
  Condition?: Record<string, Record<string, unknown>>;
};

function synthesize(): Template {
  const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
  const stack = new Stack(app, "Test", { env: { account: "111122223333", region: "eu-west-1" } });
  new Portwarden(stack, "Portwarden", { accounts: ["111122223333"], eventRescans: true });
  return Template.fromStack(stack);
}

/** Every Allow statement of the policies attached to the role whose logical id matches. */
function statementsOf(template: Template, role: RegExp): Statement[] {
  return Object.values(template.findResources("AWS::IAM::Policy"))
    .filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => role.test(r.Ref)))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
}

function actionsOf(statements: Statement[], service: string): string[] {
  return [
    ...new Set(statements.flatMap((s) => [s.Action].flat()).filter((a) => a.startsWith(`${service}:`))),
  ].sort();
}

const ALARM_SOURCE = {
  StringEquals: { "aws:SourceAccount": "111122223333" },
  // Alarms of this account and region only (the partition stays a pseudo parameter).
  ArnLike: {
    "aws:SourceArn": {
      "Fn::Join": ["", ["arn:", { Ref: "AWS::Partition" }, ":cloudwatch:eu-west-1:111122223333:alarm:*"]],
    },
  },
};

describe("the construct's grants", () => {
  let template: Template;
  beforeAll(() => {
    template = synthesize();
  });

  it.each([
    ["Scan", /^PortwardenScanRole/, ["dynamodb:PutItem", "dynamodb:Query"]],
    // PutItem/UpdateItem of the round lock (take, release on failure) beside the cluster findings.
    ["Discover", /^PortwardenDiscoverRole/, ["dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"]],
    // PutItem: the digest lease and marks (acquireLease, writeMark); UpdateItem: claims and markAlerted.
    [
      "Notify",
      /^PortwardenNotifyRole/,
      ["dynamodb:PutItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:UpdateItem"],
    ],
    [
      "Rescan",
      /^PortwardenEventRescansRescanRole/,
      ["dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"],
    ],
  ])("%s gets exactly the DynamoDB actions of the store methods it calls", (_name, role, expected) => {
    expect(actionsOf(statementsOf(template, role), "dynamodb")).toEqual(expected);
  });

  it("only Notify and Rescan (which read the outbox) are granted the outbox index", () => {
    const indexGranted = (role: RegExp) => JSON.stringify(statementsOf(template, role)).includes("/index/");
    expect(
      [
        /^PortwardenScanRole/,
        /^PortwardenDiscoverRole/,
        /^PortwardenNotifyRole/,
        /^PortwardenEventRescansRescanRole/,
      ].map(indexGranted),
    ).toEqual([false, false, true, true]);
  });

  it("gives the round's Distributed Map S3 access to its own prefixes only, never the whole bucket", () => {
    const s3 = statementsOf(template, /^PortwardenRoundRole/).filter((s) =>
      [s.Action].flat().some((a) => a.startsWith("s3:")),
    );
    const resources = JSON.stringify(s3.map((s) => s.Resource));
    expect(actionsOf(s3, "s3")).toEqual([
      "s3:AbortMultipartUpload",
      "s3:GetObject",
      "s3:ListMultipartUploadParts",
      "s3:PutObject",
    ]);
    expect(resources).toContain(`/${ROUND_OBJECTS}`);
    expect(resources).toContain(`/${MAP_RESULTS_PREFIX}/*`);
    expect(resources).not.toMatch(/"\/\*"/);
  });

  it("lets CloudWatch alarms of this account and region publish to the topic (topic policy)", () => {
    const [policy] = Object.values(template.findResources("AWS::SNS::TopicPolicy"));
    const statements = policy?.Properties.PolicyDocument.Statement as Statement[];
    const publish = statements.filter((s) => s.Effect === "Allow");
    expect(publish).toEqual([
      expect.objectContaining({
        Principal: { Service: "cloudwatch.amazonaws.com" },
        Action: "sns:Publish",
        Condition: ALARM_SOURCE,
      }),
    ]);
  });

  it("lets CloudWatch alarms use the topic's key with the same conditions, and no other service", () => {
    const [key] = Object.values(template.findResources("AWS::KMS::Key"));
    const statements = key?.Properties.KeyPolicy.Statement as Statement[];
    const services = statements.filter((s) => s.Principal?.Service);
    expect(services).toEqual([
      expect.objectContaining({
        Principal: { Service: "cloudwatch.amazonaws.com" },
        Action: ["kms:Decrypt", "kms:GenerateDataKey*"],
        Condition: ALARM_SOURCE,
      }),
    ]);
    expect(JSON.stringify(statements)).not.toContain("events.amazonaws.com");
  });

  it("every alarm of the construct notifies that topic (so the grant above is what they need)", () => {
    const alarms = Object.values(template.findResources("AWS::CloudWatch::Alarm"));
    expect(alarms.length).toBeGreaterThanOrEqual(4);
    for (const alarm of alarms) expect(JSON.stringify(alarm.Properties.AlarmActions)).toContain("AlertTopic");
  });
});

describe("the method lists the grants come from match the code", () => {
  /** `store.method(` calls in a source file (deps.store.x, store?.x). */
  function storeCallsIn(path: string): string[] {
    const text = readFileSync(path, "utf8");
    return [...new Set([...text.matchAll(/store\??\.(\w+)\(/g)].map((m) => m[1] as string))].sort();
  }

  it("the notify stage calls exactly NOTIFY_STAGE_METHODS (plus listIps for stale IPs, granted to Notify)", () => {
    expect(storeCallsIn("lib/round/notify-stage.ts")).toEqual([...NOTIFY_STAGE_METHODS].sort());
    expect(storeCallsIn("lib/round/round-outcome.ts")).toEqual(["listIps"]);
  });

  it("the round lock calls exactly ROUND_LOCK_METHODS", () => {
    expect(storeCallsIn("lib/round/round-lock.ts")).toEqual([...ROUND_LOCK_METHODS].sort());
  });

  it("the scan stage calls exactly SCAN_STAGE_METHODS", () => {
    expect(storeCallsIn("lib/round/scan-stage.ts")).toEqual([...SCAN_STAGE_METHODS].sort());
  });
});

describe("the external id", () => {
  it("is generated per stack when none is given (never a constant) and is a stack output", () => {
    const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
    const stack = new PortwardenStack(app, "Portwarden", {
      env: { account: "111122223333", region: "eu-west-1" },
    });
    const template = Template.fromStack(stack);
    const generated = {
      "Fn::Join": [
        "",
        ["portwarden-", { "Fn::Select": [2, { "Fn::Split": ["/", { Ref: "AWS::StackId" }] }] }],
      ],
    };
    expect(template.toJSON().Outputs.ExternalId.Value).toEqual(generated);
    const discover = Object.values(template.findResources("AWS::Lambda::Function")).find(
      (f) => f.Properties.Environment?.Variables?.EXTERNAL_ID !== undefined,
    );
    expect(discover?.Properties.Environment.Variables.EXTERNAL_ID).toEqual(generated);
  });

  it("uses the one given", () => {
    const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
    const stack = new PortwardenStack(app, "Portwarden", {
      env: { account: "111122223333", region: "eu-west-1" },
      portwarden: { externalId: "portwarden-7f3a9c" },
    });
    expect(Template.fromStack(stack).toJSON().Outputs.ExternalId.Value).toBe("portwarden-7f3a9c");
  });
});
