/**
 * Field limits, each defined once and sized from what AWS (or the protocol) allows, so that every
 * reader accepts what every writer may produce: discovery, inventory parsing, the state schemas
 * (file, DynamoDB, memory) and the Lambda event schemas all import these. A limit smaller than
 * what AWS legally holds turns real data into a refused file; so none is.
 */

/** EC2 tag keys: up to 128 Unicode characters (EC2 User Guide, "Tag restrictions"). */
export const TAG_KEY_MAX_CHARS = 128;
/** EC2 tag values: up to 256 Unicode characters. */
export const TAG_VALUE_MAX_CHARS = 256;

/** Tags per resource: 50 user tags (`aws:` tags come on top); also the most an ASFF resource carries. */
export const TAGS_PER_RESOURCE_MAX = 50;
/**
 * The node tags one scan target, one stored finding and one alert carry: at most this many bytes of
 * UTF-8 JSON (`{"Name":"web-1",...}`), chosen by `selectNodeTags` (lib/discovery/node-tags.ts).
 * 48 targets of a Map batch then carry at most 96 KiB of tags, under half of MAP_BATCH_MAX_INPUT_BYTES,
 * where all 50 tags at their longest (50 x (128 + 256) characters, up to 4 bytes each) would be 75 KiB
 * per target, 3.6 MB per batch.
 */
export const CARRIED_TAGS_MAX_BYTES = 2048;
/**
 * Where the Distributed Map's ItemBatcher cuts a Scan batch by size (MaxInputBytesPerBatch): under
 * the 256 KiB Step Functions / Lambda payload limit, with room left for BatchInput.
 */
export const MAP_BATCH_MAX_INPUT_BYTES = 200_000;

/** EKS cluster names: 1-100 characters (EKS CreateCluster `name`). */
export const EKS_CLUSTER_NAME_MAX_CHARS = 100;
/**
 * A cluster name as the inventory carries it: an EKS name, or for self-managed clusters a tag
 * value (`eks:cluster-name`, an extra tag key) or the tail of a `kubernetes.io/cluster/<name>` key.
 * The largest of those is a tag value.
 */
export const CLUSTER_NAME_MAX_CHARS = Math.max(EKS_CLUSTER_NAME_MAX_CHARS, TAG_VALUE_MAX_CHARS);
/** EKS node group names: 1-63 characters. */
export const NODE_GROUP_NAME_MAX_CHARS = 63;

/** AWS account ids: 12 digits. */
export const ACCOUNT_ID_CHARS = 12;
/** Region codes (`ap-southeast-4`, `us-gov-west-1`): 25 today; AWS publishes no maximum, room kept. */
export const REGION_MAX_CHARS = 32;
/** EC2 instance ids: `i-` + 8 or 17 hex digits. */
export const INSTANCE_ID_MAX_CHARS = 19;
/** Security group ids: `sg-` + 8 or 17 hex digits. */
export const SECURITY_GROUP_ID_MAX_CHARS = 20;
/** Network interface ids: `eni-` + 8 or 17 hex digits. */
export const NETWORK_INTERFACE_ID_MAX_CHARS = 21;
/** VPC ids: `vpc-` + 8 or 17 hex digits. */
export const VPC_ID_MAX_CHARS = 21;
/** Security groups per network interface: the quota's hard maximum is 16. */
export const SECURITY_GROUPS_PER_INTERFACE_MAX = 16;
/** EKS `publicAccessCidrs`: at most 40 CIDR blocks. */
export const ENDPOINT_PUBLIC_CIDRS_MAX = 40;
/** EKS endpoint URLs are short; a URL in general is bounded here by what browsers accept. */
export const URL_MAX_CHARS = 2048;
/** Kubernetes/platform version strings (`1.31`, `v1.29.3-eks-1`). */
export const VERSION_MAX_CHARS = 64;

/** An IP address as text: the longest form is IPv4-mapped IPv6 written out (45 characters). */
export const IP_MAX_CHARS = 45;
/** The id a cluster-level finding is stored under instead of an IP (`eks-` + 16 hex). */
export const CLUSTER_FINDING_ID_CHARS = 20;
/** A store key: `<ip>#<port>` or `<ip>#<port>#latent`. */
export const RECORD_KEY_MAX_CHARS = Math.max(IP_MAX_CHARS, CLUSTER_FINDING_ID_CHARS) + "#65535#latent".length;

/**
 * The longest canonical port SPEC any set of TCP ports 1-65535 can have (the PortSet's compact
 * ranges: pairs `a-b` separated by one missing port are the worst case): 254,735 characters.
 * A security group may legally open any such set; `test/contracts/limits.test.ts` recomputes it.
 */
export const PORT_SPEC_MAX_CHARS = 254_735;

/** A finding's proof line, as probes and classification produce it and the store keeps it. */
export const EVIDENCE_MAX_CHARS = 2000;
/** A service name (catalogue names, probe-refined names such as `etcd`, `http`). */
export const SERVICE_MAX_CHARS = 100;
/** How-to-fix text. */
export const FIX_MAX_CHARS = 2000;
/** An error message carried in a report or an event (failed targets, discovery errors). */
export const MESSAGE_MAX_CHARS = 1000;
/** What a failed target is called: its IP, or the path of the entry that had no valid IP. */
export const TARGET_LABEL_MAX_CHARS = 100;
/** ISO-8601 timestamps as stored. */
export const TIMESTAMP_MAX_CHARS = 64;

/** DynamoDB's item size limit (400 KB): a record at every limit above must still fit. */
export const DYNAMODB_ITEM_MAX_BYTES = 400 * 1024;

/** Characters as AWS counts them (Unicode code points; an emoji is one, not two UTF-16 units). */
export function charCount(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/** `text` cut to `max` characters (by code point, never half a surrogate pair), with `…` when cut. */
export function clampText(text: string, max: number): string {
  if (text.length <= max) return text;
  const points = Array.from(text);
  if (points.length <= max) return text;
  return `${points.slice(0, max - 1).join("")}…`;
}
