import type { ExposureRecord } from "../findings/types.ts";
import { OUTBOX_PARTITIONS } from "./dynamo-schema.ts";
import type { ClaimLease } from "./stored-record.ts";
import type { OutboxPage } from "./types.ts";

/**
 * Outbox paging, leases and marks for the stores that hold every record in memory (the file and
 * memory stores), with the same order and cursor rules as DynamoDB's outbox index: by pending
 * alert type in OUTBOX_PARTITIONS order, then by record key.
 */

function position(record: ExposureRecord): [number, string] {
  // The same partition order as DynamoDB's outbox pages: new, escalated, de-escalated, resolved.
  return [OUTBOX_PARTITIONS.indexOf(record.pendingAlert ?? "resolved"), record.key];
}

function after(a: [number, string], b: [number, string]): boolean {
  return a[0] > b[0] || (a[0] === b[0] && a[1] > b[1]);
}

function encodeCursor(at: [number, string]): string {
  return Buffer.from(JSON.stringify(at)).toString("base64url");
}

function decodeCursor(cursor: string): [number, string] {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as unknown;
    if (Array.isArray(parsed) && typeof parsed[0] === "number" && typeof parsed[1] === "string")
      return [parsed[0], parsed[1]];
  } catch {
    // fall through
  }
  throw new Error("outbox cursor is not one this store made");
}

export function pageOfPending(
  records: Iterable<ExposureRecord>,
  options: { cursor?: string; limit: number },
): OutboxPage {
  const from = options.cursor !== undefined ? decodeCursor(options.cursor) : undefined;
  const pending: ExposureRecord[] = [];
  for (const record of records) {
    if (record.pendingAlert && (!from || after(position(record), from))) pending.push(record);
  }
  pending.sort((a, b) => {
    const [pa, ka] = position(a);
    const [pb, kb] = position(b);
    return pa - pb || (ka < kb ? -1 : ka > kb ? 1 : 0);
  });
  const page = pending.slice(0, options.limit).map((r) => structuredClone(r));
  const last = page[page.length - 1];
  return pending.length > options.limit && last
    ? { records: page, cursor: encodeCursor(position(last)) }
    : { records: page };
}

export interface StoredLease {
  owner: string;
  until: number;
}

/** The lease after an acquire attempt, or undefined when someone else holds a live one. */
export function acquiredLease(current: StoredLease | undefined, lease: ClaimLease): StoredLease | undefined {
  if (current && current.until > lease.now && current.owner !== lease.owner) return undefined;
  return { owner: lease.owner, until: lease.now + lease.leaseMs };
}
