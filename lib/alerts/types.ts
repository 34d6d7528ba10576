import type { AlertEvent } from "../findings/types.ts";

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
  publish(events: readonly AlertEvent[]): Promise<PublishOutcome>;
  summary(summary: RoundSummary): Promise<void>;
}
