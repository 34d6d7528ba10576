import { describe, expect, it } from "vitest";
import { KUBERNETES_PORTS } from "../../lib/catalog/kubernetes-ports.ts";
import { InputError } from "../../lib/errors/errors.ts";
import { PortSet } from "../../lib/ports/port-set.ts";
import { parsePortSpec } from "../../lib/ports/port-spec.ts";

describe("parsePortSpec", () => {
  it("parses single ports, ranges and lists into merged ranges", () => {
    expect(parsePortSpec("22, 80,81-90,85,1000-1001").toSpec()).toBe("22,80-90,1000-1001");
  });

  it("expands the kubernetes profile to every catalogue port including the NodePort range", () => {
    const set = parsePortSpec("kubernetes");
    for (const port of [22, 443, 2379, 2380, 6443, 10250, 10255, 10256, 10257, 10259, 30000, 32767]) {
      expect(set.has(port), `port ${port}`).toBe(true);
    }
    expect(set.has(3306)).toBe(false);
    expect(set.size).toBe(KUBERNETES_PORTS.reduce((n, e) => n + e.to - e.from + 1, 0));
  });

  it("expands all to 1-65535", () => {
    expect(parsePortSpec("all").size).toBe(65535);
  });

  it("combines profiles with extra ranges", () => {
    const set = parsePortSpec("kubernetes,8000-8100");
    expect(set.has(8050)).toBe(true);
    expect(set.has(10250)).toBe(true);
  });

  it.each([
    ["70000", /70000.*outside 1-65535/],
    ["0", /outside/],
    ["5-1", /runs backwards/],
    ["abc", /'abc'.*not a port number or a profile/],
    ["", /empty port spec/],
    ["22,,80", /empty item/],
    ["1-2-3", /not a port number/],
    ["-5", /not a port number/],
  ])("rejects %j with a clear error naming the field", (spec, message) => {
    let caught: unknown;
    try {
      parsePortSpec(spec, "--ports");
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InputError);
    expect((caught as InputError).field).toBe("--ports");
    expect((caught as Error).message).toMatch(message);
  });
});

describe("PortSet", () => {
  it("merges overlapping and adjacent ranges", () => {
    const set = PortSet.fromRanges([
      { from: 10, to: 20 },
      { from: 21, to: 25 },
      { from: 5, to: 12 },
      { from: 40, to: 40 },
    ]);
    expect(set.toSpec()).toBe("5-25,40");
    expect(set.size).toBe(22);
  });

  it("answers membership at range edges", () => {
    const set = parsePortSpec("30000-32767,10250");
    expect([29999, 30000, 32767, 32768, 10250, 10251].map((p) => set.has(p))).toEqual([
      false,
      true,
      true,
      false,
      true,
      false,
    ]);
  });

  it("intersects and subtracts by ranges", () => {
    const a = parsePortSpec("1-100,200-300");
    const b = parsePortSpec("50-250");
    expect(a.intersect(b).toSpec()).toBe("50-100,200-250");
    expect(a.subtract(b).toSpec()).toBe("1-49,251-300");
    expect(PortSet.ALL.subtract(a).size).toBe(65535 - 201);
  });

  it("lists ports ascending", () => {
    expect(parsePortSpec("5,3,4,1").toArray()).toEqual([1, 3, 4, 5]);
  });
});
