import { severityRank } from "../catalog/severity.ts";
import type { AlertEvent } from "../findings/types.ts";
import { type DigestEvent, digestConsoleLines } from "./digest.ts";
import { consoleLine, summaryLine } from "./format.ts";
import type { Notifier, PublishOutcome, RoundSummary } from "./types.ts";

export interface ConsoleNotifierOptions {
  /** Where lines go; the CLI chooses (stdout for humans, stderr when stdout carries --json). */
  write: (text: string) => void;
}

/** The local default notifier: one readable line per alert, most severe first, then a summary line. */
export class ConsoleNotifier implements Notifier {
  /** A console line cannot half-fail: claim and mark many at once (one state write per 5,000). */
  readonly batchSize = 5000;
  private readonly write: (text: string) => void;

  constructor(options: ConsoleNotifierOptions) {
    this.write = options.write;
  }

  async publish(events: readonly AlertEvent[]): Promise<PublishOutcome> {
    // Resolved and de-escalated after everything else (they are good news), then most severe first.
    const ordered = [...events].sort(
      (a, b) =>
        Number(lowPriority(a)) - Number(lowPriority(b)) ||
        severityRank(a.finding.severity) - severityRank(b.finding.severity),
    );
    for (const event of ordered) this.write(`${consoleLine(event)}\n`);
    return { accepted: ordered.map((e) => e.id), failed: [] };
  }

  async digest(digest: DigestEvent): Promise<boolean> {
    this.write(`${digestConsoleLines(digest).join("\n")}\n`);
    return true;
  }

  async summary(summary: RoundSummary): Promise<void> {
    this.write(`${summaryLine(summary)}\n`);
  }
}

const lowPriority = (event: AlertEvent): boolean =>
  event.eventType === "resolved" || event.eventType === "de-escalated";
