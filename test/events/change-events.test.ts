import { describe, expect, it } from "vitest";
import { parseChangeEvent } from "../../lib/events/change-events.ts";
import { fixture } from "./fixtures.ts";

const SG = "sg-0a1b2c3d4e5f60718";
const INSTANCE = "i-0123456789abcdef0";
const ENI = "eni-0123456789abcdef0";

describe("parseChangeEvent on CloudTrail samples", () => {
  it("AuthorizeSecurityGroupIngress: the changed group, not the source groups its rules admit", () => {
    const e = parseChangeEvent(fixture("authorize-security-group-ingress"));
    expect(e?.securityGroupIds).toEqual([SG]);
    expect(e?.cause).toEqual({
      eventName: "AuthorizeSecurityGroupIngress",
      actor: "arn:aws:sts::111122223333:assumed-role/Ops/alice",
      at: "2026-11-29T02:59:10Z",
      account: "111122223333",
      region: "us-east-1",
    });
    expect(e?.wholeRegion).toBe(false);
  });

  it("ModifySecurityGroupRules: the group inside the wrapped request", () => {
    expect(parseChangeEvent(fixture("modify-security-group-rules"))?.securityGroupIds).toEqual([SG]);
  });

  it("RunInstances and StartInstances: the instances (and RunInstances' interfaces); the actor may be a service", () => {
    const run = parseChangeEvent(fixture("run-instances"));
    expect(run).toMatchObject({ instanceIds: [INSTANCE], networkInterfaceIds: [ENI] });
    expect(run?.cause.actor).toBe(
      "arn:aws:sts::111122223333:assumed-role/AWSServiceRoleForAutoScaling/AutoScaling",
    );
    expect(parseChangeEvent(fixture("start-instances"))?.instanceIds).toEqual([INSTANCE]);
  });

  it("AssociateAddress, AttachNetworkInterface, ModifyNetworkInterfaceAttribute, ModifyInstanceAttribute groupSet", () => {
    expect(parseChangeEvent(fixture("associate-address"))?.instanceIds).toEqual([INSTANCE]);
    expect(parseChangeEvent(fixture("attach-network-interface"))).toMatchObject({
      instanceIds: [INSTANCE],
      networkInterfaceIds: ["eni-0123456789abcdef1"],
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

  it("ignores changes that cannot open anything: a refused call, a logging update, an instance type change", () => {
    expect(parseChangeEvent(fixture("authorize-security-group-ingress-denied"))).toBeUndefined();
    expect(parseChangeEvent(fixture("eks-update-cluster-config-logging"))).toBeUndefined();
    expect(parseChangeEvent(fixture("modify-instance-attribute-type"))).toBeUndefined();
  });

  it("refuses a malformed event naming the field", () => {
    const bad = { ...fixture("authorize-security-group-ingress"), account: "12" };
    expect(() => parseChangeEvent(bad, "Records[0].body")).toThrow(/Records\[0\]\.body\.account/);
    expect(() => parseChangeEvent({ ...fixture("run-instances"), detail: { eventName: 5 } })).toThrow(
      /event\.detail\.eventName/,
    );
  });
});
