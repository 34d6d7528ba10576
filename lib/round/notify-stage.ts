import type { Notifier, RoundSummary } from "../alerts/types.ts";
import { severityRank } from "../catalog/severity.ts";
import { errorMessage } from "../errors/errors.ts";
import { findingOf } from "../findings/diff.ts";
import type { AlertEvent, ExposureRecord } from "../findings/types.ts";
import type { StateStore } from "../state/types.ts";
import type { TargetFailure } from "./scan-stage.ts";

/**
 * A stable id per alert: the same pending alert gets the same id in every retry, so a consumer
 * (or a FIFO topic) can recognise a repeat; a different alert about the same port gets another.
 */
export function alertId(record: ExposureRecord): string {
  if (record.pendingAlert === "resolved") return `${record.key}|resolved|${record.lastSeen}`;
  // Severity is part of a "new" alert's identity: an escalation is a different alert, not a repeat.
  return `${record.key}|new|${record.firstSeen}|${record.severity}`;
}

/** The outbox record as a notifier event. */
export function alertEventFor(record: ExposureRecord, at: string): AlertEvent {
  return {
    id: alertId(record),
    eventType: record.pendingAlert === "resolved" ? "resolved" : "new",
    finding: findingOf(record),
    firstSeen: record.firstSeen,
    at,
  };
}

export interface NotifyOptions {
  now?: () => Date;
  /**
   * Targets this round could not record: each becomes a best-effort "round-failed" alert (not kept
   * in the outbox: the next round either succeeds or reports the failure again).
   */
  failedTargets?: readonly TargetFailure[];
}

/** A target the round could not scan or record, as an alert; the message is already sanitised. */
export function roundFailedEvent(failure: TargetFailure, roundId: string, at: string): AlertEvent {
  return {
    id: `${failure.ip}|round-failed|${roundId}`,
    eventType: "round-failed",
    finding: {
      ip: failure.ip,
      port: 0,
      portSpec: "*",
      service: "portwarden",
      severity: "medium",
      kind: "unexplained",
      evidence: failure.error,
    },
    at,
    message: failure.error,
  };
}

/** New before resolved (resolved is lower priority), then most severe first. */
function byPriority(a: ExposureRecord, b: ExposureRecord): number {
  const typeOrder = Number(a.pendingAlert === "resolved") - Number(b.pendingAlert === "resolved");
  return typeOrder || severityRank(a.severity) - severityRank(b.severity) || a.key.localeCompare(b.key);
}

/**
 * The notify stage: publishes every pending alert (the outbox), marks alerted only the ones the
 * notifier accepted (the rest are retried next round), then sends the round summary.
 */
export async function notifyPending(
  deps: { store: StateStore; notifier: Notifier },
  summary: RoundSummary,
  options: NotifyOptions = {},
): Promise<{ published: number; failed: number; publishError?: string }> {
  const now = options.now ?? (() => new Date());
  const pending = (await deps.store.listPendingAlerts()).sort(byPriority);
  let published = 0;
  let failed = 0;
  let publishError: string | undefined;
  const at = now().toISOString();
  const failures = (options.failedTargets ?? []).map((f) => roundFailedEvent(f, summary.roundId, at));
  if (pending.length > 0 || failures.length > 0) {
    const events = pending.map((r) => alertEventFor(r, at));
    const recordById = new Map(pending.map((r) => [alertId(r), r]));
    let accepted: string[] = [];
    try {
      const outcome = await deps.notifier.publish([...events, ...failures]);
      accepted = outcome.accepted.filter((id) => recordById.has(id));
    } catch (error) {
      // Nothing is marked: every alert stays in the outbox for the next round.
      accepted = [];
      publishError = errorMessage(error);
    }
    const acceptedRecords = accepted.map((id) => recordById.get(id) as ExposureRecord);
    if (acceptedRecords.length > 0) await deps.store.markAlerted(acceptedRecords, at);
    published = acceptedRecords.length;
    failed = events.length - published;
  }
  await deps.notifier.summary(summary);
  return { published, failed, ...(publishError !== undefined ? { publishError } : {}) };
}
