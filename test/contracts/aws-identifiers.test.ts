import { App, Stack } from "aws-cdk-lib";
import { describe, expect, it } from "vitest";
import { readEnvironment } from "../../functions/environment.ts";
import { Portwarden } from "../../infra/portwarden.ts";
import {
  assertExternalId,
  assertRegion,
  partitionOf,
  REGION_PATTERN,
  roleArn,
} from "../../lib/contracts/aws-identifiers.ts";
import { parseRegionList } from "../../lib/discovery/options.ts";
import { InputError } from "../../lib/errors/errors.ts";

describe("region rule", () => {
  // One name per partition of the SDK's partitions.json, plus a two-digit number.
  const regions = [
    "us-east-1",
    "us-gov-west-1",
    "cn-northwest-1",
    "us-isob-east-1",
    "eusc-de-east-1",
    "ap-southeast-10",
  ];
  it.each(regions)("accepts %s", (region) => {
    expect(REGION_PATTERN.test(region)).toBe(true);
  });

  it.each(["mars-1", "EU", "us-east", "us-east-123", "us_east_1"])("refuses %s", (region) => {
    expect(() => assertRegion(region, "region")).toThrow(InputError);
  });

  it("is the same rule in the construct, the handler environment and discovery (no drift)", () => {
    // Prepare: a region only the old discovery regex allowed (two-digit number)
    const region = "ap-southeast-10";
    // Act
    const construct = () =>
      new Portwarden(new Stack(new App({ context: { "aws:cdk:bundling-stacks": [] } }), "S"), "P", {
        regions: [region],
      });
    // Assess
    expect(construct).not.toThrow();
    expect(readEnvironment({ AWS_REGION: region }).AWS_REGION).toBe(region);
    expect(parseRegionList(region, "--regions")).toEqual([region]);
  });
});

describe("external id rule (sts:ExternalId: 2-1224 of [\\w+=,.@:/-])", () => {
  it("accepts 2 and 1224 characters and refuses 1 and 1225", () => {
    expect(() => assertExternalId("ab", "externalId")).not.toThrow();
    expect(() => assertExternalId("a".repeat(1224), "externalId")).not.toThrow();
    expect(() => assertExternalId("a", "externalId")).toThrow("2-1224 characters");
    expect(() => assertExternalId("a".repeat(1225), "externalId")).toThrow("2-1224 characters");
  });

  it("never echoes the value in its error", () => {
    expect(() => assertExternalId("secret value", "externalId")).toThrow(/^externalId: must be/);
    expect(() => assertExternalId("secret value", "externalId")).not.toThrow(/secret/);
  });
});

describe("partitionOf", () => {
  it.each([
    ["arn:aws:sts::111122223333:assumed-role/r/s", "aws"],
    ["arn:aws-us-gov:sts::111122223333:assumed-role/r/s", "aws-us-gov"],
    ["arn:aws-cn:iam::111122223333:user/u", "aws-cn"],
  ])("reads the partition of %s", (arn, partition) => {
    expect(partitionOf(arn)).toBe(partition);
  });

  it("refuses something that is not an ARN", () => {
    expect(() => partitionOf("111122223333")).toThrow(InputError);
  });

  it("builds a role ARN in the given partition", () => {
    expect(roleArn("aws-cn", "111122223333", "PortwardenMemberRole")).toBe(
      "arn:aws-cn:iam::111122223333:role/PortwardenMemberRole",
    );
  });
});
