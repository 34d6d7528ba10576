import type { Notifier, RoundSummary } from "../alerts/types.ts";
import { errorMessage } from "../errors/errors.ts";
import type { StateStore } from "../state/types.ts";
import { type NotifyOptions, type NotifyResult, notifyPending } from "./notify-stage.ts";
import type { TargetFailure } from "./scan-stage.ts";

/**
 * How a round ends, for the CLI (`runRound`, one process) and the Notify Lambda (after the
 * Distributed Map) alike: the sums, the completeness rule, the alerts and the stale-IP check.
 */

/** What one part of a round counted: the scan stage, one Map batch, discovery's cluster findings. */
export interface RoundTally {
  newExposures: number;
  resolved: number;
  openExposures: number;
  /** Scans that were incomplete or whose target failed: they resolved nothing. */
  incompleteScans?: number;
  failedTargets: readonly TargetFailure[];
}

/** A stage's result (findings as lists) as a tally (findings as counts). */
export function tallyOf(stage: {
  newExposures: readonly unknown[];
  resolved: readonly unknown[];
  openExposures: number;
  incompleteScans?: number;
  failedTargets: readonly TargetFailure[];
}): RoundTally {
  return {
    newExposures: stage.newExposures.length,
    resolved: stage.resolved.length,
    openExposures: stage.openExposures,
    ...(stage.incompleteScans !== undefined ? { incompleteScans: stage.incompleteScans } : {}),
    failedTargets: stage.failedTargets,
  };
}

export interface RoundFacts {
  roundId: string;
  startedAt: string;
  targets: number;
  /** Accounts/regions discovery could not read. */
  discoveryErrors: number;
  /** The scan fan-out itself failed (Step Functions caught a Map error). */
  fanOutFailed?: boolean;
}

export interface RoundOutcome {
  summary: RoundSummary;
  /** Every target the round could not record, in tally order. */
  failedTargets: TargetFailure[];
}

/**
 * The round's summary: tallies summed; complete only if discovery read every account, the fan-out
 * ran, no scan was incomplete and no target failed.
 */
export function summarizeRound(round: RoundFacts, tallies: readonly RoundTally[]): RoundOutcome {
  const sum = (pick: (t: RoundTally) => number) => tallies.reduce((n, t) => n + pick(t), 0);
  const failedTargets = tallies.flatMap((t) => t.failedTargets);
  const incompleteScans = sum((t) => t.incompleteScans ?? 0);
  const complete =
    !round.fanOutFailed && round.discoveryErrors === 0 && incompleteScans === 0 && failedTargets.length === 0;
  return {
    summary: {
      roundId: round.roundId,
      startedAt: round.startedAt,
      targets: round.targets,
      complete,
      newExposures: sum((t) => t.newExposures),
      resolved: sum((t) => t.resolved),
      openExposures: sum((t) => t.openExposures),
      incompleteScans,
    },
    failedTargets,
  };
}

/** At most this many stale IPs are listed per round (they are for a person to look at). */
export const MAX_STALE_IPS = 100;

/** IPs with stored history that this round's discovery (targets and cluster ids) no longer lists. */
export async function staleIps(store: StateStore, known: Iterable<string>): Promise<string[]> {
  const listed = new Set(known);
  return (await store.listIps()).filter((ip) => !listed.has(ip)).slice(0, MAX_STALE_IPS);
}

export interface FinishOptions {
  now?: () => Date;
  /**
   * Every id this round's discovery listed (target IPs and cluster finding ids). Absent when the
   * round did not discover (`--targets`): then no stale-IP check.
   */
  knownIds?: () => Promise<Iterable<string>>;
  /** How the outbox is drained (a pass's deadline and cursor, baseline digests, the claim owner). */
  notify?: Omit<NotifyOptions, "now" | "failedTargets">;
}

export interface FinishedRound extends RoundOutcome {
  alerts: NotifyResult;
  /** Present when `knownIds` was given; empty when discovery was incomplete (it proves nothing). */
  staleIps?: string[];
  /** Why the stale-IP check was skipped (the alerts went out regardless). */
  staleCheckError?: string;
}

/** Sums the round, publishes its pending alerts and summary, then lists stale IPs. */
export async function finishRound(
  deps: { store: StateStore; notifier: Notifier },
  round: RoundFacts,
  tallies: readonly RoundTally[],
  options: FinishOptions = {},
): Promise<FinishedRound> {
  const outcome = summarizeRound(round, tallies);
  const alerts = await notifyPending(deps, outcome.summary, {
    ...options.notify,
    ...(options.now ? { now: options.now } : {}),
    failedTargets: outcome.failedTargets,
  });
  // The stale-IP check belongs to the last pass, and needs a store that answers.
  if (!options.knownIds || alerts.more || alerts.storeError !== undefined) return { ...outcome, alerts };
  if (round.discoveryErrors > 0) return { ...outcome, alerts, staleIps: [] };
  try {
    return { ...outcome, alerts, staleIps: await staleIps(deps.store, await options.knownIds()) };
  } catch (error) {
    return { ...outcome, alerts, staleIps: [], staleCheckError: errorMessage(error) };
  }
}
