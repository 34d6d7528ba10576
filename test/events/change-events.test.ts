import { describe, expect, it } from "vitest";
import { parseChangeEvent } from "../../lib/events/change-events.ts";
import { fixture, getPath, setPath } from "./fixtures.ts";

const SG = "sg-0a1b2c3d4e5f60718";
const INSTANCE = "i-0123456789abcdef0";
const ENI = "eni-0123456789abcdef0";

describe("parseChangeEvent on CloudTrail samples", () => {
  it("AuthorizeSecurityGroupIngress (a real record, aws-cli as an IAM user): the changed group, who, when", () => {
    const e = parseChangeEvent(fixture("authorize-security-group-ingress"));
    expect(e?.securityGroupIds).toEqual(["sg-0f63fecfa17ef4fee"]);
    expect(e?.cause).toEqual({
      eventName: "AuthorizeSecurityGroupIngress",
      actor: "arn:aws:iam::111122223333:user/alice",
      at: "2024-10-14T14:11:38Z",
      account: "111122223333",
      region: "us-east-1",
    });
    expect(e?.wholeRegion).toBe(false);
  });

  it("AuthorizeSecurityGroupIngress variants: no securityGroupRuleSet (older records), console ports as strings, a pipeline's time format", () => {
    expect(parseChangeEvent(fixture("authorize-security-group-ingress-go-sdk"))).toMatchObject({
      securityGroupIds: ["sg-0d921df5d84f7270a"],
      cause: { actor: "arn:aws:sts::111122223333:assumed-role/Operator/ryan@example.com" },
    });
    // "eventTime": "2021-01-24 04:55:45.000" in the copy: read as the same UTC instant in ISO form.
    expect(parseChangeEvent(fixture("authorize-security-group-ingress-console"))).toMatchObject({
      securityGroupIds: ["sg-04f0b44316f7d2471"],
      region: "us-west-2",
      cause: { at: "2021-01-24T04:55:45Z", actor: "arn:aws:sts::111122223333:assumed-role/TestAdmin/alan" },
    });
  });

  it("the groups a rule admits (source groups, referenced groups) are not the changed group", () => {
    const raw = fixture("authorize-security-group-ingress");
    setPath(raw, "detail.requestParameters.ipPermissions.items.0.groups", {
      items: [{ groupId: "sg-0ffffffffffffffff" }],
    });
    setPath(raw, "detail.responseElements.securityGroupRuleSet.items.0.referencedGroupInfo", {
      userId: "111122223333",
      groupId: "sg-0ffffffffffffffff",
    });
    expect(parseChangeEvent(raw)?.securityGroupIds).toEqual(["sg-0f63fecfa17ef4fee"]);
  });

  it("a group named but not identified (default VPC: groupName only, no rule set) cannot be narrowed: the whole account-region", () => {
    const raw = fixture("authorize-security-group-ingress-go-sdk");
    setPath(raw, "detail.requestParameters", {
      groupName: "default",
      ipPermissions: getPath(raw, "detail.requestParameters.ipPermissions"),
    });
    expect(parseChangeEvent(raw)).toMatchObject({ securityGroupIds: [], wholeRegion: true });
  });

  it("ModifySecurityGroupRules: the group inside the wrapped request", () => {
    expect(parseChangeEvent(fixture("modify-security-group-rules"))?.securityGroupIds).toEqual([SG]);
  });

  it("RunInstances and StartInstances (real records): the instances and RunInstances' interfaces", () => {
    const run = parseChangeEvent(fixture("run-instances"));
    expect(run).toMatchObject({
      instanceIds: ["i-0f2f135de18b555e3"],
      networkInterfaceIds: ["eni-043138569d4a31e90"],
      cause: { actor: "arn:aws:iam::111122223333:user/bob", at: "2024-09-11T09:28:29Z" },
    });
    // Two instances, each in the request and in the response: each once.
    expect(parseChangeEvent(fixture("start-instances"))?.instanceIds.sort()).toEqual([
      "i-0e5a56126103cb001",
      "i-0e5aaff4840c22002",
    ]);
  });

  it("console launches and starts (recorded, `AWS Internal` caller, root or IAM user)", () => {
    expect(parseChangeEvent(fixture("run-instances-console"))).toMatchObject({
      instanceIds: ["i-0f3fbbbc0298d1a86"],
      networkInterfaceIds: ["eni-0de5f5ec51b747a14"],
      cause: { actor: "arn:aws:iam::111122223333:user/carol" },
    });
    expect(parseChangeEvent(fixture("start-instances-console"))).toMatchObject({
      instanceIds: ["i-0f3fbbbc0298d1a86"],
      cause: { actor: "arn:aws:iam::111122223333:root" },
    });
  });

  it("an EC2 list wrapped as `item` (singular) or a bare array is read like `items`", () => {
    const raw = fixture("run-instances");
    const instance = getPath(raw, "detail.responseElements.instancesSet.items.0") as Record<string, unknown>;
    instance.networkInterfaceSet = [getPath(instance, "networkInterfaceSet.items.0")];
    setPath(raw, "detail.responseElements.instancesSet", { item: [instance] });
    expect(parseChangeEvent(raw)).toMatchObject({
      instanceIds: ["i-0f2f135de18b555e3"],
      networkInterfaceIds: ["eni-043138569d4a31e90"],
    });
  });

  it("AssociateAddress, AttachNetworkInterface, ModifyNetworkInterfaceAttribute, ModifyInstanceAttribute groupSet", () => {
    expect(parseChangeEvent(fixture("associate-address"))?.instanceIds).toEqual([INSTANCE]);
    // A recorded console call by the account's root user.
    expect(parseChangeEvent(fixture("attach-network-interface"))).toMatchObject({
      instanceIds: ["i-0f3fbbbc0298d1a86"],
      networkInterfaceIds: ["eni-0a9c4b60624c0e41d"],
      cause: { actor: "arn:aws:iam::111122223333:root", at: "2022-10-28T18:55:11Z" },
    });
    expect(parseChangeEvent(fixture("modify-network-interface-attribute"))?.networkInterfaceIds).toEqual([
      ENI,
    ]);
    expect(parseChangeEvent(fixture("modify-instance-attribute-groupset"))?.instanceIds).toEqual([INSTANCE]);
  });

  it("an address associated by allocation id only cannot be narrowed: the whole account-region", () => {
    expect(parseChangeEvent(fixture("associate-address-allocation-only"))?.wholeRegion).toBe(true);
  });

  it("EKS node group and endpoint changes name the cluster", () => {
    for (const name of ["eks-create-nodegroup", "eks-update-nodegroup-config", "eks-update-cluster-config"])
      expect(parseChangeEvent(fixture(name))?.clusters).toEqual(["prod"]);
  });

  it("the EC2 instance state-change notification (running) names the instance", () => {
    expect(parseChangeEvent(fixture("ec2-instance-running"))).toMatchObject({
      instanceIds: [INSTANCE],
      cause: { eventName: "EC2 instance running", at: "2026-11-29T03:00:41Z" },
    });
  });

  it("ignores failed calls (real records): UnauthorizedOperation, RunInstances with responseElements null, a dry run", () => {
    for (const name of [
      "authorize-security-group-ingress-denied",
      "run-instances-denied",
      "run-instances-dry-run",
    ]) {
      const raw = fixture(name);
      expect((raw.detail as Record<string, unknown>).errorCode).toBeTruthy();
      expect(parseChangeEvent(raw)).toBeUndefined();
    }
    // The same failure with requestParameters null (how many refused calls are recorded): no crash.
    const raw = fixture("run-instances-denied");
    (raw.detail as Record<string, unknown>).requestParameters = null;
    expect(parseChangeEvent(raw)).toBeUndefined();
  });

  it("the control: the same records without errorCode are changes", () => {
    const raw = fixture("run-instances-denied");
    delete (raw.detail as Record<string, unknown>).errorCode;
    expect(parseChangeEvent(raw)?.cause.eventName).toBe("RunInstances");
  });

  it("ignores changes that cannot open anything: a logging update, a user-data change (real record)", () => {
    expect(parseChangeEvent(fixture("eks-update-cluster-config-logging"))).toBeUndefined();
    expect(parseChangeEvent(fixture("modify-instance-attribute-userdata"))).toBeUndefined();
  });

  it("refuses a malformed event naming the field", () => {
    const bad = { ...fixture("authorize-security-group-ingress"), account: "12" };
    expect(() => parseChangeEvent(bad, "Records[0].body")).toThrow(/Records\[0\]\.body\.account/);
    expect(() => parseChangeEvent({ ...fixture("run-instances"), detail: { eventName: 5 } })).toThrow(
      /event\.detail\.eventName/,
    );
  });
});
