import {
  type AwsSecurityFinding,
  BatchImportFindingsCommand,
  BatchUpdateFindingsCommand,
  type SecurityHubClient,
} from "@aws-sdk/client-securityhub";
import type { Notifier, PublishOutcome, RoundSummary } from "../alerts/types.ts";
import { errorMessage } from "../errors/errors.ts";
import type { AlertEvent } from "../findings/types.ts";
import {
  assertDestination,
  hasResourceTags,
  productArn as productArnOf,
  type SecurityHubDestination,
  toAsff,
  withoutResourceTags,
} from "./asff.ts";

/** BatchImportFindings takes at most 100 findings per call. */
export const MAX_FINDINGS_PER_CALL = 100;

export interface SecurityHubNotifierOptions {
  /** Made by AwsClients in the scanner's own account and region (where findings are imported). */
  client: SecurityHubClient;
  destination: SecurityHubDestination;
  /** Attempts per batch on throttling / server errors (the SDK's own retries come first). Default 5. */
  maxAttempts?: number;
  /** First backoff; doubles per attempt, with full jitter. Default 500 ms. */
  baseDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
  /** Told about findings Security Hub refused for good (they are not retried). */
  onRejected?: (rejected: { id: string; error: string }[]) => void;
  /**
   * Set Workflow RESOLVED on archived findings (BatchUpdateFindings; Security Hub does that by itself
   * only for its own control findings, and BatchImportFindings may not touch Workflow). Best effort:
   * a failure is reported through `onRejected`, the alert still counts as delivered. Default true.
   */
  resolveWorkflow?: boolean;
}

const TRANSIENT = /throttl|toomanyrequests|limitexceeded|internal|serviceunavailable|timeout|econnreset/i;

function isTransient(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number }; $retryable?: unknown };
  const status = e.$metadata?.httpStatusCode ?? 0;
  return (
    Boolean(e.$retryable) ||
    status === 429 ||
    status >= 500 ||
    TRANSIENT.test(`${e.name ?? ""} ${errorMessage(error)}`)
  );
}

/**
 * A Notifier that mirrors portwarden's alerts into AWS Security Hub (ASFF, see asff.ts): a "new"
 * alert imports/updates the finding ACTIVE, "resolved" archives it. It only sees the outbox's
 * alerts, so it imports only on change. Outcome per alert:
 * - imported → accepted;
 * - refused for good (bad input, Security Hub not enabled, access denied) → accepted AND reported
 *   through `onRejected`: retrying would only resend the same alert to every channel each round;
 * - still throttled / failing after the retries → not accepted: the alert stays in the outbox and
 *   every channel gets it again next round, with the same alert id.
 * round-failed alerts are not findings: accepted without a call.
 */
export class SecurityHubNotifier implements Notifier {
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: SecurityHubNotifierOptions) {
    assertDestination(options.destination);
    this.maxAttempts = options.maxAttempts ?? 5;
    this.baseDelayMs = options.baseDelayMs ?? 500;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  async publish(events: readonly AlertEvent[]): Promise<PublishOutcome> {
    const outcome: PublishOutcome = { accepted: [], failed: [] };
    // One finding per Id per call: the last alert about an exposure wins.
    const byFindingId = new Map<string, { finding: AwsSecurityFinding; alertIds: string[] }>();
    for (const event of events) {
      if (event.eventType === "round-failed") {
        outcome.accepted.push(event.id);
        continue;
      }
      const finding = toAsff(event, this.options.destination);
      const earlier = byFindingId.get(finding.Id ?? "");
      byFindingId.set(finding.Id ?? "", { finding, alertIds: [...(earlier?.alertIds ?? []), event.id] });
    }
    const entries = [...byFindingId.values()];
    const rejected: { id: string; error: string }[] = [];
    const archived: string[] = [];
    for (let i = 0; i < entries.length; i += MAX_FINDINGS_PER_CALL) {
      const chunk = entries.slice(i, i + MAX_FINDINGS_PER_CALL);
      const result = await this.importWithRetry(chunk.map((e) => e.finding));
      await this.retryWithoutTags(chunk, result, rejected);
      for (const entry of chunk) {
        const id = entry.finding.Id ?? "";
        const failure = result.get(id);
        if (!failure) {
          outcome.accepted.push(...entry.alertIds);
          if (entry.finding.RecordState === "ARCHIVED") archived.push(id);
        } else if (!failure.transient) {
          outcome.accepted.push(...entry.alertIds);
          rejected.push({ id, error: failure.error });
        } else
          for (const alertId of entry.alertIds) outcome.failed.push({ id: alertId, error: failure.error });
      }
    }
    if (archived.length > 0 && (this.options.resolveWorkflow ?? true))
      rejected.push(...(await this.markResolved(archived)));
    if (rejected.length > 0) this.options.onRejected?.(rejected);
    return outcome;
  }

  /**
   * A finding refused for good while it carried resource tags is imported once more without them: a
   * tag (user input) never costs the finding. What that saved is reported through `onRejected`.
   */
  private async retryWithoutTags(
    chunk: ReadonlyArray<{ finding: AwsSecurityFinding }>,
    result: Map<string, { error: string; transient: boolean }>,
    rejected: { id: string; error: string }[],
  ): Promise<void> {
    const refused = chunk
      .map((e) => e.finding)
      .filter((f) => result.get(f.Id ?? "")?.transient === false && hasResourceTags(f));
    if (refused.length === 0) return;
    const again = await this.importWithRetry(refused.map(withoutResourceTags));
    for (const finding of refused) {
      const id = finding.Id ?? "";
      const second = again.get(id);
      if (second) {
        result.set(id, second);
        continue;
      }
      rejected.push({ id, error: `imported without Resources[].Tags: ${result.get(id)?.error ?? ""}` });
      result.delete(id);
    }
  }

  /** Workflow RESOLVED for findings portwarden archived; returns what did not take (best effort). */
  private async markResolved(ids: string[]): Promise<{ id: string; error: string }[]> {
    const failed: { id: string; error: string }[] = [];
    const productArn = productArnOf(this.options.destination);
    for (let i = 0; i < ids.length; i += MAX_FINDINGS_PER_CALL) {
      const chunk = ids.slice(i, i + MAX_FINDINGS_PER_CALL);
      try {
        const out = await this.options.client.send(
          new BatchUpdateFindingsCommand({
            FindingIdentifiers: chunk.map((Id) => ({ Id, ProductArn: productArn })),
            Workflow: { Status: "RESOLVED" },
            Note: {
              Text: "portwarden: no longer open in consecutive complete scans",
              UpdatedBy: "portwarden",
            },
          }),
        );
        for (const u of out.UnprocessedFindings ?? [])
          failed.push({
            id: u.FindingIdentifier?.Id ?? "",
            error: `workflow not set: ${u.ErrorCode ?? ""} ${u.ErrorMessage ?? ""}`.trim(),
          });
      } catch (error) {
        for (const id of chunk)
          failed.push({ id, error: `workflow not set: ${errorMessage(error).slice(0, 200)}` });
      }
    }
    return failed;
  }

  async summary(_summary: RoundSummary): Promise<void> {
    // Round summaries are not findings.
  }

  /** Imports one chunk; returns the findings that did not make it (by Id), retrying transient failures. */
  private async importWithRetry(
    findings: AwsSecurityFinding[],
  ): Promise<Map<string, { error: string; transient: boolean }>> {
    const failures = new Map<string, { error: string; transient: boolean }>();
    let pending = findings;
    for (let attempt = 1; pending.length > 0; attempt++) {
      const last = attempt >= this.maxAttempts;
      let retry: AwsSecurityFinding[] = [];
      try {
        const out = await this.options.client.send(new BatchImportFindingsCommand({ Findings: pending }));
        const failed = new Map((out.FailedFindings ?? []).map((f) => [f.Id ?? "", f]));
        for (const finding of pending) {
          const f = failed.get(finding.Id ?? "");
          if (!f) {
            failures.delete(finding.Id ?? "");
            continue;
          }
          const error = `${f.ErrorCode ?? "Failed"}: ${f.ErrorMessage ?? "no message"}`.slice(0, 300);
          const transient = TRANSIENT.test(f.ErrorCode ?? "");
          failures.set(finding.Id ?? "", { error, transient });
          if (transient) retry.push(finding);
        }
      } catch (error) {
        const transient = isTransient(error);
        for (const finding of pending)
          failures.set(finding.Id ?? "", { error: errorMessage(error).slice(0, 300), transient });
        if (transient) retry = pending;
      }
      if (last || retry.length === 0) break;
      pending = retry;
      // Full jitter: spread concurrent writers instead of retrying in step.
      await this.sleep(Math.random() * this.baseDelayMs * 2 ** (attempt - 1));
    }
    return failures;
  }
}
