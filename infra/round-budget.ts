import { InputError } from "../lib/errors/errors.ts";

/**
 * The round-duration arithmetic the construct refuses settings with (README "Round duration"),
 * from `npm run bench:fleet` figures (BENCHMARKS.md):
 *
 * - A node that drops everything costs each of its ports two timeouts of 500 ms (first pass and
 *   one retry), shared by the 900-socket budget: 2 x 0.5 s / 900 = 1.11 ms per port. It waits,
 *   it does not compute, so memory does not change it. 48 such nodes x 2,799 ports: 149 s
 *   predicted, 153 s measured. This is the worst case of a batch; answering nodes are faster
 *   (their timeout is learned, and with group timing their silent neighbours borrow it).
 * - CPU: ~32 us per port at a full vCPU (probes included); Lambda gives memory / 1,769 MB of a
 *   vCPU, so below ~128 MB this would dominate.
 * - A cold start: ~0.5 s of CPU (3.7 s measured at 256 MB).
 */
export const SILENT_SECONDS_PER_PORT = (2 * 0.5) / 900;
export const CPU_SECONDS_PER_PORT = 32e-6;
export const COLD_START_CPU_SECONDS = 0.5;
/** Discover and Notify around the Map, and the Map's own start (generous). */
export const ROUND_OVERHEAD_SECONDS = 60;
/** A batch must finish in this share of the Scan timeout (the stage keeps margins for probes and writes). */
export const BATCH_TIMEOUT_SHARE = 0.8;

export interface RoundBudgetInput {
  expectedNodes: number;
  targetsPerBatch: number;
  maxConcurrency: number;
  scannerMemoryMb: number;
  scannerTimeoutSeconds: number;
  /** Ports per node per round: the profile plus one coverage slice. */
  portsPerNode: number;
  /** The schedule period when known (`rate(...)`), else the round timeout. */
  roundBudgetSeconds: number;
}

/** Worst-case seconds of one Scan batch (all nodes silent, cold start included). */
export function batchSeconds(
  input: Pick<RoundBudgetInput, "targetsPerBatch" | "portsPerNode" | "scannerMemoryMb">,
): number {
  const cpuShare = Math.min(1, input.scannerMemoryMb / 1769);
  const perPort = Math.max(SILENT_SECONDS_PER_PORT, CPU_SECONDS_PER_PORT / cpuShare);
  return input.targetsPerBatch * input.portsPerNode * perPort + COLD_START_CPU_SECONDS / cpuShare;
}

/** Worst-case round: waves of `maxConcurrency` batches, one batch long each, plus Discover and Notify. */
export function roundSeconds(input: RoundBudgetInput): number {
  const waves = Math.ceil(Math.ceil(input.expectedNodes / input.targetsPerBatch) / input.maxConcurrency);
  return waves * batchSeconds(input) + ROUND_OVERHEAD_SECONDS;
}

/** Refuses settings whose worst-case batch or round cannot finish in time, naming the keys. */
export function checkRoundBudget(input: RoundBudgetInput): void {
  const batch = batchSeconds(input);
  const batchLimit = input.scannerTimeoutSeconds * BATCH_TIMEOUT_SHARE;
  if (batch > batchLimit) {
    const fits = Math.floor(
      (batchLimit - COLD_START_CPU_SECONDS) /
        (input.portsPerNode *
          Math.max(
            SILENT_SECONDS_PER_PORT,
            CPU_SECONDS_PER_PORT / Math.min(1, input.scannerMemoryMb / 1769),
          )),
    );
    throw new InputError(
      "targetsPerBatch",
      `${input.targetsPerBatch} nodes x ${input.portsPerNode} ports (ports + coverage slice) can take ~${Math.round(batch)} s when the nodes are silent, more than ${Math.round(BATCH_TIMEOUT_SHARE * 100)}% of scannerTimeout (${input.scannerTimeoutSeconds} s): use targetsPerBatch <= ${Math.max(1, fits)}, fewer ports or a longer scannerTimeout`,
    );
  }
  const round = roundSeconds(input);
  if (round > input.roundBudgetSeconds)
    throw new InputError(
      "expectedNodes",
      `a round over ${input.expectedNodes} nodes (targetsPerBatch ${input.targetsPerBatch}, maxConcurrency ${input.maxConcurrency}, ${input.portsPerNode} ports per node) can take ~${Math.round(round / 60)} min, more than the ${Math.round(input.roundBudgetSeconds / 60)} min the schedule and roundTimeout allow: raise maxConcurrency, scan fewer ports (ports, coveragePeriodHours) or schedule rounds further apart`,
    );
}
