import type { Severity } from "../catalog/severity.ts";

/**
 * - `exposed`: open, and a security group allows it from the internet;
 * - `unexplained`: open although no rule we know of allows it (stale IP, another path);
 * - `latent`: a security group opens a sensitive port/range to the world but nothing listens yet.
 */
export type FindingKind = "exposed" | "unexplained" | "latent";

/** Where a finding lives. All optional: `--targets` rounds know only the IP. */
export interface NodeContext {
  account?: string;
  region?: string;
  cluster?: string;
  instanceId?: string;
  /** The node's carried EC2 tags (bounded, sanitised: lib/discovery/node-tags.ts). */
  tags?: Record<string, string>;
}

/** One exposure seen in this round. Identity = (ip, port); see `findingKey`. */
export interface Finding extends NodeContext {
  ip: string;
  /** A port, or for latent range findings the first port of `portSpec`. */
  port: number;
  /** For latent findings over a range (e.g. NodePorts), the SPEC; otherwise absent. */
  portSpec?: string;
  /** What answered, identified by protocol (`docker`, `kubelet`, `http`…); `unknown` when nothing could tell. */
  service: string;
  /** The service the port catalogue expects on this port number, when it has an entry. */
  expected?: string;
  /**
   * `probe`: service and severity follow what a probe proved. `policy`: nothing could tell this
   * round, so the severity is the documented policy's; the diff keeps an earlier proven verdict.
   * Absent on latent findings and on records written before verdicts had a basis (read as `probe`).
   */
  basis?: "probe" | "policy";
  severity: Severity;
  kind: FindingKind;
  /** One line of proof, safe to print (no secrets). */
  evidence: string;
  /** How to fix it. */
  fix?: string;
}

/** The port of a host-level finding (a host answering every port): not a real port, never scanned. */
export const HOST_FINDING_PORT = 0;

export function findingKey(f: { ip: string; port: number; kind?: FindingKind }): string {
  // Latent findings live beside an open finding on the same port without colliding.
  return f.kind === "latent" ? `${f.ip}#${f.port}#latent` : `${f.ip}#${f.port}`;
}

/**
 * `escalated`: a probe proved a worse state of an open finding (its own alert, not "new");
 * `de-escalated`: proof of a better state (auth turned back on), alerted at low priority.
 */
export type AlertEventType = "new" | "escalated" | "de-escalated" | "resolved" | "round-failed";

/** What an open or resolved record may still have to announce (the outbox). */
export type PendingAlert = "new" | "escalated" | "de-escalated" | "resolved";

/** What the state keeps per finding key, across rounds. */
export interface ExposureRecord extends Finding {
  key: string;
  status: "open" | "resolved";
  firstSeen: string;
  lastSeen: string;
  /** Consecutive complete scans that did not see it open (resolution needs N, default 2). */
  missedCompleteScans: number;
  /** Outbox: an alert that must still be accepted by the notifier. Cleared only after it is. */
  pendingAlert?: PendingAlert;
  lastAlertedAt?: string;
  /**
   * Store-owned: a publisher's claim on the pending alert (see StateStore.claimAlerts). Another
   * publisher may not send this alert until the claim's lease ends; a write that changes the
   * pending alert drops the claim.
   */
  alertClaim?: AlertClaim;
  /** When the current proven verdict (service + severity) was first seen; ids escalation alerts. */
  verdictSince?: string;
  /** Optimistic concurrency: stores write conditionally on the version they loaded. */
  version: number;
}

/** Who is publishing a pending alert, which one (its alert id), and until when (epoch ms). */
export interface AlertClaim {
  owner: string;
  alertId: string;
  until: number;
}

/** One message for the notifier. `id` is stable so a retried publish is recognisably the same. */
export interface AlertEvent {
  id: string;
  eventType: AlertEventType;
  finding: Finding;
  firstSeen?: string;
  at: string;
  /** For round-failed: what failed (sanitised). */
  message?: string;
  /** Event-driven rounds: the AWS change (CloudTrail event) after which this exposure appeared. */
  cause?: ChangeCause;
}

/** Who changed what, when: from the CloudTrail event that started an event-driven rescan. */
export interface ChangeCause {
  /** CloudTrail `eventName`, e.g. `AuthorizeSecurityGroupIngress`. */
  eventName: string;
  /** `userIdentity.arn` (or the principal id / invoking service when there is no ARN). */
  actor: string;
  /** `eventTime`. */
  at: string;
  /** The member account and region the change was made in. */
  account?: string;
  region?: string;
}
