import type { AlertEvent } from "../findings/types.ts";
import type { DigestEvent } from "./digest.ts";

export interface PublishOutcome {
  /** Ids the channel accepted; only these may be marked alerted. */
  accepted: string[];
  failed: { id: string; error: string }[];
}

export interface RoundSummary {
  roundId: string;
  startedAt: string;
  targets: number;
  complete: boolean;
  newExposures: number;
  resolved: number;
  openExposures: number;
  incompleteScans: number;
}

/** Where alerts go. Adapters: console (local default) and SNS (production). */
export interface Notifier {
  /**
   * Alerts per publish call: the outbox claims, publishes and marks this many at a time (SNS:
   * PublishBatch's 10; the console cannot half-fail, so more). Default: 10.
   */
  readonly batchSize?: number;
  publish(events: readonly AlertEvent[]): Promise<PublishOutcome>;
  summary(summary: RoundSummary): Promise<void>;
  /** One baseline digest; true if the channel accepted it. Default (absent): digests are not used. */
  digest?(digest: DigestEvent): Promise<boolean>;
}
