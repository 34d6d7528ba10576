import { z } from "zod";
import { InputError } from "../errors/errors.ts";
import { MAX_PORT, MIN_PORT, PortSet } from "../ports/port-set.ts";

/**
 * Coverage scheduling: every round scans the profile (e.g. `kubernetes`) plus the ports a security
 * group opens to the world; the rest of 1-65535 is split into `slices` contiguous slices and each
 * round adds the slice scanned longest ago. With hourly rounds and 24 slices every node's full range
 * is covered once a day for ~1/24 of what `ports=all` costs every hour.
 *
 * The record is one small JSON document kept beside the state (the file store's directory, or the
 * round bucket in AWS), not in the exposure table: it is about rounds, not about IPs.
 */
export const MAX_COVERAGE_SLICES = 1000;

export const coverageRecordSchema = z.object({
  schemaVersion: z.literal(1),
  slices: z.number().int().min(1).max(MAX_COVERAGE_SLICES),
  /** Per slice: when a round last scanned it (ISO time), the round's id, and whether every scan was complete. */
  lastCovered: z.array(
    z.union([
      z.null(),
      z.object({ at: z.iso.datetime(), roundId: z.string().max(80), complete: z.boolean().optional() }),
    ]),
  ),
});
export type CoverageRecord = z.infer<typeof coverageRecordSchema>;
export type SliceCoverage = NonNullable<CoverageRecord["lastCovered"][number]>;

/** Where the coverage record lives (file beside the state file, or S3). */
export interface CoverageStore {
  load(): Promise<CoverageRecord | undefined>;
  save(record: CoverageRecord): Promise<void>;
}

export function validateSliceCount(slices: number, field: string): number {
  if (!Number.isInteger(slices) || slices < 1 || slices > MAX_COVERAGE_SLICES)
    throw new InputError(field, `${slices} is not a whole number of slices from 1 to ${MAX_COVERAGE_SLICES}`);
  return slices;
}

/** Slice `index` of `count`: contiguous, sizes differ by at most one, together exactly 1-65535. */
export function coverageSlice(index: number, count: number): PortSet {
  const total = MAX_PORT - MIN_PORT + 1;
  const from = MIN_PORT + Math.floor((index * total) / count);
  const to = MIN_PORT + Math.floor(((index + 1) * total) / count) - 1;
  return PortSet.fromRanges([{ from, to }]);
}

export interface CoveragePlan {
  slice: number;
  ports: PortSet;
  /** The record with this round's slice stamped (save it once the round has run). */
  record: CoverageRecord;
}

/**
 * The slice this round adds: never scanned first, then the one scanned longest ago (ties: lowest
 * index). A record made for another slice count starts over: its slices are different port ranges.
 */
export function planCoverage(
  previous: CoverageRecord | undefined,
  slices: number,
  roundId: string,
  now: Date,
): CoveragePlan {
  validateSliceCount(slices, "coverage slices");
  const lastCovered =
    previous && previous.slices === slices && previous.lastCovered.length === slices
      ? [...previous.lastCovered]
      : new Array<SliceCoverage | null>(slices).fill(null);
  let slice = 0;
  for (let i = 1; i < slices; i++) {
    const best = lastCovered[slice];
    const candidate = lastCovered[i];
    if (best === null) break;
    if (candidate === null || candidate === undefined || (best && candidate.at < best.at)) slice = i;
  }
  lastCovered[slice] = { at: now.toISOString(), roundId };
  return { slice, ports: coverageSlice(slice, slices), record: { schemaVersion: 1, slices, lastCovered } };
}

/** Stamps whether the round that scanned `slice` was complete (scans incomplete: some nodes missed it). */
export function markSliceOutcome(record: CoverageRecord, slice: number, complete: boolean): CoverageRecord {
  const lastCovered = [...record.lastCovered];
  const entry = lastCovered[slice];
  if (entry) lastCovered[slice] = { ...entry, complete };
  return { ...record, lastCovered };
}

/** Slices not scanned within `periodMs` before `now` (never scanned counts): coverage overdue. */
export function overdueSlices(record: CoverageRecord, periodMs: number, now: Date): number[] {
  const cutoff = now.getTime() - periodMs;
  return record.lastCovered.flatMap((entry, i) =>
    entry === null || Date.parse(entry.at) < cutoff ? [i] : [],
  );
}

export function parseCoverageRecord(data: unknown, source: string): CoverageRecord {
  const parsed = coverageRecordSchema.safeParse(data);
  if (!parsed.success)
    throw new InputError(source, `not a coverage record: ${parsed.error.issues[0]?.message ?? "invalid"}`);
  return parsed.data;
}

/** Gives every target this round's slice (in Step Functions items it travels as its SPEC text). */
export function withCoverageSlice<T extends { coveragePorts?: PortSet }>(
  targets: readonly T[],
  plan: CoveragePlan,
): T[] {
  return targets.map((t) => ({ ...t, coveragePorts: plan.ports }));
}
