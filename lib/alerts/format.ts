import { isIP } from "node:net";
import { catalogEntryFor } from "../catalog/kubernetes-ports.ts";
import { serviceFacts } from "../catalog/services.ts";
import type {
  AlertEvent,
  AlertEventType,
  ChangeCause,
  Finding,
  FindingKind,
  NodeContext,
} from "../findings/types.ts";
import { redactSecrets, safeText, sanitizeDeep } from "../text/sanitize.ts";
import type { RoundSummary } from "./types.ts";

/**
 * The wording of every alert, shared by the console and SNS (email, default, JSON body) so a
 * finding reads the same wherever it lands. Every text that came from outside (evidence, error
 * messages, names) passes through `safeText`: one line, bounded, obvious secrets redacted.
 */

/** Version of the JSON body sent to sqs/lambda/https/email-json subscribers. Bump on breaking change. */
export const ALERT_SCHEMA_VERSION = 1;

/** The JSON body of one alert (`eventType` new/resolved/round-failed). */
export interface AlertMessageV1 {
  schemaVersion: typeof ALERT_SCHEMA_VERSION;
  /** Stable across retries: a consumer that has seen this id has seen this alert. */
  id: string;
  eventType: AlertEventType;
  at: string;
  firstSeen?: string;
  headline: string;
  finding: Finding;
  whyItMatters: string;
  fix: string;
  message?: string;
  /** Event-driven rescans: the change that caused it (sanitised). */
  cause?: ChangeCause;
}

/** The JSON body of a round summary. */
export interface RoundSummaryMessageV1 {
  schemaVersion: typeof ALERT_SCHEMA_VERSION;
  id: string;
  eventType: "round-summary";
  headline: string;
  summary: RoundSummary;
}

const MAX_EVIDENCE_CHARS = 500;
const MAX_NAME_CHARS = 120;

// One sanitiser for every output (lib/text/sanitize.ts); re-exported for the alert formatters.
export { redactSecrets, safeText };

/**
 * `127.0.2.1:10250`, `[::1]:10250`, `127.0.2.1:30000-32767` for a latent range, or for a
 * cluster-level finding (stored under an id, not an IP) `cluster prod:443`.
 */
export function endpointText(finding: Pick<Finding, "ip" | "port" | "portSpec" | "cluster">): string {
  const version = isIP(finding.ip);
  const host =
    version === 6
      ? `[${finding.ip}]`
      : version === 4
        ? finding.ip
        : `cluster ${safeText(finding.cluster ?? finding.ip, MAX_NAME_CHARS)}`;
  return `${host}:${finding.portSpec ?? finding.port}`;
}

/** `account 111122223333, region eu-west-1, cluster prod, node i-0abc`; empty when nothing is known. */
export function whereText(context: NodeContext): string {
  // The node's Name tag, when it has one, is what people call it.
  const nodeName = context.tags?.Name ? safeText(context.tags.Name, MAX_NAME_CHARS) : "";
  const parts: [string, string | undefined][] = [
    ["account", context.account],
    ["region", context.region],
    ["cluster", context.cluster],
    ["node", context.instanceId && nodeName ? `${context.instanceId} (${nodeName})` : context.instanceId],
  ];
  return parts
    .filter(([, value]) => value)
    .map(([label, value]) => `${label} ${safeText(value ?? "", MAX_NAME_CHARS)}`)
    .join(", ");
}

const KIND_TITLE: Record<FindingKind, string> = {
  exposed: "exposure",
  unexplained: "unexplained open port",
  latent: "latent exposure",
};

const KIND_MEANING: Record<FindingKind, string> = {
  exposed: "A security group allows this port from the internet and it answered a connection from outside.",
  unexplained:
    "It answered from outside although no security-group rule portwarden knows of allows it: the IP may now belong to someone else, or another path (another security group, a load balancer, a NACL change) exposes it. Worth a look.",
  latent:
    "Nothing listens yet, but a security group opens it to the whole internet: the next service bound here (a forgotten debug NodePort, say) is public the moment it starts.",
};

/** `CRITICAL new exposure: kubelet on 127.0.2.1:10250` — the one-line gist, used everywhere. */
export function alertHeadline(event: AlertEvent): string {
  const f = event.finding;
  const expected =
    f.expected && f.expected !== f.service ? ` (expected ${safeText(f.expected, MAX_NAME_CHARS)})` : "";
  const service = `${safeText(f.service || "unknown service", MAX_NAME_CHARS)}`;
  const where = `${endpointText(f)}${expected}`;
  switch (event.eventType) {
    case "new":
      return `${f.severity.toUpperCase()} new ${KIND_TITLE[f.kind]}: ${service} on ${where}`;
    case "escalated":
      return `${f.severity.toUpperCase()} escalated ${KIND_TITLE[f.kind]}: ${service} on ${where}`;
    case "de-escalated":
      return `DE-ESCALATED ${KIND_TITLE[f.kind]}: ${service} on ${where} (now ${f.severity})`;
    case "resolved":
      return `RESOLVED ${KIND_TITLE[f.kind]}: ${service} on ${where} (was ${f.severity})`;
    case "round-failed":
      return `ROUND FAILED for ${where}: ${safeText(event.message ?? "no detail", 200)}`;
  }
}

/** Why the reader should care: what the service gives an attacker, and what the kind means. */
export function whyItMatters(event: AlertEvent): string {
  const f = event.finding;
  if (event.eventType === "round-failed") {
    return "This target was not scanned completely, so exposures on it may go unnoticed until a round succeeds.";
  }
  if (event.eventType === "resolved") {
    return "portwarden no longer sees it open in consecutive complete scans; no action needed if this was intended.";
  }
  const change =
    event.eventType === "escalated"
      ? "A probe now proves a worse state than before. "
      : event.eventType === "de-escalated"
        ? "A probe now proves a better state than before (e.g. authentication turned back on). "
        : "";
  // What answered decides what it exposes, not the port number.
  const exposes = serviceFacts(f.service)?.exposes;
  return `${change}${exposes ? `${exposes} ` : ""}${KIND_MEANING[f.kind]}`;
}

export function fixText(finding: Finding): string {
  const fix = finding.fix ?? serviceFacts(finding.service)?.fix ?? catalogEntryFor(finding.port)?.fix;
  return safeText(
    fix ?? "Close the port or restrict its security-group rule to the addresses that need it.",
    600,
  );
}

/** `AuthorizeSecurityGroupIngress by arn:aws:sts::…:assumed-role/ops/alice at 2026-…Z`. */
export function causeText(cause: ChangeCause): string {
  return safeText(`${cause.eventName} by ${cause.actor} at ${cause.at}`, 300);
}

const EVENT_LABEL: Record<AlertEventType, string> = {
  new: "NEW",
  escalated: "ESCALATED",
  "de-escalated": "DE-ESCALATED",
  resolved: "RESOLVED",
  "round-failed": "FAILED",
};

/** A console line: severity, event, kind, endpoint, service, evidence, where (and the cause, if known). */
export function consoleLine(event: AlertEvent): string {
  const f = event.finding;
  const label = EVENT_LABEL[event.eventType];
  const detail =
    event.eventType === "round-failed"
      ? safeText(event.message ?? "round failed", MAX_EVIDENCE_CHARS)
      : safeText(f.evidence, MAX_EVIDENCE_CHARS);
  const where = whereText(f);
  // A resolved exposure is not at its old severity any more: it reads RESOLVED, the severity it had goes last.
  const resolved = event.eventType === "resolved";
  return [
    (resolved ? "RESOLVED" : f.severity.toUpperCase()).padEnd(8),
    (resolved ? "" : label).padEnd(8),
    f.kind.padEnd(11),
    endpointText(f).padEnd(21),
    safeText(f.service, MAX_NAME_CHARS).padEnd(18),
    resolved ? `${detail} (was ${f.severity})` : detail,
    where ? ` [${where}]` : "",
    event.cause ? ` (after ${causeText(event.cause)})` : "",
  ]
    .join(" ")
    .trimEnd();
}

/** The readable email: what, where, why it matters, evidence, how to fix, first seen. */
export function emailText(event: AlertEvent): string {
  const f = event.finding;
  const where = whereText(f);
  const lines = [
    alertHeadline(event),
    "",
    `What:           ${safeText(f.service, MAX_NAME_CHARS)} on port ${f.portSpec ?? f.port}/tcp, severity ${f.severity}, ${KIND_TITLE[f.kind]}${f.expected && f.expected !== f.service ? ` (the port catalogue expects ${safeText(f.expected, MAX_NAME_CHARS)} here)` : ""}`,
    `Where:          ${[where, isIP(f.ip) ? `IP ${f.ip}` : ""].filter(Boolean).join(", ")}`,
    `Why it matters: ${whyItMatters(event)}`,
    event.eventType === "round-failed"
      ? `What failed:    ${safeText(event.message ?? "no detail", MAX_EVIDENCE_CHARS)}`
      : `Evidence:       ${safeText(f.evidence, MAX_EVIDENCE_CHARS)}`,
  ];
  if (event.eventType === "new" || event.eventType === "escalated")
    lines.push(`How to fix:     ${fixText(f)}`);
  if (event.cause) lines.push(`Caused by:      ${causeText(event.cause)}`);
  if (event.firstSeen) lines.push(`First seen:     ${event.firstSeen}`);
  lines.push(`Reported at:    ${event.at}`, `Alert id:       ${event.id}`, "");
  lines.push(
    "portwarden scans your cluster nodes from the internet's side and alerts once per new exposure;",
    "an exposure that stays open is not alerted again.",
  );
  return lines.join("\n");
}

/** SNS Subject: printable ASCII (SNS refuses anything else), no newlines, under 100 characters. */
export function subjectLine(text: string): string {
  const ascii = safeText(`portwarden: ${text}`, 1000)
    .normalize("NFKD")
    .replace(/[^\x20-\x7e]+/g, "")
    .replace(/\s+/g, " ")
    .trim();
  return ascii.length < 100 ? ascii : `${ascii.slice(0, 96)}...`;
}

export function alertMessageBody(event: AlertEvent): AlertMessageV1 {
  const f = event.finding;
  const finding: Finding = {
    ...f,
    service: safeText(f.service, MAX_NAME_CHARS),
    evidence: safeText(f.evidence, MAX_EVIDENCE_CHARS),
    fix: fixText(f),
  };
  // Every string of the body (context fields too) through the one sanitiser.
  return sanitizeDeep({
    schemaVersion: ALERT_SCHEMA_VERSION,
    id: event.id,
    eventType: event.eventType,
    at: event.at,
    ...(event.firstSeen ? { firstSeen: event.firstSeen } : {}),
    headline: alertHeadline(event),
    finding,
    whyItMatters: whyItMatters(event),
    fix: finding.fix ?? "",
    ...(event.message ? { message: safeText(event.message, MAX_EVIDENCE_CHARS) } : {}),
    ...(event.cause ? { cause: safeCause(event.cause) } : {}),
  });
}

function safeCause(cause: ChangeCause): ChangeCause {
  return {
    eventName: safeText(cause.eventName, MAX_NAME_CHARS),
    actor: safeText(cause.actor, 300),
    at: safeText(cause.at, 64),
    ...(cause.account ? { account: safeText(cause.account, 64) } : {}),
    ...(cause.region ? { region: safeText(cause.region, 64) } : {}),
  };
}

/** `round r-1: 3 targets, complete, 1 new, 0 resolved, 7 open` (+ incomplete scans when any). */
export function summaryLine(summary: RoundSummary): string {
  const parts = [
    `${summary.targets} target${summary.targets === 1 ? "" : "s"}`,
    summary.complete ? "complete" : "INCOMPLETE",
    `${summary.newExposures} new`,
    `${summary.resolved} resolved`,
    `${summary.openExposures} open`,
  ];
  if (summary.incompleteScans > 0) parts.push(`${summary.incompleteScans} incomplete scans`);
  return `round ${safeText(summary.roundId, MAX_NAME_CHARS)}: ${parts.join(", ")}`;
}

export function summaryMessageBody(summary: RoundSummary): RoundSummaryMessageV1 {
  return {
    schemaVersion: ALERT_SCHEMA_VERSION,
    id: `round#${summary.roundId}`,
    eventType: "round-summary",
    headline: summaryLine(summary),
    summary,
  };
}
