import { z } from "zod";
import { parseInput } from "../config/zod-input.ts";
import { errorMessage } from "../errors/errors.ts";
import { type ChangeEvent, parseChangeEvent } from "./change-events.ts";

/** The part of an SQS event the rescan reads: each body is one EventBridge event (the rule's target). */
export const sqsBatchSchema = z.object({
  Records: z
    .array(z.object({ messageId: z.string().min(1).max(128), body: z.string().max(256 * 1024) }).loose())
    .max(10_000),
});

export interface ChangeBatch {
  events: ChangeEvent[];
  /** Messages that are not a change event at all: reported as batch item failures (→ DLQ after retries). */
  rejected: { messageId: string; reason: string }[];
  /** Valid events that cannot open anything, or from an account/region this deployment does not scan. */
  ignored: number;
}

/**
 * The SQS batch → change events. `accounts`/`regions` (the deployment's scan scope; empty = any)
 * drop events from elsewhere: the bus policy admits the whole organization, the scan scope may be less.
 */
export function changeEventsFromSqs(
  raw: unknown,
  scope: { accounts?: readonly string[]; regions?: readonly string[] } = {},
): ChangeBatch {
  const batch = parseInput(sqsBatchSchema, raw, "event");
  const out: ChangeBatch = { events: [], rejected: [], ignored: 0 };
  batch.Records.forEach((record, i) => {
    try {
      const event = parseChangeEvent(JSON.parse(record.body), `Records[${i}].body`);
      const inScope =
        event !== undefined &&
        (!scope.accounts?.length || scope.accounts.includes(event.account)) &&
        (!scope.regions?.length || scope.regions.includes(event.region));
      if (event && inScope) out.events.push(event);
      else out.ignored++;
    } catch (error) {
      out.rejected.push({ messageId: record.messageId, reason: errorMessage(error).slice(0, 300) });
    }
  });
  return out;
}
