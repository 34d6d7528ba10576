/**
 * What each Step Functions state hands the next (infra/portwarden.ts builds the states, functions/
 * parses and returns these): one schema per event and output, so Notify reads exactly what Scan
 * writes and the types cannot drift from the runtime checks.
 */
import { z } from "zod";
import { boundedText } from "../config/zod-input.ts";
import { roundIdSchema } from "./aws-identifiers.ts";
import { MESSAGE_MAX_CHARS, TARGET_LABEL_MAX_CHARS } from "./limits.ts";

/** A target whose findings could not be recorded (already sanitised: no stacks, no secrets). */
export const targetFailureSchema = z.object({
  ip: z.string().max(TARGET_LABEL_MAX_CHARS),
  error: boundedText(MESSAGE_MAX_CHARS),
});

/** What one part of a round (a scan batch, discovery's cluster findings) counted. */
const tallySchema = z.object({
  newExposures: z.number().int().min(0),
  resolved: z.number().int().min(0),
  openExposures: z.number().int().min(0),
  failedTargets: z.array(targetFailureSchema),
});

/** Discover's input: the execution's name and start time (the state machine passes them). */
export const discoverEventSchema = z.object({
  roundId: roundIdSchema,
  startedAt: z.iso.datetime({ offset: true }),
});
export type DiscoverEvent = z.infer<typeof discoverEventSchema>;

/** Discover's output: what the Map reads (`targetsKey`) and Notify needs. */
export const discoverOutputSchema = discoverEventSchema.extend({
  /** Object (JSON array of ScanTarget) the Distributed Map reads its items from. */
  targetsKey: z.string().min(1).max(1024),
  targets: z.number().int().min(0),
  /** Accounts/regions discovery could not read: the round is incomplete. */
  discoveryErrors: z.number().int().min(0),
  /** Cluster-level findings discovery recorded itself. */
  clusters: tallySchema,
});
export type DiscoverOutput = z.infer<typeof discoverOutputSchema>;

/** Max targets per scan batch (the construct's `targetsPerBatch` upper bound). */
export const MAX_TARGETS_PER_BATCH = 50;

/** One Distributed Map batch (ItemBatcher): a few targets that share one socket budget. */
export const scanEventSchema = z.object({
  Items: z.array(z.unknown()).min(1).max(MAX_TARGETS_PER_BATCH),
  BatchInput: z.object({ roundId: roundIdSchema }),
});
export type ScanEvent = z.infer<typeof scanEventSchema>;

/** Scan's output: small on purpose, the Map writes one per batch to S3 and Notify sums them. */
export const scanBatchOutputSchema = tallySchema.extend({
  targets: z.number().int().min(0),
  incompleteScans: z.number().int().min(0),
  openPorts: z.number().int().min(0),
});
export type ScanBatchOutput = z.infer<typeof scanBatchOutputSchema>;

/** Notify's input: Discover's output plus `map` (the ResultWriter's details) or `mapError` (Catch). */
export const notifyEventSchema = discoverOutputSchema
  .extend({
    map: z
      .object({ ResultWriterDetails: z.object({ Bucket: z.string().min(3), Key: z.string().min(1) }) })
      .loose()
      .optional(),
    mapError: z.object({ Error: z.string().optional(), Cause: z.string().optional() }).loose().optional(),
    /** The previous Notify pass's output, when the state machine loops back for more alerts. */
    notify: z.lazy(() => notifyOutputSchema).optional(),
  })
  .loose();
export type NotifyEvent = z.infer<typeof notifyEventSchema>;

/** Notify's output (the execution's `$.notify`). */
export const notifyOutputSchema = z.object({
  roundId: roundIdSchema,
  complete: z.boolean(),
  newExposures: z.number().int().min(0),
  resolved: z.number().int().min(0),
  openExposures: z.number().int().min(0),
  incompleteScans: z.number().int().min(0),
  published: z.number().int().min(0),
  failed: z.number().int().min(0),
  /** IPs with stored history this round's (complete) discovery no longer lists. */
  staleIps: z.array(z.string()),
  /** Baseline digests sent and the alerts they stand for (recorded as sent), over all passes. */
  digests: z.number().int().min(0),
  recorded: z.number().int().min(0),
  /** True: this pass stopped near its deadline with alerts left; the state machine runs Notify again. */
  more: z.boolean(),
  /** Where the next pass goes on in the outbox (opaque). */
  cursor: z.string().max(8192).optional(),
  /** Notify passes so far in this round. */
  passes: z.number().int().min(1),
});
export type NotifyOutput = z.infer<typeof notifyOutputSchema>;
