import { SecurityHubClient } from "@aws-sdk/client-securityhub";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { alertMessageBody, consoleLine, emailText } from "../../lib/alerts/format.ts";
import {
  asffFindingId,
  findingTypes,
  generatorId,
  productArn,
  type SecurityHubDestination,
  severityLabel,
  toAsff,
} from "../../lib/securityhub/asff.ts";
import { scannerDestination } from "../../lib/securityhub/destination.ts";
import { SecurityHubNotifier } from "../../lib/securityhub/publisher.ts";
import { alertEvent } from "../alerts/events.ts";

const TO: SecurityHubDestination = { account: "123456789012", region: "eu-central-1", partition: "aws" };

describe("ASFF mapping", () => {
  it("builds the default custom-integration product ARN in the scanner's account and region", () => {
    expect(productArn(TO)).toBe("arn:aws:securityhub:eu-central-1:123456789012:product/123456789012/default");
    expect(productArn({ ...TO, region: "cn-north-1", partition: "aws-cn" })).toBe(
      "arn:aws-cn:securityhub:cn-north-1:123456789012:product/123456789012/default",
    );
  });

  it("maps every portwarden severity to a Security Hub label", () => {
    expect(["critical", "high", "medium", "low", "info"].map((s) => severityLabel(s as "critical"))).toEqual([
      "CRITICAL",
      "HIGH",
      "MEDIUM",
      "LOW",
      "INFORMATIONAL",
    ]);
  });

  it("keeps one id per exposure whatever the alert: new, escalation and resolved share it", () => {
    const created = toAsff(alertEvent({ id: "x1" }), TO);
    const escalated = toAsff(alertEvent({ id: "x2" }, { severity: "high" }), TO);
    const resolved = toAsff(alertEvent({ id: "x3", eventType: "resolved" }), TO);
    expect(new Set([created.Id, escalated.Id, resolved.Id])).toEqual(new Set(["portwarden/127.0.2.1#10250"]));
    expect(asffFindingId({ ip: "127.0.2.1", port: 10250, kind: "latent" })).toBe(
      "portwarden/127.0.2.1#10250#latent",
    );
  });

  it("puts the finding in the scanner account and the resource's own account/region in the resource ARN", () => {
    const f = toAsff(alertEvent(), TO);
    expect(f.AwsAccountId).toBe("123456789012");
    expect(f.Resources?.[0]).toMatchObject({
      Type: "AwsEc2Instance",
      Id: "arn:aws:ec2:eu-west-1:111122223333:instance/i-0abc123",
      Region: "eu-west-1",
    });
    expect(f.Resources?.[1]).toMatchObject({
      Type: "AwsEksCluster",
      Details: { AwsEksCluster: { Name: "prod" } },
    });
    expect(f.ProductFields?.["portwarden/resourceAccount"]).toBe("111122223333");
  });

  it("marks a resolved alert ARCHIVED / PASSED and a new one ACTIVE / FAILED", () => {
    expect(toAsff(alertEvent({ eventType: "resolved" }), TO)).toMatchObject({
      RecordState: "ARCHIVED",
      Compliance: { Status: "PASSED" },
    });
    expect(toAsff(alertEvent(), TO)).toMatchObject({
      RecordState: "ACTIVE",
      Compliance: { Status: "FAILED" },
    });
  });

  it("describes the network path with IPv6 addresses too, and skips Network for a cluster endpoint", () => {
    expect(toAsff(alertEvent({}, { ip: "2001:db8::5" }), TO).Network).toEqual({
      Direction: "IN",
      Protocol: "TCP",
      DestinationIpV6: "2001:db8::5",
      DestinationPort: 10250,
    });
    const cluster = toAsff(
      alertEvent({}, { ip: "eks-0123456789abcdef", port: 443, instanceId: undefined }),
      TO,
    );
    expect(cluster.Network).toBeUndefined();
    expect(cluster.GeneratorId).toBe("portwarden/eks-public-endpoint");
    expect(cluster.Resources?.map((r) => r.Type)).toEqual(["AwsEksCluster"]);
  });

  it("claims Effects/Data Exposure only when a probe proved anonymous access", () => {
    expect(findingTypes(alertEvent().finding)).toContain("Effects/Data Exposure");
    expect(findingTypes(alertEvent({}, { evidence: "TCP connect succeeded" }).finding)).toEqual([
      "Software and Configuration Checks/AWS Security Best Practices/Network Reachability",
    ]);
    expect(generatorId(alertEvent({}, { kind: "latent" }).finding)).toBe("portwarden/latent-exposure");
  });

  it("carries evidence, fix and cause in Description and Remediation, with secrets redacted", () => {
    const f = toAsff(
      alertEvent(
        {
          cause: {
            eventName: "AuthorizeSecurityGroupIngress",
            actor: "arn:aws:sts::111122223333:assumed-role/ops/alice",
            at: "2026-11-29T02:59:10Z",
          },
        },
        { evidence: "GET / answered token=abcdef123456 without credentials", fix: "Close it." },
      ),
      TO,
    );
    expect(f.Description).toContain(
      "Caused by: AuthorizeSecurityGroupIngress by arn:aws:sts::111122223333:assumed-role/ops/alice",
    );
    expect(f.Description).toContain("token=[redacted]");
    expect(f.Description?.length).toBeLessThanOrEqual(1024);
    expect(f.Remediation?.Recommendation?.Text).toBe("Close it.");
  });

  it("names the cause in the email and the JSON body of an alert", () => {
    const event = alertEvent({
      cause: {
        eventName: "ModifySecurityGroupRules",
        actor: "arn:aws:iam::111122223333:user/bob",
        at: "2026-11-29T02:59:10Z",
      },
    });
    expect(emailText(event)).toContain(
      "Caused by:      ModifySecurityGroupRules by arn:aws:iam::111122223333:user/bob at 2026-11-29T02:59:10Z",
    );
    expect(alertMessageBody(event).cause?.eventName).toBe("ModifySecurityGroupRules");
    expect(consoleLine(event)).toMatch(
      /\(after ModifySecurityGroupRules by arn:aws:iam::111122223333:user\/bob at 2026-11-29T02:59:10Z\)$/,
    );
    expect(emailText(alertEvent())).not.toContain("Caused by");
  });

  it("refuses a round-failed alert and a bad destination, naming the field", () => {
    expect(() => toAsff(alertEvent({ eventType: "round-failed" }), TO)).toThrow(/event.eventType/);
    expect(
      () =>
        new SecurityHubNotifier({ client: new SecurityHubClient({}), destination: { ...TO, account: "12" } }),
    ).toThrow(/securityHub.account/);
  });
});

describe("scannerDestination", () => {
  const sts = mockClient(STSClient);
  afterEach(() => {
    sts.reset();
  });

  it("takes the partition from the caller's ARN, not from a literal or the region", async () => {
    sts.on(GetCallerIdentityCommand).resolves({
      Account: "123456789012",
      Arn: "arn:aws-cn:sts::123456789012:assumed-role/portwarden-notify/session",
    });
    const to = await scannerDestination(new STSClient({ region: "cn-north-1" }), "cn-north-1");
    expect(to).toEqual({ account: "123456789012", region: "cn-north-1", partition: "aws-cn" });
    expect(productArn(to)).toBe(
      "arn:aws-cn:securityhub:cn-north-1:123456789012:product/123456789012/default",
    );
  });

  it("refuses a caller identity without an ARN instead of guessing a partition", async () => {
    sts.on(GetCallerIdentityCommand).resolves({ Account: "123456789012" });
    await expect(scannerDestination(new STSClient({ region: "us-east-1" }), "us-east-1")).rejects.toThrow(
      "is not an AWS ARN",
    );
  });
});
