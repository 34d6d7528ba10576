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
}

/** One exposure seen in this round. Identity = (ip, port); see `findingKey`. */
export interface Finding extends NodeContext {
  ip: string;
  /** A port, or for latent range findings the first port of `portSpec`. */
  port: number;
  /** For latent findings over a range (e.g. NodePorts), the SPEC; otherwise absent. */
  portSpec?: string;
  service: string;
  severity: Severity;
  kind: FindingKind;
  /** One line of proof, safe to print (no secrets). */
  evidence: string;
  /** How to fix it. */
  fix?: string;
}

export function findingKey(f: { ip: string; port: number; kind?: FindingKind }): string {
  // Latent findings live beside an open finding on the same port without colliding.
  return f.kind === "latent" ? `${f.ip}#${f.port}#latent` : `${f.ip}#${f.port}`;
}

export type AlertEventType = "new" | "resolved" | "round-failed";

/** What the state keeps per finding key, across rounds. */
export interface ExposureRecord extends Finding {
  key: string;
  status: "open" | "resolved";
  firstSeen: string;
  lastSeen: string;
  /** Consecutive complete scans that did not see it open (resolution needs N, default 2). */
  missedCompleteScans: number;
  /** Outbox: an alert that must still be accepted by the notifier. Cleared only after it is. */
  pendingAlert?: "new" | "resolved";
  lastAlertedAt?: string;
  /**
   * Store-owned: a publisher's claim on the pending alert (see StateStore.claimAlerts). Another
   * publisher may not send this alert until the claim's lease ends; a write that changes the
   * pending alert drops the claim.
   */
  alertClaim?: AlertClaim;
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
