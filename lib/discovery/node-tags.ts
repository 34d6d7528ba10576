import { z } from "zod";
import { boundedText } from "../config/zod-input.ts";
import {
  CARRIED_TAGS_MAX_BYTES,
  charCount,
  TAG_KEY_MAX_CHARS,
  TAG_VALUE_MAX_CHARS,
  TAGS_PER_RESOURCE_MAX,
} from "../contracts/limits.ts";
import { safeText } from "../text/sanitize.ts";

/**
 * Which of a node's EC2 tags travel with it (inventory → scan target → Map batch item → stored
 * finding → alert → Security Hub `Resources[].Tags`), and in what form. Tags are user input AWS
 * lets be long and odd (50 user tags of 128 + 256 characters, plus `aws:` tags on top), so the
 * selection is bounded: it never grows a Scan batch past what MAP_BATCH_MAX_INPUT_BYTES allows for
 * 48 targets, nor a stored record, nor a finding.
 */

export const K8S_CLUSTER_TAG_PREFIX = "kubernetes.io/cluster/";
/** Tags whose value is the EKS cluster name, set by managed node groups and eksctl/Karpenter. */
export const EKS_NAME_TAGS: readonly string[] = ["eks:cluster-name", "aws:eks:cluster-name"];
/** What a node is: its name and its cluster/node group, carried before any other tag. */
const IDENTITY_TAGS: readonly string[] = ["Name", ...EKS_NAME_TAGS, "eks:nodegroup-name"];

/** An EC2 `Tags` list or a map of key → value. */
export type TagsInput = ReadonlyArray<{ Key?: string; Value?: string }> | Readonly<Record<string, string>>;

function entriesOf(tags: TagsInput): Array<[string, string]> {
  if (Array.isArray(tags))
    return (tags as ReadonlyArray<{ Key?: string; Value?: string }>).map((t) => [t.Key ?? "", t.Value ?? ""]);
  return Object.entries(tags as Record<string, string>);
}

/** 0: identity tags, 1: `kubernetes.io/cluster/*`, 2: the caller's keys (in their order), 3: the rest. */
function rankOf(key: string, preferred: readonly string[]): [number, number] {
  const identity = IDENTITY_TAGS.indexOf(key);
  if (identity >= 0) return [0, identity];
  if (key.startsWith(K8S_CLUSTER_TAG_PREFIX)) return [1, 0];
  const asked = preferred.indexOf(key);
  if (asked >= 0) return [2, asked];
  return [3, 0];
}

/** Bytes one entry adds to the JSON object (`"key":"value"`, plus a comma after the first). */
function entryBytes(key: string, value: string, first: boolean): number {
  return (
    Buffer.byteLength(JSON.stringify(key)) + 1 + Buffer.byteLength(JSON.stringify(value)) + (first ? 0 : 1)
  );
}

/**
 * The tags a node carries, or undefined when none is left. Deterministic whatever order EC2 lists
 * them in, and idempotent (a selection selected again is unchanged):
 * 1. every key and value goes through the sanitiser (control, bidi and zero-width characters out,
 *    secrets redacted); a value is cut to 256 characters; a key that is then empty, longer than 128
 *    characters, or `__proto__` (which JSON readers, zod and DynamoDB's marshaller treat as the
 *    object's prototype, not a key) is dropped, never cut (a cut key would be another tag);
 * 2. order: `Name`, `eks:cluster-name`, `aws:eks:cluster-name`, `eks:nodegroup-name`, then
 *    `kubernetes.io/cluster/*`, then `preferredKeys` (the configured cluster tag keys) in their
 *    order, then every other tag by key (code-point order); of two keys equal after cleaning the first wins;
 * 3. tags are taken in that order while they fit: at most 50, and at most CARRIED_TAGS_MAX_BYTES
 *    (2 KiB) of UTF-8 JSON in all; a tag that does not fit is skipped and smaller later ones may still fit.
 */
export function selectNodeTags(
  tags: TagsInput | undefined,
  preferredKeys: readonly string[] = [],
): Record<string, string> | undefined {
  if (!tags) return undefined;
  const candidates: Array<{ raw: string; key: string; value: string; rank: [number, number] }> = [];
  for (const [rawKey, rawValue] of entriesOf(tags)) {
    const key = safeText(rawKey, Number.MAX_SAFE_INTEGER);
    if (key === "" || key === "__proto__" || charCount(key) > TAG_KEY_MAX_CHARS) continue;
    const value = safeText(rawValue, TAG_VALUE_MAX_CHARS);
    candidates.push({ raw: rawKey, key, value, rank: rankOf(key, preferredKeys) });
  }
  const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  candidates.sort(
    (a, b) =>
      a.rank[0] - b.rank[0] ||
      a.rank[1] - b.rank[1] ||
      byCodePoint(a.key, b.key) ||
      byCodePoint(a.raw, b.raw),
  );
  const chosen = new Map<string, string>();
  let bytes = 2; // {}
  for (const { key, value } of candidates) {
    if (chosen.size >= TAGS_PER_RESOURCE_MAX) break;
    if (chosen.has(key)) continue;
    const size = entryBytes(key, value, chosen.size === 0);
    if (bytes + size > CARRIED_TAGS_MAX_BYTES) continue;
    chosen.set(key, value);
    bytes += size;
  }
  return chosen.size > 0 ? Object.fromEntries(chosen) : undefined;
}

/** Bytes of `tags` as JSON (what the budget counts). */
export function carriedTagsBytes(tags: Readonly<Record<string, string>> | undefined): number {
  return tags ? Buffer.byteLength(JSON.stringify(tags)) : 0;
}

/** A hand-written inventory or a Scan item may hold more tags than travel: bounded work, then selected. */
const TAGS_READ_MAX = 1_000;

/**
 * Tags as an inventory file or a Map batch item holds them: a map of strings (anything else refuses
 * the node, naming the field), reduced on read by `selectNodeTags`, so whatever the file holds, what
 * travels on is bounded.
 */
export const nodeTagsInputSchema = z
  .record(z.string(), z.string())
  .refine((tags) => Object.keys(tags).length <= TAGS_READ_MAX, {
    error: `has more than ${TAGS_READ_MAX} tags`,
  })
  .transform((tags) => selectNodeTags(tags));

/** Tags as a stored finding holds them (what `selectNodeTags` writes). */
export const carriedTagsSchema = z
  .record(boundedText(TAG_KEY_MAX_CHARS, 1), boundedText(TAG_VALUE_MAX_CHARS))
  .refine((tags) => Object.keys(tags).length <= TAGS_PER_RESOURCE_MAX, {
    error: `has more than ${TAGS_PER_RESOURCE_MAX} tags`,
  });

/** Same tags (order aside)? */
export function sameTags(
  a: Readonly<Record<string, string>> | undefined,
  b: Readonly<Record<string, string>> | undefined,
): boolean {
  const ka = Object.keys(a ?? {});
  if (ka.length !== Object.keys(b ?? {}).length) return false;
  return ka.every((k) => Object.hasOwn(b ?? {}, k) && b?.[k] === a?.[k]);
}
