/** An inclusive TCP port range. */
export interface PortRange {
  readonly from: number;
  readonly to: number;
}

export const MIN_PORT = 1;
export const MAX_PORT = 65535;

/**
 * An immutable set of TCP ports kept as sorted, disjoint, non-adjacent ranges, so that
 * "1-65535" costs one range, not 65,535 numbers.
 *
 * The value the domain passes around: a port SPEC is parsed once where it enters (lib/ports/
 * port-spec.ts: `parsePortSpec`; port-set-schema.ts: `portSetSchema`) and written back as its canonical SPEC by
 * `toSpec()`, which `toJSON()` makes the JSON form: every JSON seam (S3 targets, Map items, state
 * files, `inventory --json`) carries the same text as before.
 */
export class PortSet implements Iterable<number> {
  readonly ranges: readonly PortRange[];

  /** `ranges` must be fresh, sorted, disjoint and non-adjacent: it is frozen, not copied. */
  private constructor(ranges: PortRange[]) {
    for (const r of ranges) Object.freeze(r);
    this.ranges = Object.freeze(ranges);
    Object.freeze(this);
  }

  static readonly EMPTY = new PortSet([]);
  static readonly ALL = new PortSet([{ from: MIN_PORT, to: MAX_PORT }]);

  /** Builds a set from possibly overlapping ranges; callers validate bounds beforehand. */
  static fromRanges(ranges: Iterable<PortRange>): PortSet {
    const sorted = [...ranges].filter((r) => r.from <= r.to).sort((a, b) => a.from - b.from || a.to - b.to);
    const merged: PortRange[] = [];
    for (const r of sorted) {
      const last = merged[merged.length - 1];
      if (last && r.from <= last.to + 1) {
        if (r.to > last.to) merged[merged.length - 1] = { from: last.from, to: r.to };
      } else {
        merged.push({ from: r.from, to: r.to });
      }
    }
    return new PortSet(merged);
  }

  static fromPorts(ports: Iterable<number>): PortSet {
    return PortSet.fromRanges([...ports].map((p) => ({ from: p, to: p })));
  }

  get size(): number {
    let n = 0;
    for (const r of this.ranges) n += r.to - r.from + 1;
    return n;
  }

  get isEmpty(): boolean {
    return this.ranges.length === 0;
  }

  has(port: number): boolean {
    let lo = 0;
    let hi = this.ranges.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = this.ranges[mid] as PortRange;
      if (port < r.from) hi = mid - 1;
      else if (port > r.to) lo = mid + 1;
      else return true;
    }
    return false;
  }

  union(other: PortSet): PortSet {
    return PortSet.fromRanges([...this.ranges, ...other.ranges]);
  }

  intersect(other: PortSet): PortSet {
    const out: PortRange[] = [];
    let i = 0;
    let j = 0;
    while (i < this.ranges.length && j < other.ranges.length) {
      const a = this.ranges[i] as PortRange;
      const b = other.ranges[j] as PortRange;
      const from = Math.max(a.from, b.from);
      const to = Math.min(a.to, b.to);
      if (from <= to) out.push({ from, to });
      if (a.to < b.to) i++;
      else j++;
    }
    return new PortSet(out);
  }

  subtract(other: PortSet): PortSet {
    const out: PortRange[] = [];
    for (const a of this.ranges) {
      let from = a.from;
      for (const b of other.ranges) {
        if (b.to < from || b.from > a.to) continue;
        if (b.from > from) out.push({ from, to: b.from - 1 });
        from = b.to + 1;
        if (from > a.to) break;
      }
      if (from <= a.to) out.push({ from, to: a.to });
    }
    return new PortSet(out);
  }

  /** True if every port of `other` is in this set. */
  covers(other: PortSet): boolean {
    return other.subtract(this).isEmpty;
  }

  /** Every port, ascending, without allocating a list. */
  *[Symbol.iterator](): Iterator<number> {
    for (const r of this.ranges) for (let p = r.from; p <= r.to; p++) yield p;
  }

  /** Every port, ascending. Allocates size numbers: use only where a list is really needed. */
  toArray(): number[] {
    const out = new Array<number>(this.size);
    let k = 0;
    for (const r of this.ranges) for (let p = r.from; p <= r.to; p++) out[k++] = p;
    return out;
  }

  /** Compact SPEC, e.g. `22,10250,30000-32767`; empty string for the empty set. */
  toSpec(): string {
    return this.ranges.map((r) => (r.from === r.to ? String(r.from) : `${r.from}-${r.to}`)).join(",");
  }

  toString(): string {
    return this.toSpec();
  }

  /** The JSON form is the canonical SPEC (`portSetSchema` reads it back into an equal set). */
  toJSON(): string {
    return this.toSpec();
  }

  equals(other: PortSet): boolean {
    if (this.ranges.length !== other.ranges.length) return false;
    return this.ranges.every((r, i) => r.from === other.ranges[i]?.from && r.to === other.ranges[i]?.to);
  }
}
