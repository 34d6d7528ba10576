import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseInventory } from "../../lib/config/inventory-file.ts";
import { CARRIED_TAGS_MAX_BYTES, charCount, TAGS_PER_RESOURCE_MAX } from "../../lib/contracts/limits.ts";
import {
  carriedTagsBytes,
  carriedTagsSchema,
  nodeTagsInputSchema,
  selectNodeTags,
} from "../../lib/discovery/node-tags.ts";

/** 50 user tags at AWS's limits: 128-character keys, 256-character values of 4-byte characters. */
function worstCaseTags(): Record<string, string> {
  const tags: Record<string, string> = {};
  for (let i = 0; i < 50; i++) tags[`k${String(i).padStart(2, "0")}-${"🔑".repeat(124)}`] = "🌍".repeat(256);
  return tags;
}

describe("selectNodeTags: which node tags travel", () => {
  it("puts Name, then the EKS and node-group tags, then kubernetes.io/cluster/*, then the caller's keys, then the rest by key", () => {
    const tags = [
      { Key: "zeta", Value: "z" },
      { Key: "team", Value: "payments" },
      { Key: "kubernetes.io/cluster/prod", Value: "owned" },
      { Key: "eks:nodegroup-name", Value: "ng-1" },
      { Key: "alpha", Value: "a" },
      { Key: "aws:eks:cluster-name", Value: "prod" },
      { Key: "Name", Value: "prod-node-1" },
    ];
    expect(Object.keys(selectNodeTags(tags, ["team"]) ?? {})).toEqual([
      "Name",
      "aws:eks:cluster-name",
      "eks:nodegroup-name",
      "kubernetes.io/cluster/prod",
      "team",
      "alpha",
      "zeta",
    ]);
  });

  it("chooses the same tags whatever order EC2 lists them in", () => {
    const all = worstCaseTags();
    all.Name = "n";
    const entries = Object.entries(all).map(([Key, Value]) => ({ Key, Value }));
    const forward = selectNodeTags(entries);
    const backward = selectNodeTags([...entries].reverse());
    expect(JSON.stringify(backward)).toBe(JSON.stringify(forward));
  });

  it("cleans keys and values with the sanitiser and redacts secrets", () => {
    const tags = selectNodeTags({
      "owner\u202e": "ops\u0007team",
      note: "password=hunter2 rotate me",
      "ghost\u200b": "x",
    });
    expect(tags).toEqual({ ghost: "x", note: "password=[redacted] rotate me", owner: "ops team" });
  });

  it("drops a key longer than 128 characters, an empty key and __proto__, and cuts a value to 256 characters", () => {
    const tags = selectNodeTags([
      { Key: "k".repeat(129), Value: "too long a key" },
      { Key: "\u200b", Value: "empty once cleaned" },
      { Key: "__proto__", Value: "not a key" },
      { Key: "long", Value: "v".repeat(300) },
      { Key: "k".repeat(128), Value: "fits" },
    ]);
    expect(Object.keys(tags ?? {})).toEqual(["k".repeat(128), "long"]);
    expect(charCount(tags?.long ?? "")).toBe(256);
    expect(tags?.long?.endsWith("…")).toBe(true);
  });

  it("keeps at most 2 KiB of JSON: 50 tags at AWS's limits leave Name and the cluster tag and what fits", () => {
    const tags = { ...worstCaseTags(), Name: "🌍".repeat(256), "aws:eks:cluster-name": "prod" };
    const selected = selectNodeTags(tags) ?? {};
    expect(carriedTagsBytes(selected)).toBeLessThanOrEqual(CARRIED_TAGS_MAX_BYTES);
    expect(selected.Name).toBe("🌍".repeat(256));
    expect(selected["aws:eks:cluster-name"]).toBe("prod");
    // The raw tags are 36x the budget: without the selection a batch of 48 nodes would be megabytes.
    expect(carriedTagsBytes(tags)).toBeGreaterThan(36 * CARRIED_TAGS_MAX_BYTES);
  });

  it("skips a tag that does not fit and still takes smaller ones after it", () => {
    const selected = selectNodeTags({
      a: "x".repeat(256),
      b: "🌍".repeat(256),
      c: "🌍".repeat(256),
      d: "small",
    });
    expect(Object.keys(selected ?? {})).toEqual(["a", "b", "d"]);
  });

  it("keeps the node's own Name when a look-alike key cleans to the same key, in either order", () => {
    const real = { Key: "Name", Value: "prod-node-1" };
    const lookAlike = { Key: "Name\u200b", Value: "spoofed" };
    expect(selectNodeTags([lookAlike, real])).toEqual({ Name: "prod-node-1" });
    expect(selectNodeTags([real, lookAlike])).toEqual({ Name: "prod-node-1" });
  });

  it("keeps at most 50 tags", () => {
    const many = Object.fromEntries(Array.from({ length: 80 }, (_, i) => [`t${i}`, ""]));
    expect(Object.keys(selectNodeTags(many) ?? {})).toHaveLength(TAGS_PER_RESOURCE_MAX);
  });

  it("is undefined for no tags, and idempotent: a selection selected again is unchanged", () => {
    expect(selectNodeTags(undefined)).toBeUndefined();
    expect(selectNodeTags([])).toBeUndefined();
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.string({ maxLength: 140, unit: "binary" }),
          fc.string({ maxLength: 300, unit: "binary" }),
          {
            maxKeys: 70,
          },
        ),
        (raw) => {
          const once = selectNodeTags(raw);
          expect(selectNodeTags(once)).toEqual(once);
          if (once) {
            expect(carriedTagsBytes(once)).toBeLessThanOrEqual(CARRIED_TAGS_MAX_BYTES);
            expect(carriedTagsSchema.safeParse(once).success).toBe(true);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("tags read from an inventory file or a batch item", () => {
  it("reduces whatever the file holds to the selection", () => {
    const parsed = nodeTagsInputSchema.parse({ ...worstCaseTags(), Name: "web-1" });
    expect(parsed?.Name).toBe("web-1");
    expect(carriedTagsBytes(parsed)).toBeLessThanOrEqual(CARRIED_TAGS_MAX_BYTES);
  });

  it("refuses only the node whose tags are not a map of strings, naming the field", () => {
    const inventory = parseInventory({
      clusters: [
        {
          account: "111122223333",
          region: "eu-west-1",
          name: "prod",
          kind: "self-managed",
          nodes: [
            { instanceId: "i-1", publicIps: ["198.51.100.1"], internetAllowed: "", tags: { Name: 7 } },
            { instanceId: "i-2", publicIps: ["198.51.100.2"], internetAllowed: "", tags: { Name: "ok" } },
          ],
        },
      ],
      errors: [],
    });
    expect(inventory.clusters[0]?.nodes.map((n) => [n.instanceId, n.tags])).toEqual([
      ["i-2", { Name: "ok" }],
    ]);
    expect(inventory.rejected?.[0]?.error).toMatch(/^inventory\.clusters\[0\]\.nodes\[0\]\.tags\.Name: /);
  });
});
