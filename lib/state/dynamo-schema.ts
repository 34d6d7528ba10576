/**
 * The single-table layout of portwarden's DynamoDB state. The CDK construct creates the table from
 * these constants and DynamoStateStore reads and writes by them, so the two cannot drift apart.
 *
 * Item per finding:  pk = "IP#<ip>"  sk = "PORT#<port, 5 digits>" (latent: "PORT#<port>#LATENT")
 * → every record of one node IP is one Query on its partition, sorted by port.
 */

/** Partition key (String): `IP#<ip>`. */
export const PARTITION_KEY = "pk";
/** Sort key (String): `PORT#00022`, or `PORT#30000#LATENT` for a latent finding. */
export const SORT_KEY = "sk";

/**
 * Sparse GSI holding only records with a pending alert (the outbox). Its partition key is the
 * record's own `pendingAlert` attribute ("new" | "escalated" | "de-escalated" | "resolved"): items without it are not indexed.
 */
export const OUTBOX_INDEX_NAME = "outbox";
export const OUTBOX_PARTITION_KEY = "pendingAlert";
/** Outbox sort key: the item's partition key, so one node's pending alerts sit together. */
export const OUTBOX_SORT_KEY = PARTITION_KEY;
/** The values OUTBOX_PARTITION_KEY takes; listPendingAlerts queries each. */
export const OUTBOX_PARTITIONS = ["new", "escalated", "de-escalated", "resolved"] as const;

/** TTL attribute (Number, epoch seconds). Set only on resolved records; open ones never expire. */
export const TTL_ATTRIBUTE = "expiresAt";
export const DEFAULT_TTL_DAYS = 30;

const IP_PREFIX = "IP#";
const PORT_PREFIX = "PORT#";
const LATENT_SUFFIX = "#LATENT";

export function partitionKeyFor(ip: string): string {
  return `${IP_PREFIX}${ip}`;
}

export function ipFromPartitionKey(pk: string): string | undefined {
  return pk.startsWith(IP_PREFIX) ? pk.slice(IP_PREFIX.length) : undefined;
}

/** Zero-padded so DynamoDB's string order is port order. */
export function sortKeyFor(port: number, kind?: string): string {
  const padded = String(port).padStart(5, "0");
  return kind === "latent" ? `${PORT_PREFIX}${padded}${LATENT_SUFFIX}` : `${PORT_PREFIX}${padded}`;
}

/**
 * Claim attributes on a finding item (ExposureRecord.alertClaim, flattened so conditions compare
 * plain attributes): who publishes its pending alert, which alert, until when (epoch ms).
 */
export const CLAIM_OWNER_ATTRIBUTE = "claimOwner";
export const CLAIM_ALERT_ID_ATTRIBUTE = "claimAlertId";
export const CLAIM_UNTIL_ATTRIBUTE = "claimUntil";

/**
 * Control items live in one partition beside the findings (never in the outbox index, never
 * listed as IPs): leases (`LEASE#<name>`: the round lock, a digest being sent) and marks
 * (`MARK#<name>`: small values such as up to when a cluster's digest covered its alerts).
 */
export const CONTROL_PARTITION = "CONTROL";
export const LEASE_SORT_PREFIX = "LEASE#";
export const MARK_SORT_PREFIX = "MARK#";

/** A StateStore method a handler calls; its IAM grant is derived from it (infra `bindStateTable`). */
export type StateStoreMethod =
  | "loadIp"
  | "saveRecords"
  | "listPendingAlerts"
  | "pendingAlertPage"
  | "claimAlerts"
  | "markAlerted"
  | "releaseAlerts"
  | "listIps"
  | "acquireLease"
  | "releaseLease"
  | "readMarks"
  | "writeMark";

/**
 * The DynamoDB actions DynamoStateStore sends per method, and whether they go to the outbox index.
 * saveRecords sends PutItem, or TransactWriteItems of Puts, which IAM authorises as PutItem per item
 * (ConditionCheckItem would only be needed for ConditionCheck entries, which the store never sends).
 * test/state/store-grants.test.ts checks against moto that each method sends nothing else.
 */
export const STATE_STORE_ACTIONS: Readonly<
  Record<StateStoreMethod, { actions: readonly string[]; outboxIndex?: true }>
> = {
  loadIp: { actions: ["dynamodb:Query"] },
  saveRecords: { actions: ["dynamodb:PutItem"] },
  listPendingAlerts: { actions: ["dynamodb:Query"], outboxIndex: true },
  pendingAlertPage: { actions: ["dynamodb:Query"], outboxIndex: true },
  claimAlerts: { actions: ["dynamodb:UpdateItem"] },
  markAlerted: { actions: ["dynamodb:UpdateItem"] },
  releaseAlerts: { actions: ["dynamodb:UpdateItem"] },
  listIps: { actions: ["dynamodb:Scan"] },
  acquireLease: { actions: ["dynamodb:PutItem"] },
  releaseLease: { actions: ["dynamodb:UpdateItem"] },
  readMarks: { actions: ["dynamodb:Query"] },
  writeMark: { actions: ["dynamodb:PutItem"] },
};

/** What the notify stage (lib/round/notify-stage.ts) calls: the outbox, claims, the digest lease and marks. */
export const NOTIFY_STAGE_METHODS: readonly StateStoreMethod[] = [
  "pendingAlertPage",
  "claimAlerts",
  "markAlerted",
  "releaseAlerts",
  "acquireLease",
  "releaseLease",
  "readMarks",
  "writeMark",
];
/** What the round lock (lib/round/round-lock.ts: Discover takes it, Discover or Notify releases it) calls. */
export const ROUND_LOCK_METHODS: readonly StateStoreMethod[] = ["acquireLease", "releaseLease"];
/** What the scan stage and cluster findings (lib/round/scan-stage.ts) call. */
export const SCAN_STAGE_METHODS: readonly StateStoreMethod[] = ["loadIp", "saveRecords"];
