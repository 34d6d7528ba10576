import { randomBytes } from "node:crypto";
import type { DigestEvent } from "../alerts/digest.ts";
import type { Notifier, RoundSummary } from "../alerts/types.ts";
import { type Severity, severityRank } from "../catalog/severity.ts";
import { errorMessage } from "../errors/errors.ts";
import { findingOf } from "../findings/diff.ts";
import type { AlertEvent, ExposureRecord, Finding } from "../findings/types.ts";
import { pendingAlertId } from "../state/stored-record.ts";
import type { StateStore } from "../state/types.ts";
import type { TargetFailure } from "./scan-stage.ts";

/**
 * A stable id per alert: the same pending alert gets the same id in every retry, so a consumer
 * (or a FIFO topic) can recognise a repeat; a different alert about the same port gets another.
 */
export function alertId(record: ExposureRecord): string {
  return pendingAlertId(record) ?? `${record.key}|none`;
}

/** The outbox record as a notifier event. */
export function alertEventFor(record: ExposureRecord, at: string): AlertEvent {
  return {
    id: alertId(record),
    eventType: record.pendingAlert ?? "new",
    finding: findingOf(record),
    firstSeen: record.firstSeen,
    at,
  };
}

/**
 * The baseline round: instead of one alert per new exposure, one digest per cluster with the
 * counts and the worst findings; the alerts it stands for are recorded as sent without paging.
 */
export interface BaselinePolicy {
  /** The first round that finds something in a cluster: more new alerts than this → a digest. */
  firstRoundAbove: number;
  /** Any round: more new alerts in one cluster (or among targets without one) → a digest. */
  above: number;
  /** Worst findings listed in a digest. */
  worst: number;
}

export const DEFAULT_BASELINE_POLICY: BaselinePolicy = { firstRoundAbove: 3, above: 20, worst: 10 };

export interface NotifyOptions {
  now?: () => Date;
  /**
   * Targets this round could not record: each becomes a best-effort "round-failed" alert (not kept
   * in the outbox: the next round either succeeds or reports the failure again). Sent by the first
   * pass only (no `cursor`).
   */
  failedTargets?: readonly TargetFailure[];
  /** Who claims the alerts (unique per publisher). Default: `<round id>/<random>`. */
  owner?: string;
  /** Epoch ms after which no new publish batch starts: the pass returns `more: true`. */
  deadline?: number;
  /** Continue a drain where the previous pass stopped. */
  cursor?: string;
  /**
   * False for the passes after the first (the Notify loop): round-failed alerts and digests
   * belong to the first pass only. Default: true unless a cursor is given.
   */
  firstPass?: boolean;
  /** How long a claim protects an alert being published. Default: 5 minutes. */
  leaseMs?: number;
  /** Outbox records read per page (at least the notifier's batch size). Default: the store's `outboxPageSize`, else 100. */
  pageSize?: number;
  /** Baseline digests; false turns them off. Default: DEFAULT_BASELINE_POLICY. */
  baseline?: Partial<BaselinePolicy> | false;
}

export interface NotifyResult {
  /** Alerts the notifier accepted (and that were marked sent). */
  published: number;
  /** Alerts the notifier refused or could not be asked: they stay pending. */
  failed: number;
  /** Alerts recorded as sent because a digest stands for them. */
  recorded: number;
  /** Digests sent. */
  digests: number;
  /** Alerts another publisher holds (or that changed since read): left to it / the next pass. */
  skipped: number;
  /** True: stopped at the deadline with alerts left; call again with `cursor`. */
  more: boolean;
  cursor?: string;
  publishError?: string;
  /** The state store failed: what was not done stays pending; a round-failed alert was attempted. */
  storeError?: string;
}

/** Round-failed alerts sent one per target; more failures than this become one alert. */
const MAX_SEPARATE_FAILURE_ALERTS = 5;
/** A claim outlives any publish call and the Notify Lambda's 2-minute timeout. */
const DEFAULT_LEASE_MS = 3 * 60_000;
const DEFAULT_PAGE_SIZE = 100;
/** Count-pass pages are larger: only counts and a few worst findings are kept. */
const COUNT_PAGE_SIZE = 500;

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

/** One alert per failed target, or one for all of them when many failed (a store outage). */
export function roundFailedEvents(
  failures: readonly TargetFailure[],
  roundId: string,
  at: string,
): AlertEvent[] {
  if (failures.length <= MAX_SEPARATE_FAILURE_ALERTS)
    return failures.map((f) => roundFailedEvent(f, roundId, at));
  const first = failures[0] as TargetFailure;
  return [
    roundFailedEvent(
      { ip: "*", error: `${failures.length} targets failed; first: ${first.ip}: ${first.error}` },
      roundId,
      at,
    ),
  ];
}

/** Resolved and de-escalated are low priority. */
const lowPriority = (r: ExposureRecord): boolean =>
  r.pendingAlert === "resolved" || r.pendingAlert === "de-escalated";

/** New and escalated before resolved and de-escalated, then most severe first. */
function byPriority(a: ExposureRecord, b: ExposureRecord): number {
  const typeOrder = Number(lowPriority(a)) - Number(lowPriority(b));
  return typeOrder || severityRank(a.severity) - severityRank(b.severity) || a.key.localeCompare(b.key);
}

/** A digest group: one cluster of one account, or `|` for targets without a cluster. */
function groupOf(record: Pick<Finding, "account" | "cluster">): string {
  return `${record.account ?? ""}|${record.cluster ?? ""}`;
}

/** The mark recording up to when (firstSeen, ISO) a group's new alerts are covered by a digest. */
function digestMarkName(group: string): string {
  return `digest:${group}`;
}

interface GroupCount {
  account?: string;
  cluster?: string;
  alerts: number;
  bySeverity: Partial<Record<Severity, number>>;
  worst: ExposureRecord[];
  latestFirstSeen: string;
}

/** Pass 1 of a drain: new alerts per group with their worst few, in bounded memory. */
async function countNewAlerts(store: StateStore, worst: number): Promise<Map<string, GroupCount>> {
  const groups = new Map<string, GroupCount>();
  let cursor: string | undefined;
  do {
    const page = await store.pendingAlertPage({ limit: COUNT_PAGE_SIZE, ...(cursor ? { cursor } : {}) });
    for (const record of page.records) {
      if (record.pendingAlert !== "new") continue;
      const name = groupOf(record);
      let group = groups.get(name);
      if (!group) {
        group = {
          ...(record.account ? { account: record.account } : {}),
          ...(record.cluster ? { cluster: record.cluster } : {}),
          alerts: 0,
          bySeverity: {},
          worst: [],
          latestFirstSeen: "",
        };
        groups.set(name, group);
      }
      group.alerts += 1;
      group.bySeverity[record.severity] = (group.bySeverity[record.severity] ?? 0) + 1;
      if (record.firstSeen > group.latestFirstSeen) group.latestFirstSeen = record.firstSeen;
      group.worst.push(record);
      if (group.worst.length > worst * 2) group.worst = group.worst.sort(byPriority).slice(0, worst);
    }
    cursor = page.cursor;
  } while (cursor);
  for (const group of groups.values()) group.worst = group.worst.sort(byPriority).slice(0, worst);
  return groups;
}

interface DrainState {
  published: number;
  failed: number;
  recorded: number;
  digests: number;
  skipped: number;
  publishError?: string;
}

/**
 * Decides and sends the digests of this drain. Returns the groups whose new alerts must wait
 * (another publisher is sending their digest, or ours failed): they are neither paged nor recorded.
 */
async function sendDigests(
  deps: { store: StateStore; notifier: Notifier },
  policy: BaselinePolicy,
  context: { owner: string; roundId: string; at: string; nowMs: number; leaseMs: number },
  state: DrainState,
  marks: Map<string, string>,
): Promise<Set<string>> {
  const waiting = new Set<string>();
  const digest = deps.notifier.digest?.bind(deps.notifier);
  if (!digest) return waiting;
  const groups = await countNewAlerts(deps.store, policy.worst);
  for (const [name, group] of groups) {
    const mark = marks.get(digestMarkName(name));
    if (mark !== undefined && mark >= group.latestFirstSeen) continue; // a digest already covers them all
    const firstRound = group.cluster !== undefined && mark === undefined;
    const reason =
      firstRound && group.alerts > policy.firstRoundAbove
        ? "first-round"
        : group.alerts > policy.above
          ? "threshold"
          : undefined;
    if (!reason) {
      // Sent one by one; a cluster's first round is over once it found something.
      if (firstRound) {
        await deps.store.writeMark(digestMarkName(name), "");
        marks.set(digestMarkName(name), "");
      }
      continue;
    }
    const lease = { owner: context.owner, now: context.nowMs, leaseMs: context.leaseMs };
    if (!(await deps.store.acquireLease(digestMarkName(name), lease))) {
      waiting.add(name);
      continue;
    }
    try {
      // Another publisher may have finished this digest between our count and our lease.
      const fresh = (await deps.store.readMarks()).get(digestMarkName(name));
      if (fresh !== undefined && fresh >= group.latestFirstSeen) {
        marks.set(digestMarkName(name), fresh);
        continue;
      }
      const event: DigestEvent = {
        id: `digest|${name}|${context.roundId}`,
        ...(group.account ? { account: group.account } : {}),
        ...(group.cluster ? { cluster: group.cluster } : {}),
        reason,
        alerts: group.alerts,
        bySeverity: group.bySeverity,
        worst: group.worst.map(findingOf),
        at: context.at,
      };
      if (!(await digest(event))) {
        state.failed += group.alerts;
        state.publishError ??= "the digest was not accepted";
        waiting.add(name);
        continue;
      }
      state.digests += 1;
      // Covers every new alert of the group first seen up to the newest one counted.
      await deps.store.writeMark(digestMarkName(name), group.latestFirstSeen);
      marks.set(digestMarkName(name), group.latestFirstSeen);
    } finally {
      await deps.store.releaseLease(digestMarkName(name), context.owner);
    }
  }
  return waiting;
}

/**
 * Drains the outbox: page by page (bounded memory), per publish batch claim → publish → mark what
 * the notifier accepted → release what it refused. Alerts a digest stands for are claimed and
 * marked without publishing. Stops at the deadline with `more: true` and a cursor to go on from.
 */
async function drainOutbox(
  deps: { store: StateStore; notifier: Notifier },
  options: {
    owner: string;
    roundId: string;
    at: string;
    deadline?: number;
    cursor?: string;
    firstPass: boolean;
    leaseMs: number;
    pageSize?: number;
    baseline: BaselinePolicy | false;
  },
  state: DrainState,
): Promise<{ more: boolean; cursor?: string }> {
  const { store, notifier } = deps;
  const batchSize = Math.max(1, notifier.batchSize ?? 10);
  const pageSize = Math.max(batchSize, options.pageSize ?? store.outboxPageSize ?? DEFAULT_PAGE_SIZE);
  const lease = () => ({ owner: options.owner, now: Date.now(), leaseMs: options.leaseMs });
  const marks = await store.readMarks();
  const waiting =
    options.baseline && options.firstPass
      ? await sendDigests(deps, options.baseline, { ...options, nowMs: Date.now() }, state, marks)
      : new Set<string>();
  const coveredByDigest = (record: ExposureRecord) => {
    if (record.pendingAlert !== "new") return false;
    const mark = marks.get(digestMarkName(groupOf(record)));
    return mark !== undefined && mark !== "" && record.firstSeen <= mark;
  };

  let cursor = options.cursor;
  for (;;) {
    if (options.deadline !== undefined && Date.now() >= options.deadline)
      return { more: true, ...(cursor ? { cursor } : {}) };
    const page = await store.pendingAlertPage({ limit: pageSize, ...(cursor ? { cursor } : {}) });
    const records = page.records.sort(byPriority);
    const silent: ExposureRecord[] = [];
    const loud: ExposureRecord[] = [];
    for (const record of records) {
      if (record.pendingAlert === "new" && waiting.has(groupOf(record))) state.skipped += 1;
      else if (coveredByDigest(record)) silent.push(record);
      else loud.push(record);
    }
    if (silent.length > 0) {
      const claimed = await store.claimAlerts(silent, lease());
      state.skipped += silent.length - claimed.length;
      await store.markAlerted(claimed, options.at);
      state.recorded += claimed.length;
    }
    for (let i = 0; i < loud.length; i += batchSize) {
      if (options.deadline !== undefined && Date.now() >= options.deadline)
        // This page again next pass: what was done here is no longer pending (or is claimed).
        return { more: true, ...(cursor ? { cursor } : {}) };
      const claimed = await store.claimAlerts(loud.slice(i, i + batchSize), lease());
      state.skipped += Math.min(batchSize, loud.length - i) - claimed.length;
      if (claimed.length === 0) continue;
      const byId = new Map(claimed.map((r) => [alertId(r), r]));
      let accepted: ExposureRecord[] = [];
      let threw = false;
      try {
        const outcome = await notifier.publish(claimed.map((r) => alertEventFor(r, options.at)));
        accepted = outcome.accepted.flatMap((id) => byId.get(id) ?? []);
        if (outcome.failed.length > 0) state.publishError ??= outcome.failed[0]?.error;
      } catch (error) {
        threw = true;
        state.publishError = errorMessage(error);
      }
      // Marked right after the channel accepted them: a crash from here on repeats nothing.
      await store.markAlerted(accepted, options.at);
      state.published += accepted.length;
      const refused = claimed.filter((r) => !accepted.includes(r));
      if (refused.length > 0) {
        state.failed += refused.length;
        await store.releaseAlerts(refused);
      }
      // The channel is down (a whole batch refused): the rest waits in the outbox for the next round.
      if (accepted.length === 0 && (threw || claimed.length > 1)) return { more: false };
    }
    if (!page.cursor) return { more: false };
    cursor = page.cursor;
  }
}

/**
 * The notify stage: sends round-failed alerts (first pass), drains the outbox (claim, publish,
 * mark per batch; digests for baseline rounds), then (last pass) the round summary. A state
 * store failure does not hide the round: the failure is published as a round-failed alert.
 */
export async function notifyPending(
  deps: { store: StateStore; notifier: Notifier },
  summary: RoundSummary,
  options: NotifyOptions = {},
): Promise<NotifyResult> {
  const now = options.now ?? (() => new Date());
  const at = now().toISOString();
  const state: DrainState = { published: 0, failed: 0, recorded: 0, digests: 0, skipped: 0 };
  const firstPass = options.firstPass ?? options.cursor === undefined;
  const failures = firstPass ? roundFailedEvents(options.failedTargets ?? [], summary.roundId, at) : [];
  if (failures.length > 0) {
    try {
      await deps.notifier.publish(failures);
    } catch {
      // Best effort: the round's own result (exit status, Step Functions) still reports them.
    }
  }
  let drained: { more: boolean; cursor?: string } = { more: false };
  let storeError: string | undefined;
  try {
    drained = await drainOutbox(
      deps,
      {
        owner: options.owner ?? `${summary.roundId}/${randomBytes(4).toString("hex")}`,
        roundId: summary.roundId,
        at,
        ...(options.deadline !== undefined ? { deadline: options.deadline } : {}),
        ...(options.cursor !== undefined ? { cursor: options.cursor } : {}),
        firstPass,
        leaseMs: options.leaseMs ?? DEFAULT_LEASE_MS,
        ...(options.pageSize !== undefined ? { pageSize: options.pageSize } : {}),
        baseline: options.baseline === false ? false : { ...DEFAULT_BASELINE_POLICY, ...options.baseline },
      },
      state,
    );
  } catch (error) {
    storeError = errorMessage(error);
    try {
      await deps.notifier.publish([
        roundFailedEvent({ ip: "state", error: `state store failed: ${storeError}` }, summary.roundId, at),
      ]);
    } catch {
      // Nothing more we can do from here; the caller reports storeError.
    }
  }
  if (!drained.more) await deps.notifier.summary(summary);
  return {
    published: state.published,
    failed: state.failed,
    recorded: state.recorded,
    digests: state.digests,
    skipped: state.skipped,
    more: drained.more,
    ...(drained.cursor !== undefined ? { cursor: drained.cursor } : {}),
    ...(state.publishError !== undefined ? { publishError: state.publishError } : {}),
    ...(storeError !== undefined ? { storeError } : {}),
  };
}
