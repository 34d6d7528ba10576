/**
 * What the CDK construct (infra/) and the Lambda handlers (functions/) agree on: environment
 * variable names, default resource names and the round bucket's key layout. infra/ writes these,
 * functions/ and lib/ read them; neither side spells one out by hand.
 */
import { z } from "zod";
import { regionSchema } from "./aws-identifiers.ts";

/** Environment variables the construct sets on the handlers (`ScannerFunction.bind…()`, props). */
export const ENV = {
  stateTableName: "STATE_TABLE_NAME",
  roundBucketName: "ROUND_BUCKET_NAME",
  alertTopicArn: "ALERT_TOPIC_ARN",
  portSpec: "PORT_SPEC",
  accounts: "ACCOUNTS",
  organization: "ORGANIZATION",
  regions: "REGIONS",
  memberRoleName: "MEMBER_ROLE_NAME",
  externalId: "EXTERNAL_ID",
  /** Discover reads this inventory (JSON of `portwarden inventory --json`) from the round bucket instead of calling AWS. */
  inventoryS3Key: "INVENTORY_S3_KEY",
  /** "true": Notify and Rescan also import alerts into Security Hub (this account and region). */
  securityHub: "SECURITY_HUB",
  /** Coverage slices of 1-65535 (lib/coverage): each round adds one; absent or 0: none. */
  coverageSlices: "COVERAGE_SLICES",
  /** Discover: how long the round lock is held at most (the state machine's timeout), in seconds. */
  roundLockSeconds: "ROUND_LOCK_SECONDS",
  /** Notify: the baseline digest policy as JSON (`false` turns digests off); absent: the defaults. */
  baseline: "BASELINE",
  /**
   * `true`: the Scan Lambda may scan loopback/private targets (an operator's opt-in for tests and
   * private inventories; the construct never sets it). Link-local/metadata addresses never.
   */
  allowPrivateTargets: "ALLOW_PRIVATE_TARGETS",
  /**
   * Scan and Rescan: `region-endpoint` (absent: the default), `off` or `HOST:PORT`, where silent
   * nodes borrow an RTT from (lib/scan/timing-anchor.ts).
   */
  timingAnchor: "TIMING_ANCHOR",
} as const;

/** The environment the handlers validate once per cold start (a bad value names the variable). */
export const handlerEnvironmentSchema = z.object({
  AWS_REGION: regionSchema,
  [ENV.stateTableName]: z.string().min(3).max(255).optional(),
  [ENV.roundBucketName]: z.string().min(3).max(63).optional(),
  [ENV.alertTopicArn]: z.string().startsWith("arn:").optional(),
  [ENV.portSpec]: z.string().min(1).optional(),
  [ENV.accounts]: z.string().optional(),
  [ENV.organization]: z.enum(["true", "false"]).optional(),
  [ENV.regions]: z.string().optional(),
  [ENV.memberRoleName]: z.string().optional(),
  [ENV.externalId]: z.string().optional(),
  [ENV.inventoryS3Key]: z.string().min(1).max(1024).optional(),
  [ENV.securityHub]: z.enum(["true", "false"]).optional(),
  [ENV.coverageSlices]: z
    .string()
    .regex(/^\d{1,4}$/, "is not a whole number")
    .optional(),
  [ENV.roundLockSeconds]: z
    .string()
    .regex(/^\d{1,6}$/, "is not a number of seconds")
    .optional(),
  [ENV.baseline]: z.string().max(200).optional(),
  [ENV.allowPrivateTargets]: z.enum(["true", "false"]).optional(),
  [ENV.timingAnchor]: z.string().min(1).max(300).optional(),
});
export type HandlerEnvironment = z.infer<typeof handlerEnvironmentSchema>;

/** Powertools service name and metrics namespace (set by the construct, defaults of the handlers). */
export const SERVICE_NAME = "portwarden";
export const METRICS_NAMESPACE = "Portwarden";

/** The read-only role portwarden assumes in member accounts (construct, member stack, CLI). */
export const DEFAULT_MEMBER_ROLE_NAME = "PortwardenMemberRole";
/** The discovery Lambda's role name; member roles trust it by name. */
export const DEFAULT_DISCOVERY_ROLE_NAME = "portwarden-discovery";
/** The rescan Lambda's role name (event rescans); member roles trust it by name when asked to. */
export const DEFAULT_RESCAN_ROLE_NAME = "portwarden-rescan";
/** The scanner's event bus that member accounts forward change events to. */
export const DEFAULT_CHANGE_BUS_NAME = "portwarden-changes";
/**
 * Event rescans' timing as the construct deploys it (infra/event-rescans.ts), read by the latency
 * benchmark (test/bench/rescan-bench.ts) so the two cannot drift. Seconds.
 */
export const RESCAN_TIMING = {
  /** Default `rescanBatchingWindow`: SQS gathers a burst this long before one invocation (0-300). */
  batchingWindow: 60,
  /** Delivery delay of the launch queue: a new node's services start listening. */
  launchDelay: 90,
  /** Rescan Lambda timeout. */
  functionTimeout: 120,
  /** Both queues: a batch throttled by the concurrency guard returns after this (>= functionTimeout). */
  visibilityTimeout: 120,
  /** Messages per invocation at most. */
  batchSize: 100,
} as const;
/** Prefix of the construct's generated `sts:ExternalId` (the rest is the stack id's UUID). */
export const GENERATED_EXTERNAL_ID_PREFIX = "portwarden-";

/** Round data lives under this prefix of the round bucket (the IAM grants are scoped to it). */
export const ROUND_PREFIX = "rounds";
/** Every round object, as an IAM resource suffix / S3 object pattern. */
export const ROUND_OBJECTS = `${ROUND_PREFIX}/*`;
/** Where the Distributed Map's ResultWriter puts its manifest and result files. */
export const MAP_RESULTS_PREFIX = `${ROUND_PREFIX}/map-results`;

/** When each coverage slice was last scanned (lib/coverage): read and rewritten by Discover every round. */
export const COVERAGE_KEY = `${ROUND_PREFIX}/coverage.json`;

/** The round's scan targets (JSON array of ScanTarget), written by Discover, read by the Map and Notify. */
export function targetsKeyFor(roundId: string): string {
  return `${ROUND_PREFIX}/${roundId}/targets.json`;
}

/** The round's cluster finding ids (JSON array of strings), written by Discover, read by Notify. */
export function clusterIdsKeyFor(roundId: string): string {
  return `${ROUND_PREFIX}/${roundId}/cluster-ids.json`;
}
