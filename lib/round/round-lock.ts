import { PortwardenError } from "../errors/errors.ts";
import type { StateStore } from "../state/types.ts";

/**
 * Deployed rounds never overlap: Discover takes this lease in the state store (owner: the round
 * id, for as long as a round may run) and the last Notify pass releases it. A second execution
 * started meanwhile (a manual start-execution, a cron schedule closer than the round timeout)
 * stops at Discover with RoundOverlapError, before scanning or alerting anything.
 */
export const ROUND_LOCK_NAME = "round";

export class RoundOverlapError extends PortwardenError {
  constructor(readonly roundId: string) {
    super(`another portwarden round holds the round lock; round ${roundId} did not start`);
  }
}

export async function takeRoundLock(store: StateStore, roundId: string, leaseMs: number): Promise<void> {
  if (!(await store.acquireLease(ROUND_LOCK_NAME, { owner: roundId, now: Date.now(), leaseMs })))
    throw new RoundOverlapError(roundId);
}

export async function releaseRoundLock(store: StateStore, roundId: string): Promise<void> {
  await store.releaseLease(ROUND_LOCK_NAME, roundId);
}
