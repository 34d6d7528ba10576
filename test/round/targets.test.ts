import { describe, expect, it } from "vitest";
import { parseInventory } from "../../lib/config/inventory-file.ts";
import type { ClusterInventory, Inventory } from "../../lib/discovery/types.ts";
import { PortSet } from "../../lib/ports/port-set.ts";
import { parsePortSpec } from "../../lib/ports/port-spec.ts";
import { scanDeadline } from "../../lib/round/scan-stage.ts";
import {
  clusterFindings,
  parseScanTargets,
  targetsFromHosts,
  targetsFromInventory,
} from "../../lib/round/targets.ts";

function cluster(over: Partial<ClusterInventory> = {}): ClusterInventory {
  return {
    account: "111122223333",
    region: "eu-west-1",
    name: "prod",
    kind: "eks",
    nodes: [
      {
        instanceId: "i-1",
        publicIps: ["203.0.113.1", "2001:db8::1"],
        internetAllowed: parsePortSpec("22,30000-32767"),
      },
      { instanceId: "i-2", publicIps: [], internetAllowed: PortSet.EMPTY },
    ],
    ...over,
  };
}

const inventory = (clusters: ClusterInventory[]): Inventory => ({ clusters, errors: [] });

/** A value as its JSON file or Step Functions item holds it (port sets as SPEC text). */
function wire<T>(value: T): { clusters: Array<{ nodes: Array<Record<string, unknown>> }> } {
  return JSON.parse(JSON.stringify(value));
}

describe("targetsFromInventory", () => {
  it("makes one target per public IP with the node's context and SG data", () => {
    expect(targetsFromInventory(inventory([cluster()]))).toEqual([
      {
        ip: "203.0.113.1",
        account: "111122223333",
        region: "eu-west-1",
        cluster: "prod",
        instanceId: "i-1",
        internetAllowed: parsePortSpec("22,30000-32767"),
      },
      {
        ip: "2001:db8::1",
        account: "111122223333",
        region: "eu-west-1",
        cluster: "prod",
        instanceId: "i-1",
        internetAllowed: parsePortSpec("22,30000-32767"),
      },
    ]);
  });

  it("scans an IP listed twice only once", () => {
    expect(targetsFromInventory(inventory([cluster(), cluster({ name: "copy" })]))).toHaveLength(2);
  });
});

describe("targetsFromHosts", () => {
  it("makes bare targets without SG data and drops duplicates", () => {
    expect(targetsFromHosts(["127.0.0.1", "127.0.0.1", "::1"])).toEqual([{ ip: "127.0.0.1" }, { ip: "::1" }]);
  });
});

describe("clusterFindings", () => {
  it("reports an EKS endpoint open to 0.0.0.0/0", () => {
    const c = cluster({
      endpoint: {
        url: "https://ABC.gr7.eu-west-1.eks.amazonaws.com",
        publicAccess: true,
        privateAccess: false,
        publicAccessCidrs: ["0.0.0.0/0"],
      },
    });
    const [finding] = clusterFindings(inventory([c]));
    expect(finding).toMatchObject({
      port: 443,
      service: "eks-api-endpoint",
      kind: "exposed",
      cluster: "prod",
      severity: "high",
    });
    expect(finding?.ip).toMatch(/^eks-[0-9a-f]{16}$/);
    expect(finding?.evidence).toContain(
      "abc.gr7.eu-west-1.eks.amazonaws.com accepts connections from 0.0.0.0/0",
    );
  });

  it("does not report an endpoint restricted to specific CIDRs", () => {
    const c = cluster({ endpoint: { publicAccess: true, publicAccessCidrs: ["198.51.100.0/24"] } });
    expect(clusterFindings(inventory([c]))).toEqual([]);
  });

  it("does not report a private-only endpoint", () => {
    const c = cluster({
      endpoint: { publicAccess: false, privateAccess: true, publicAccessCidrs: ["0.0.0.0/0"] },
    });
    expect(clusterFindings(inventory([c]))).toEqual([]);
  });
});

describe("parseInventory", () => {
  it("accepts the inventory document and reads its port SPECs into the values it was written from", () => {
    const written = inventory([cluster()]);
    const document = wire(written);
    expect(document.clusters[0]?.nodes.map((n) => n.internetAllowed)).toEqual(["22,30000-32767", ""]);
    const parsed = parseInventory(document);
    expect([parsed.clusters, parsed.rejected]).toEqual([written.clusters, undefined]);
    expect(parsed.clusters[0]?.nodes[0]?.internetAllowed).toBeInstanceOf(PortSet);
  });

  it("leaves out only the node with a bad public IP, naming the field path and value", () => {
    const bad = cluster();
    bad.nodes.push({ instanceId: "i-3", publicIps: ["x"], internetAllowed: PortSet.EMPTY });
    const parsed = parseInventory(wire(inventory([bad])));
    expect(parsed.clusters[0]?.nodes.map((n) => n.instanceId)).toEqual(["i-1", "i-2"]);
    expect(parsed.rejected).toEqual([
      {
        target: "inventory.clusters[0].nodes[2]",
        error: "inventory.clusters[0].nodes[2].publicIps[0]: 'x' is not an IP address",
      },
    ]);
  });

  it("names a bad SG port spec and fails that node's IPs", () => {
    const bad = wire(inventory([cluster()]));
    bad.clusters[0]?.nodes.splice(0, 1, {
      instanceId: "i-1",
      publicIps: ["203.0.113.1"],
      internetAllowed: "22-",
    });
    expect(parseInventory(bad).rejected).toEqual([
      {
        target: "203.0.113.1",
        error:
          "inventory.clusters[0].nodes[0].internetAllowed: '22-' is not a port SPEC (e.g. '22,443,30000-32767')",
      },
    ]);
  });

  it("leaves out a cluster with a bad field of its own, and only that cluster", () => {
    const parsed = parseInventory({
      clusters: [
        { account: "1", region: "r", kind: "eks", nodes: [] },
        ...wire(inventory([cluster()])).clusters,
      ],
      errors: [],
    });
    expect(parsed.clusters.map((c) => c.name)).toEqual(["prod"]);
    expect(parsed.rejected).toEqual([
      {
        target: "inventory.clusters[0]",
        error: "inventory.clusters[0].account: '1' is not a 12-digit AWS account id (and 1 more problems)",
      },
    ]);
  });

  it("accepts what AWS allows: a 256-character unicode cluster tag value, 19-character instance ids", () => {
    const name = "ü😀".repeat(128);
    const parsed = parseInventory(
      wire(
        inventory([
          cluster({
            name,
            kind: "self-managed",
            nodes: [{ instanceId: "i-0123456789abcdef0", publicIps: [], internetAllowed: PortSet.EMPTY }],
          }),
        ]),
      ),
    );
    expect([parsed.clusters[0]?.name, parsed.rejected]).toEqual([name, undefined]);
  });

  it.each([
    [{ clusters: "x" }, "inventory.clusters: 'x': Invalid input: expected array, received string"],
    [
      { clusters: [{ nodes: [3] }] },
      "inventory.clusters[0].nodes[0]: 3: Invalid input: expected object, received number",
    ],
    [[], "inventory: []: Invalid input: expected object, received array"],
  ])("refuses a document that is not an inventory at all: %j", (doc, message) => {
    expect(() => parseInventory(doc)).toThrow(message);
  });
});

describe("parseScanTargets", () => {
  it("accepts the targets targetsFromInventory makes", () => {
    const targets = targetsFromInventory(inventory([cluster()]));
    expect(parseScanTargets(JSON.parse(JSON.stringify(targets)))).toEqual({ targets, rejected: [] });
  });

  it("fails only the item with a bad IP, naming its index and value", () => {
    expect(parseScanTargets([{ ip: "127.0.0.1" }, { ip: "10.0.0.300" }])).toEqual({
      targets: [{ ip: "127.0.0.1" }],
      rejected: [{ target: "targets[1]", error: "targets[1].ip: '10.0.0.300' is not an IP address" }],
    });
  });

  it("fails only the item with a bad port SPEC, naming its field; the others carry parsed port sets", () => {
    const { targets, rejected } = parseScanTargets([
      { ip: "203.0.113.1", internetAllowed: "22,30000-32767", coveragePorts: "" },
      { ip: "203.0.113.2", coveragePorts: "1-70000" },
    ]);
    expect(rejected).toEqual([
      {
        target: "203.0.113.2",
        error: "targets[1].coveragePorts: '1-70000' is not a port SPEC (e.g. '22,443,30000-32767')",
      },
    ]);
    expect([targets[0]?.internetAllowed?.size, targets[0]?.coveragePorts?.isEmpty]).toEqual([2769, true]);
  });

  it("fails an item with unknown fields", () => {
    const { rejected } = parseScanTargets([{ ip: "127.0.0.1", port: 22 }]);
    expect(rejected).toEqual([
      { target: "127.0.0.1", error: expect.stringMatching(/^targets\[0\]: Unrecognized key/) },
    ]);
  });

  it("refuses a list that is not a list", () => {
    expect(() => parseScanTargets({ ip: "127.0.0.1" })).toThrow(/^targets: /);
  });
});

describe("scanDeadline", () => {
  it("leaves 20% of the time (2-30 s) for probes after the scan", () => {
    expect(scanDeadline(100_000, 0)).toBe(80_000);
    expect(scanDeadline(600_000, 0)).toBe(570_000);
    expect(scanDeadline(5_000, 0)).toBe(3_000);
  });

  it("splits a very short budget in half rather than scanning past the deadline", () => {
    expect(scanDeadline(1_000, 0)).toBe(500);
  });
});
