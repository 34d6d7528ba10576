import { createHash } from "node:crypto";
import {
  type MessageAttributeValue,
  PublishBatchCommand,
  type PublishBatchRequestEntry,
  PublishCommand,
  type SNSClient,
} from "@aws-sdk/client-sns";
import { errorMessage, InputError } from "../errors/errors.ts";
import type { AlertEvent } from "../findings/types.ts";
import {
  type DigestEvent,
  digestEmailText,
  digestHeadline,
  digestMessageBody,
  digestSeverity,
} from "./digest.ts";
import {
  alertHeadline,
  alertMessageBody,
  emailText,
  safeText,
  subjectLine,
  summaryLine,
  summaryMessageBody,
} from "./format.ts";
import type { Notifier, PublishOutcome, RoundSummary } from "./types.ts";

export interface SnsNotifierOptions {
  /** Made by AwsClients; the notifier never creates clients. */
  client: SNSClient;
  topicArn: string;
  /**
   * When to publish the round summary: "incomplete" (default: only rounds that could not scan
   * everything, so email subscribers are not paged every round), "always", or "never".
   */
  summaries?: "always" | "incomplete" | "never";
}

/** PublishBatch limits: 10 entries, 256 KiB for the whole request. Margin left for the envelope. */
const MAX_BATCH_ENTRIES = 10;
const MAX_BATCH_BYTES = 240 * 1024;
const MAX_ERROR_CHARS = 300;
const TOPIC_ARN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$/;

/**
 * Publishes alerts to one SNS topic with PublishBatch. Each message carries a short `default`, a
 * readable `email`, and a versioned JSON body for sqs/lambda/http(s)/email-json subscribers, plus
 * message attributes (severity, findingSeverity, kind, eventType, account, cluster, alertId) for filter policies.
 * Only ids SNS accepted are reported accepted; the caller leaves the rest in the outbox.
 */
export class SnsNotifier implements Notifier {
  readonly batchSize = MAX_BATCH_ENTRIES;
  private readonly client: SNSClient;
  private readonly topicArn: string;
  private readonly fifo: boolean;
  private readonly summaries: "always" | "incomplete" | "never";

  constructor(options: SnsNotifierOptions) {
    if (!TOPIC_ARN.test(options.topicArn)) {
      throw new InputError("topicArn", `${JSON.stringify(options.topicArn)} is not an SNS topic ARN`);
    }
    this.client = options.client;
    this.topicArn = options.topicArn;
    this.fifo = options.topicArn.endsWith(".fifo");
    this.summaries = options.summaries ?? "incomplete";
  }

  async publish(events: readonly AlertEvent[]): Promise<PublishOutcome> {
    const outcome: PublishOutcome = { accepted: [], failed: [] };
    for (const batch of this.batches(events)) {
      const byEntryId = new Map(batch.map(({ entry, event }) => [entry.Id as string, event.id]));
      // At least once here: the SDK retries a call whose answer was lost (reset connection, 5xx) with
      // the same request; if SNS had processed it, the batch is delivered twice (a FIFO topic drops
      // the repeat by its deduplication id), like a crash between this call and the mark.
      try {
        const result = await this.client.send(
          new PublishBatchCommand({
            TopicArn: this.topicArn,
            PublishBatchRequestEntries: batch.map((b) => b.entry),
          }),
        );
        const answered = new Set<string>();
        for (const ok of result.Successful ?? []) {
          const id = ok.Id && byEntryId.get(ok.Id);
          if (!id || !ok.Id) continue;
          answered.add(ok.Id);
          outcome.accepted.push(id);
        }
        for (const failure of result.Failed ?? []) {
          const id = failure.Id && byEntryId.get(failure.Id);
          if (!id || !failure.Id) continue;
          answered.add(failure.Id);
          const why = [failure.Code, failure.Message].filter(Boolean).join(": ") || "rejected";
          outcome.failed.push({ id, error: safeText(why, MAX_ERROR_CHARS) });
        }
        // An entry SNS did not report on was not confirmed: it stays pending.
        for (const [entryId, id] of byEntryId) {
          if (!answered.has(entryId)) outcome.failed.push({ id, error: "no result from SNS" });
        }
      } catch (error) {
        // The whole call failed (throttling, access denied, network): every entry stays pending.
        const why = safeText(errorMessage(error), MAX_ERROR_CHARS);
        for (const { event } of batch) outcome.failed.push({ id: event.id, error: why });
      }
    }
    return outcome;
  }

  async summary(summary: RoundSummary): Promise<void> {
    if (this.summaries === "never" || (this.summaries === "incomplete" && summary.complete)) return;
    const body = JSON.stringify(summaryMessageBody(summary));
    const line = summaryLine(summary);
    await this.client.send(
      new PublishCommand({
        TopicArn: this.topicArn,
        Subject: subjectLine(line),
        MessageStructure: "json",
        Message: JSON.stringify(structuredMessage(line, line, body)),
        MessageAttributes: attributes({
          eventType: "round-summary",
          severity: summary.complete ? "info" : "medium",
        }),
        ...this.fifoFields(`round#${summary.roundId}`, "round-summary"),
      }),
    );
  }

  async digest(digest: DigestEvent): Promise<boolean> {
    const headline = digestHeadline(digest);
    const body = JSON.stringify(digestMessageBody(digest));
    try {
      await this.client.send(
        new PublishCommand({
          TopicArn: this.topicArn,
          Subject: subjectLine(headline),
          MessageStructure: "json",
          Message: JSON.stringify(structuredMessage(safeText(headline, 300), digestEmailText(digest), body)),
          MessageAttributes: attributes({
            eventType: "digest",
            severity: digestSeverity(digest),
            account: digest.account,
            cluster: digest.cluster,
            alertId: digest.id,
          }),
          ...this.fifoFields(digest.id, `${digest.account ?? ""}/${digest.cluster ?? ""}`),
        }),
      );
      return true;
    } catch {
      return false;
    }
  }

  /** Entries packed into batches within PublishBatch's count and size limits. */
  private batches(events: readonly AlertEvent[]): { entry: PublishBatchRequestEntry; event: AlertEvent }[][] {
    const batches: { entry: PublishBatchRequestEntry; event: AlertEvent }[][] = [];
    let current: { entry: PublishBatchRequestEntry; event: AlertEvent }[] = [];
    let currentBytes = 0;
    for (const event of events) {
      const entry = this.entryFor(event);
      const bytes = entryBytes(entry);
      if (
        current.length === MAX_BATCH_ENTRIES ||
        (current.length > 0 && currentBytes + bytes > MAX_BATCH_BYTES)
      ) {
        batches.push(current);
        current = [];
        currentBytes = 0;
      }
      // Batch-local id (SNS allows only [A-Za-z0-9_-]); the stable alert id travels in the body.
      entry.Id = `e${current.length}`;
      current.push({ entry, event });
      currentBytes += bytes;
    }
    if (current.length > 0) batches.push(current);
    return batches;
  }

  private entryFor(event: AlertEvent): PublishBatchRequestEntry {
    const headline = alertHeadline(event);
    const body = JSON.stringify(alertMessageBody(event));
    const f = event.finding;
    return {
      Id: "",
      Subject: subjectLine(headline),
      MessageStructure: "json",
      Message: JSON.stringify(structuredMessage(headline, emailText(event), body)),
      MessageAttributes: attributes({
        // Resolved is not a page: its `severity` is info, so a severity filter (the pager's) drops it;
        // `findingSeverity` keeps what the exposure was for filters that want resolved alerts by it.
        // Resolved and de-escalated alerts are good news: low priority, never a page.
        severity: event.eventType === "resolved" || event.eventType === "de-escalated" ? "info" : f.severity,
        findingSeverity: f.severity,
        kind: f.kind,
        eventType: event.eventType,
        account: f.account,
        cluster: f.cluster,
        alertId: event.id,
      }),
      ...this.fifoFields(event.id, f.ip),
    };
  }

  /** FIFO topics: deduplicate a retried alert by its stable id; order per node IP. */
  private fifoFields(alertId: string, group: string) {
    if (!this.fifo) return {};
    return {
      MessageGroupId: safeText(group, 128).replace(/[^A-Za-z0-9_.:#-]/g, "_"),
      MessageDeduplicationId: createHash("sha256").update(alertId).digest("hex"),
    };
  }
}

/** One message per protocol; SNS picks the key matching each subscription. */
function structuredMessage(short: string, email: string, jsonBody: string): Record<string, string> {
  return {
    default: short,
    email,
    "email-json": jsonBody,
    sqs: jsonBody,
    lambda: jsonBody,
    http: jsonBody,
    https: jsonBody,
    firehose: jsonBody,
    sms: short,
  };
}

/** String attributes for filter policies; empty values are left out (SNS rejects them). */
function attributes(values: Record<string, string | undefined>): Record<string, MessageAttributeValue> {
  const out: Record<string, MessageAttributeValue> = {};
  for (const [name, value] of Object.entries(values)) {
    const text = value === undefined ? "" : safeText(value, 256);
    if (text) out[name] = { DataType: "String", StringValue: text };
  }
  return out;
}

function entryBytes(entry: PublishBatchRequestEntry): number {
  let bytes = Buffer.byteLength(entry.Message ?? "") + Buffer.byteLength(entry.Subject ?? "");
  for (const [name, value] of Object.entries(entry.MessageAttributes ?? {})) {
    bytes +=
      Buffer.byteLength(name) +
      Buffer.byteLength(value.DataType ?? "") +
      Buffer.byteLength(value.StringValue ?? "");
  }
  return bytes;
}
