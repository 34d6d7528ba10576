/**
 * The AWS identifier rules every side of portwarden checks against: the CDK construct's props,
 * the handlers' events and environment, the CLI's flags and config files. One rule each, so a value
 * the construct accepts is never refused by the Lambda that receives it (or the other way round).
 */
import { z } from "zod";
import { InputError } from "../errors/errors.ts";

/** 12 digits. */
export const ACCOUNT_ID_PATTERN = /^\d{12}$/;
/**
 * Every partition's region names (the SDK's partitions.json: `us-east-1`, `us-gov-west-1`,
 * `cn-north-1`, `us-isob-east-1`, `eusc-de-east-1`), with room for two-digit numbers.
 */
export const REGION_PATTERN = /^[a-z]{2,4}(-[a-z]+)+-\d{1,2}$/;
/** IAM role names: 1-64 of letters, digits and +=,.@_- (no path). */
export const ROLE_NAME_PATTERN = /^[\w+=,.@-]{1,64}$/;
/** sts:ExternalId: 2-1224 of letters, digits and +=,.@:/_- (the AssumeRole API's own constraint). */
export const EXTERNAL_ID_PATTERN = /^[\w+=,.@:/-]{2,1224}$/;
/** A round id doubles as an S3 key segment and a Step Functions execution name (max 80). */
export const ROUND_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,80}$/;

export const ACCOUNT_ID_RULE = "a 12-digit AWS account id";
export const REGION_RULE = "an AWS region name (e.g. us-east-1)";
export const ROLE_NAME_RULE = "an IAM role name (1-64 of letters, digits and +=,.@_-)";
export const EXTERNAL_ID_RULE =
  "must be 2-1224 characters of letters, digits and +=,.@:/_- (value not shown)";
export const ROUND_ID_RULE = "a round id (1-80 of A-Z a-z 0-9 _ . : -)";

function quoted(value: string): string {
  return `'${value.length > 80 ? `${value.slice(0, 80)}…` : value}'`;
}

export function assertAccountId(id: string, field: string): string {
  if (!ACCOUNT_ID_PATTERN.test(id)) throw new InputError(field, `${quoted(id)} is not ${ACCOUNT_ID_RULE}`);
  return id;
}

export function assertRegion(region: string, field: string): string {
  if (!REGION_PATTERN.test(region)) throw new InputError(field, `${quoted(region)} is not ${REGION_RULE}`);
  return region;
}

export function assertRoleName(name: string, field: string): string {
  if (!ROLE_NAME_PATTERN.test(name)) throw new InputError(field, `${quoted(name)} is not ${ROLE_NAME_RULE}`);
  return name;
}

/** The external id is a shared secret of sorts: the error never echoes it. */
export function assertExternalId(id: string, field: string): string {
  if (!EXTERNAL_ID_PATTERN.test(id)) throw new InputError(field, EXTERNAL_ID_RULE);
  return id;
}

/** The same rules as zod schemas (events, environment, config files). */
export const accountIdSchema = z.string().regex(ACCOUNT_ID_PATTERN, `is not ${ACCOUNT_ID_RULE}`);
export const regionSchema = z.string().regex(REGION_PATTERN, `is not ${REGION_RULE}`);
export const roleNameSchema = z.string().regex(ROLE_NAME_PATTERN, `is not ${ROLE_NAME_RULE}`);
export const externalIdSchema = z.string().regex(EXTERNAL_ID_PATTERN, EXTERNAL_ID_RULE);
export const roundIdSchema = z.string().regex(ROUND_ID_PATTERN, `is not ${ROUND_ID_RULE}`);

/**
 * The partition (`aws`, `aws-cn`, `aws-us-gov`, ...) of an ARN, e.g. the caller's own from
 * sts:GetCallerIdentity: an ARN built for another account must live in the caller's partition.
 */
export function partitionOf(arn: string): string {
  const match = /^arn:(aws[a-z-]*):/.exec(arn);
  if (!match?.[1]) throw new InputError("arn", `${quoted(arn)} is not an AWS ARN`);
  return match[1];
}

/** `arn:<partition>:iam::<account>:role/<name>`. */
export function roleArn(partition: string, account: string, roleName: string): string {
  return `arn:${partition}:iam::${account}:role/${roleName}`;
}
