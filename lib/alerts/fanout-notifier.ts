import type { AlertEvent } from "../findings/types.ts";
import type { Notifier, PublishOutcome, RoundSummary } from "./types.ts";

/**
 * Sends every alert to several notifiers (SNS/console and Security Hub). An alert counts as
 * accepted only when every notifier accepted it, so the outbox keeps it for the next round until
 * all of them have it; a repeat carries the same alert id.
 */
export class FanOutNotifier implements Notifier {
  constructor(private readonly notifiers: readonly Notifier[]) {}

  async publish(events: readonly AlertEvent[]): Promise<PublishOutcome> {
    const outcomes = await Promise.all(this.notifiers.map((n) => n.publish(events)));
    const acceptedBy = outcomes.map((o) => new Set(o.accepted));
    const failed = new Map<string, string>();
    for (const o of outcomes) for (const f of o.failed) if (!failed.has(f.id)) failed.set(f.id, f.error);
    const accepted = events.map((e) => e.id).filter((id) => acceptedBy.every((set) => set.has(id)));
    for (const event of events)
      if (!accepted.includes(event.id) && !failed.has(event.id))
        failed.set(event.id, "not accepted by every channel");
    return { accepted, failed: [...failed].map(([id, error]) => ({ id, error })) };
  }

  async summary(summary: RoundSummary): Promise<void> {
    await Promise.all(this.notifiers.map((n) => n.summary(summary)));
  }
}
