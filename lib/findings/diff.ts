import { severityRank } from "../catalog/severity.ts";
import { sameTags } from "../discovery/node-tags.ts";
import type { PortSet } from "../ports/port-set.ts";
import {
  type ExposureRecord,
  type Finding,
  findingKey,
  HOST_FINDING_PORT,
  type PendingAlert,
} from "./types.ts";

/** How history turns into alerts. */
export interface DiffPolicy {
  /** Consecutive complete scans without the port open before it is resolved. Default 2. */
  resolveAfterScans: number;
  /** A port resolved and open again within this time is a flap: no second "new" alert. Default 24 h. */
  flapQuietMs: number;
  /** Still-open records refresh lastSeen at most this often, so a quiet round writes ~nothing. Default 6 h. */
  lastSeenRefreshMs: number;
  /** Queue a (lower-priority) "resolved" alert. Default true. */
  alertOnResolved: boolean;
}

export const DEFAULT_DIFF_POLICY: DiffPolicy = {
  resolveAfterScans: 2,
  flapQuietMs: 24 * 3600_000,
  lastSeenRefreshMs: 6 * 3600_000,
  alertOnResolved: true,
};

export interface DiffInput {
  /** Everything the store holds for this IP. */
  previous: readonly ExposureRecord[];
  /** This round's findings for this IP (after suppressions). */
  current: readonly Finding[];
  /** Findings an active suppression hides this round: their records close without an alert. */
  suppressed?: readonly Finding[];
  now: Date;
  /** False when any port's state is unknown: then nothing is resolved and no miss is counted. */
  scanComplete: boolean;
  /** Ports scanned this round; records outside it are not "missed". Undefined: every port counts. */
  scanned?: PortSet;
  /** False when this round had no security-group data (`--targets`): latent records are left alone. */
  sgKnown?: boolean;
  policy?: Partial<DiffPolicy>;
}

export interface DiffResult {
  /** Only the records that changed; unchanged ones keep their loaded version untouched. */
  writes: ExposureRecord[];
  /** Findings that queued a "new" alert. */
  newExposures: Finding[];
  /** Findings whose proven verdict got worse ("escalated" alert) or better ("de-escalated"). */
  escalated: Finding[];
  deEscalated: Finding[];
  /** Findings that queued (or, with alertOnResolved off, would have queued) a "resolved" alert. */
  resolved: Finding[];
  /** Records open after this round (all kinds). */
  open: ExposureRecord[];
}

/** The Finding part of a record (what alerts and reports carry). */
export function findingOf(record: ExposureRecord): Finding {
  const {
    key: _key,
    status: _status,
    firstSeen: _firstSeen,
    lastSeen: _lastSeen,
    missedCompleteScans: _missed,
    pendingAlert: _pending,
    lastAlertedAt: _alerted,
    alertClaim: _claim,
    verdictSince: _verdictSince,
    version: _version,
    ...finding
  } = record;
  return finding;
}

function materiallyChanged(record: ExposureRecord, finding: Finding): boolean {
  // Evidence wording may vary per round (pod counts); only what changes the alert's meaning counts.
  return (
    record.severity !== finding.severity ||
    record.kind !== finding.kind ||
    record.service !== finding.service ||
    record.basis !== finding.basis ||
    record.expected !== finding.expected ||
    record.portSpec !== finding.portSpec ||
    record.account !== finding.account ||
    record.cluster !== finding.cluster ||
    record.instanceId !== finding.instanceId ||
    !sameTags(record.tags, finding.tags)
  );
}

/**
 * This round's finding, or, when nothing could tell this round (`basis: "policy"`) and the record
 * holds a proven verdict, the finding with that verdict kept: a slow or silent probe never drops a
 * proven severity to a default, so the next round's proof is not an "escalation" either.
 */
function withStableVerdict(record: ExposureRecord, finding: Finding): Finding {
  if (finding.basis !== "policy" || record.basis === "policy" || record.kind !== finding.kind) return finding;
  const { service, expected, basis, severity, evidence, fix } = record;
  const { expected: _expected, basis: _basis, fix: _fix, ...where } = finding;
  return {
    ...where,
    service,
    severity,
    evidence,
    ...(expected !== undefined ? { expected } : {}),
    ...(basis !== undefined ? { basis } : {}),
    ...(fix !== undefined ? { fix } : {}),
  };
}

/**
 * What a changed verdict announces: proof of a worse state escalates, proof of a better one
 * de-escalates (low priority). An undelivered "new" stays "new": it goes out with the latest verdict.
 */
function verdictAlert(record: ExposureRecord, finding: Finding): PendingAlert | undefined {
  if (finding.basis === "policy") return undefined;
  const change = severityRank(record.severity) - severityRank(finding.severity);
  if (change === 0) return undefined;
  if (record.pendingAlert === "new") return "new";
  return change > 0 ? "escalated" : "de-escalated";
}

function withoutPending(record: ExposureRecord): ExposureRecord {
  const { pendingAlert: _dropped, ...rest } = record;
  return rest;
}

/**
 * Compares one IP's findings with its history (pure; no I/O):
 * - a finding with no record, or whose record was resolved longer than the flap quiet period ago,
 *   opens a record with a pending "new" alert (latent → exposed is new: they have different keys);
 * - a finding still open is written only when it changed materially, was being missed, or its
 *   lastSeen is older than the refresh interval; a round whose probe could not tell keeps the
 *   proven verdict; proof of a worse state queues "escalated", of a better one "de-escalated";
 * - an open record missing from N consecutive *complete* scans is resolved with a pending
 *   "resolved" alert; an incomplete scan neither resolves nor counts a miss;
 * - a suppressed finding, or a latent record superseded by a real open port, closes quietly.
 */
export function diffExposures(input: DiffInput): DiffResult {
  const policy = { ...DEFAULT_DIFF_POLICY, ...input.policy };
  const nowIso = input.now.toISOString();
  const nowMs = input.now.getTime();
  const previous = new Map(input.previous.map((r) => [r.key, r]));
  const currentKeys = new Set(input.current.map((f) => findingKey(f)));
  const suppressedKeys = new Set((input.suppressed ?? []).map((f) => findingKey(f)));
  const result: DiffResult = {
    writes: [],
    newExposures: [],
    escalated: [],
    deEscalated: [],
    resolved: [],
    open: [],
  };

  for (const current of input.current) {
    const key = findingKey(current);
    const record = previous.get(key);
    if (!record) {
      const created: ExposureRecord = {
        ...current,
        key,
        status: "open",
        firstSeen: nowIso,
        lastSeen: nowIso,
        missedCompleteScans: 0,
        pendingAlert: "new",
        verdictSince: nowIso,
        version: 0,
      };
      result.writes.push(created);
      result.newExposures.push(current);
      result.open.push(created);
      continue;
    }
    if (record.status === "resolved") {
      const flapping = nowMs - Date.parse(record.lastSeen) < policy.flapQuietMs;
      const finding = flapping ? withStableVerdict(record, current) : current;
      const { tags: _tagsBefore, ...kept } = withoutPending(record);
      const reopened: ExposureRecord = {
        ...kept,
        ...finding,
        status: "open",
        lastSeen: nowIso,
        missedCompleteScans: 0,
        // A flap neither alerts again nor sends the "resolved" that may still wait in the outbox.
        ...(flapping ? {} : { firstSeen: nowIso, pendingAlert: "new" as const, verdictSince: nowIso }),
      };
      result.writes.push(reopened);
      if (!flapping) result.newExposures.push(finding);
      result.open.push(reopened);
      continue;
    }
    const finding = withStableVerdict(record, current);
    const alert = verdictAlert(record, finding);
    const stale = nowMs - Date.parse(record.lastSeen) >= policy.lastSeenRefreshMs;
    if (materiallyChanged(record, finding) || record.missedCompleteScans > 0 || stale) {
      const verdictChanged = record.severity !== finding.severity || record.service !== finding.service;
      const { tags: _tagsBefore, ...kept } = record;
      const updated: ExposureRecord = {
        // The node's tags are this round's (a tag removed from the node leaves the record too).
        ...kept,
        ...finding,
        lastSeen: nowIso,
        missedCompleteScans: 0,
        ...(verdictChanged ? { verdictSince: nowIso } : {}),
        ...(alert ? { pendingAlert: alert } : {}),
      };
      result.writes.push(updated);
      if (alert === "escalated") result.escalated.push(finding);
      if (alert === "de-escalated") result.deEscalated.push(finding);
      result.open.push(updated);
    } else {
      result.open.push(record);
    }
  }

  for (const record of input.previous) {
    if (record.status !== "open" || currentKeys.has(record.key)) continue;
    const supersededLatent =
      record.kind === "latent" && currentKeys.has(findingKey({ ip: record.ip, port: record.port }));
    if (suppressedKeys.has(record.key) || supersededLatent) {
      // Silenced or replaced by a real exposure: close without a "resolved" alert (and drop an unsent "new").
      result.writes.push({ ...withoutPending(record), status: "resolved", missedCompleteScans: 0 });
      continue;
    }
    const notLookedAt =
      !input.scanComplete ||
      (input.scanned !== undefined && record.port !== HOST_FINDING_PORT && !input.scanned.has(record.port)) ||
      (record.kind === "latent" && input.sgKnown === false);
    if (notLookedAt) {
      result.open.push(record);
      continue;
    }
    const missed = record.missedCompleteScans + 1;
    if (missed < policy.resolveAfterScans) {
      const counted = { ...record, missedCompleteScans: missed };
      result.writes.push(counted);
      result.open.push(counted);
      continue;
    }
    // Never announced (its "new" is still in the outbox): nothing to take back, drop both.
    const neverAlerted =
      record.pendingAlert === "new" && (!record.lastAlertedAt || record.lastAlertedAt < record.firstSeen);
    result.writes.push({
      ...withoutPending(record),
      status: "resolved",
      missedCompleteScans: missed,
      ...(policy.alertOnResolved && !neverAlerted ? { pendingAlert: "resolved" as const } : {}),
    });
    result.resolved.push(findingOf(record));
  }
  return result;
}
