import { SEVERITIES, type Severity } from "../catalog/severity.ts";
import type { Finding } from "../findings/types.ts";
import { ALERT_SCHEMA_VERSION, consoleLine, endpointText, safeText, whereText } from "./format.ts";

/**
 * A baseline digest: one message per cluster instead of one per new exposure, for a cluster's
 * first round that finds something (everything it finds is "new") or a round whose new alerts
 * exceed a threshold. The alerts it stands for are recorded as sent without paging anyone.
 */
export interface DigestEvent {
  /** `digest|<account>|<cluster>|<round id>`: stable for one round's digest of one cluster. */
  id: string;
  account?: string;
  cluster?: string;
  reason: "first-round" | "threshold";
  /** New alerts the digest stands for. */
  alerts: number;
  bySeverity: Partial<Record<Severity, number>>;
  /** The most severe of them (at most the policy's `worst`), most severe first. */
  worst: Finding[];
  at: string;
}

/** The JSON body of a digest (`eventType: "digest"`, schemaVersion 1 like every alert body). */
export interface DigestMessageV1 {
  schemaVersion: typeof ALERT_SCHEMA_VERSION;
  id: string;
  eventType: "digest";
  at: string;
  headline: string;
  digest: Omit<DigestEvent, "id" | "at">;
}

function clusterText(digest: DigestEvent): string {
  const where = whereText({
    ...(digest.account ? { account: digest.account } : {}),
    ...(digest.cluster ? { cluster: digest.cluster } : {}),
  });
  return where || "targets without a cluster";
}

function severityCounts(digest: DigestEvent): string {
  return SEVERITIES.filter((s) => digest.bySeverity[s])
    .map((s) => `${digest.bySeverity[s]} ${s}`)
    .join(", ");
}

/** The most severe level present: the digest's severity (what a pager filter sees). */
export function digestSeverity(digest: DigestEvent): Severity {
  return SEVERITIES.find((s) => digest.bySeverity[s]) ?? "info";
}

/** `BASELINE 137 new exposures (3 critical, 20 high, …) in account 1111…, cluster prod` */
export function digestHeadline(digest: DigestEvent): string {
  const what = `${digest.alerts} new exposure${digest.alerts === 1 ? "" : "s"}`;
  return `BASELINE ${what} (${severityCounts(digest)}) in ${clusterText(digest)}`;
}

export function digestConsoleLines(digest: DigestEvent): string[] {
  const lines = [
    `${digestSeverity(digest).toUpperCase().padEnd(8)} ${"DIGEST".padEnd(8)} ${digestHeadline(digest)}`,
  ];
  for (const finding of digest.worst)
    lines.push(`  ${consoleLine({ id: "", eventType: "new", finding, at: digest.at })}`);
  if (digest.alerts > digest.worst.length)
    lines.push(`  … and ${digest.alerts - digest.worst.length} more, recorded without separate alerts`);
  return lines;
}

export function digestEmailText(digest: DigestEvent): string {
  const why =
    digest.reason === "first-round"
      ? "This is the first round that found exposures in this cluster: they are listed here once instead of one alert each."
      : "This round found more new exposures in this cluster than the baseline threshold: they are summarised here instead of one alert each.";
  return [
    digestHeadline(digest),
    "",
    `Where:          ${clusterText(digest)}`,
    `Why one email:  ${why}`,
    `Severities:     ${severityCounts(digest)}`,
    "Worst findings:",
    ...digest.worst.map(
      (f) =>
        `  ${f.severity.toUpperCase()} ${f.kind} ${endpointText(f)} ${safeText(f.service, 120)}: ${safeText(f.evidence, 300)}`,
    ),
    ...(digest.alerts > digest.worst.length
      ? [
          `  … and ${digest.alerts - digest.worst.length} more (portwarden run --json or the state table lists them)`,
        ]
      : []),
    "",
    `Reported at:    ${digest.at}`,
    `Digest id:      ${digest.id}`,
    "",
    "Each of these is recorded as alerted: portwarden alerts again only on what changes from here on.",
  ].join("\n");
}

export function digestMessageBody(digest: DigestEvent): DigestMessageV1 {
  const { id, at, ...rest } = digest;
  return {
    schemaVersion: ALERT_SCHEMA_VERSION,
    id,
    eventType: "digest",
    at,
    headline: digestHeadline(digest),
    digest: {
      ...rest,
      ...(rest.account ? { account: safeText(rest.account, 120) } : {}),
      ...(rest.cluster ? { cluster: safeText(rest.cluster, 120) } : {}),
      worst: rest.worst.map((f) => ({
        ...f,
        service: safeText(f.service, 120),
        evidence: safeText(f.evidence, 500),
      })),
    },
  };
}
