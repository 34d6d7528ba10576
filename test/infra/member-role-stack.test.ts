import { App } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { MEMBER_ROLE_ACTIONS, PortwardenMemberRoleStack } from "../../infra/member-role-stack.ts";
import { InputError } from "../../lib/errors/errors.ts";

describe("PortwardenMemberRoleStack", () => {
  let template: Template;

  beforeAll(() => {
    const stack = new PortwardenMemberRoleStack(new App(), "Member", {
      scannerAccountId: "111122223333",
      externalId: "portwarden-7f3a",
    });
    template = Template.fromStack(stack);
  });

  it("allows exactly the read-only EC2 and EKS calls discovery makes, nothing else", () => {
    // Prepare
    const [role] = Object.values(template.findResources("AWS::IAM::Role"));
    // Act
    const statements = role?.Properties.Policies.flatMap(
      (p: { PolicyDocument: { Statement: unknown[] } }) => p.PolicyDocument.Statement,
    );
    // Assess
    expect(statements).toEqual([{ Action: [...MEMBER_ROLE_ACTIONS], Effect: "Allow", Resource: "*" }]);
    expect(MEMBER_ROLE_ACTIONS.every((a) => /^(ec2:Describe|eks:(Describe|List))/.test(a))).toBe(true);
    expect(role?.Properties.ManagedPolicyArns).toBeUndefined();
  });

  it("is trusted only by the scanner's discovery role, and only with the external id", () => {
    template.hasResourceProperties("AWS::IAM::Role", {
      RoleName: "PortwardenMemberRole",
      AssumeRolePolicyDocument: {
        Statement: [
          {
            Action: "sts:AssumeRole",
            Effect: "Allow",
            Principal: {
              AWS: {
                "Fn::Join": [
                  "",
                  ["arn:", { Ref: "AWS::Partition" }, ":iam::111122223333:role/portwarden-discovery"],
                ],
              },
            },
            Condition: { StringEquals: { "sts:ExternalId": "portwarden-7f3a" } },
          },
        ],
      },
    });
  });

  it("needs no CDK bootstrap, so it deploys as a StackSet template", () => {
    const body = template.toJSON();
    expect(body.Parameters?.BootstrapVersion).toBeUndefined();
    expect(body.Rules).toBeUndefined();
  });

  it("rejects a scanner account id that is not 12 digits", () => {
    const act = () =>
      new PortwardenMemberRoleStack(new App(), "Member", {
        scannerAccountId: "1234",
        externalId: "portwarden-7f3a",
      });
    expect(act).toThrow(InputError);
    expect(act).toThrow("scannerAccountId: '1234' is not a 12-digit AWS account id");
  });

  it("rejects an external id with spaces", () => {
    const act = () =>
      new PortwardenMemberRoleStack(new App(), "Member", {
        scannerAccountId: "111122223333",
        externalId: "a b",
      });
    expect(act).toThrow("externalId: must be 2-1224 characters");
  });
});
