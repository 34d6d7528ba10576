import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { parseInput } from "../../lib/config/zod-input.ts";
import { InputError } from "../../lib/errors/errors.ts";
import { MAX_PORT, MIN_PORT, PortSet } from "../../lib/ports/port-set.ts";
import { nonEmptyPortSetSchema, portSetSchema } from "../../lib/ports/port-set-schema.ts";
import { parsePortList, parsePortSpec } from "../../lib/ports/port-spec.ts";

/** Up to 40 ranges anywhere in 1-65535, overlapping or adjacent at times, some wide. */
const ranges = fc.array(
  fc
    .record({ from: fc.integer({ min: MIN_PORT, max: MAX_PORT }), width: fc.integer({ min: 0, max: 3000 }) })
    .map(({ from, width }) => ({ from, to: Math.min(MAX_PORT, from + width) })),
  { maxLength: 40 },
);

/** The same ranges as a plain Set of numbers: what the value must behave like. */
function naive(list: readonly { from: number; to: number }[]): Set<number> {
  const out = new Set<number>();
  for (const r of list) for (let p = r.from; p <= r.to; p++) out.add(p);
  return out;
}

describe("PortSet as a value", () => {
  it("reads back from its SPEC text (the JSON wire form) as an equal set", () => {
    fc.assert(
      fc.property(ranges, (list) => {
        const set = PortSet.fromRanges(list);
        const text = JSON.stringify({ ports: set });
        const back = parseInput(z.object({ ports: portSetSchema }), JSON.parse(text), "item").ports;
        expect(back.equals(set)).toBe(true);
        expect(back.toSpec()).toBe(set.toSpec());
        expect(parsePortList(set.toSpec()).ranges).toEqual(set.ranges);
      }),
    );
  });

  it("has the size, members and order of a naive Set, also after union", () => {
    fc.assert(
      fc.property(ranges, ranges, (a, b) => {
        const union = PortSet.fromRanges(a).union(PortSet.fromRanges(b));
        const expected = naive([...a, ...b]);
        expect(union.size).toBe(expected.size);
        expect([...union]).toEqual([...expected].sort((x, y) => x - y));
        for (const probe of [MIN_PORT, MAX_PORT, ...[...expected].slice(0, 20)])
          expect(union.has(probe)).toBe(expected.has(probe));
        expect(union.has(0)).toBe(false);
      }),
      { numRuns: 60 },
    );
  });

  it("covers a set exactly when every port of it is a member", () => {
    fc.assert(
      fc.property(ranges, ranges, (a, b) => {
        const small = PortSet.fromRanges(b);
        const big = PortSet.fromRanges(a);
        const members = naive(a);
        expect(big.covers(small)).toBe([...naive(b)].every((p) => members.has(p)));
        expect(big.union(small).covers(small)).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it("equals another set exactly when both hold the same ports", () => {
    fc.assert(
      fc.property(ranges, ranges, (a, b) => {
        const same =
          [...naive(a)].sort((x, y) => x - y).join() === [...naive(b)].sort((x, y) => x - y).join();
        expect(PortSet.fromRanges(a).equals(PortSet.fromRanges(b))).toBe(same);
        expect(PortSet.fromRanges(a).equals(PortSet.fromRanges([...a].reverse()))).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it("cannot be changed after it is made", () => {
    const set = parsePortSpec("22,30000-32767");
    expect(Object.isFrozen(set) && Object.isFrozen(set.ranges) && Object.isFrozen(set.ranges[0])).toBe(true);
    expect(() => (set.ranges as { from: number; to: number }[]).push({ from: 1, to: 1 })).toThrow(TypeError);
    expect(set.toSpec()).toBe("22,30000-32767");
  });

  it('writes the empty set as "", which reads back as the empty set where a list may be empty', () => {
    expect(JSON.stringify({ ports: PortSet.EMPTY })).toBe('{"ports":""}');
    expect(portSetSchema.parse("").isEmpty).toBe(true);
    expect(nonEmptyPortSetSchema.safeParse("").success).toBe(false);
  });
});

describe("the port SPEC boundary schema", () => {
  it("reads profiles and lists into their canonical set", () => {
    expect(portSetSchema.parse(" 443, 22,80-81 ").toSpec()).toBe("22,80-81,443");
    expect(portSetSchema.parse("all").equals(PortSet.ALL)).toBe(true);
  });

  it.each([
    ["22-", "item.ports: '22-' is not a port SPEC (e.g. '22,443,30000-32767')"],
    ["70000", "item.ports: '70000' is not a port SPEC (e.g. '22,443,30000-32767')"],
    ["ssh", "item.ports: 'ssh' is not a port SPEC (e.g. '22,443,30000-32767')"],
  ])("refuses %j naming the field", (spec, message) => {
    let caught: unknown;
    try {
      parseInput(z.object({ ports: portSetSchema }), { ports: spec }, "item");
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InputError);
    expect([(caught as InputError).field, (caught as Error).message]).toEqual(["item.ports", message]);
  });

  it("refuses a SPEC that is not text, naming the field", () => {
    expect(() => parseInput(z.object({ ports: portSetSchema }), { ports: [22] }, "item")).toThrow(
      /^item\.ports: \[22\]: Invalid input: expected string/,
    );
  });
});
