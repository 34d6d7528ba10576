import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { marshall } from "@aws-sdk/util-dynamodb";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import type { Notifier } from "../../lib/alerts/types.ts";
import { parseInventory } from "../../lib/config/inventory-file.ts";
import {
  CLUSTER_NAME_MAX_CHARS,
  DYNAMODB_ITEM_MAX_BYTES,
  EVIDENCE_MAX_CHARS,
  FIX_MAX_CHARS,
  PORT_SPEC_MAX_CHARS,
  SERVICE_MAX_CHARS,
  TAG_KEY_MAX_CHARS,
  TAG_VALUE_MAX_CHARS,
} from "../../lib/contracts/limits.ts";
import { selectNodeTags } from "../../lib/discovery/node-tags.ts";
import type { ClusterInventory, Inventory } from "../../lib/discovery/types.ts";
import type { ExposureRecord } from "../../lib/findings/types.ts";
import { PortSet } from "../../lib/ports/port-set.ts";
import type { ProbeOpenPorts } from "../../lib/probes/types.ts";
import { runRound } from "../../lib/round/run-round.ts";
import { targetsFromInventory } from "../../lib/round/targets.ts";
import type { ScanOptions, ScanResult } from "../../lib/scan/types.ts";
import { FileStateStore } from "../../lib/state/file-state-store.ts";
import { MemoryStateStore } from "../../lib/state/memory-state-store.ts";
import { assertStorable } from "../../lib/state/stored-record.ts";
import type { StateStore } from "../../lib/state/types.ts";

// Discovery-shaped extremes (what AWS legally holds) through inventory JSON -> parse -> round ->
// store -> reload. No sockets: the scanner and prober are tables; the stores are real.

/** The longest canonical SPEC of any port set: DP over 1..65535 with singles and `a-(a+1)` pairs. */
function longestSpecLength(): number {
  const best = new Array<number>(65537).fill(0);
  const len = (p: number) => String(p).length;
  for (let i = 1; i <= 65535; i++) {
    const unused = best[i - 1] ?? 0;
    const single = (i >= 2 ? (best[i - 2] ?? 0) : 0) + len(i) + 1;
    const pair = i >= 2 ? (i >= 3 ? (best[i - 3] ?? 0) : 0) + len(i - 1) + len(i) + 2 : 0;
    best[i] = Math.max(unused, single, pair);
  }
  return (best[65535] ?? 0) - 1;
}

/** The set that reaches it: pairs separated by one missing port, from the top down. */
function worstCasePortSet(): PortSet {
  const ranges = [];
  for (let to = 65535; to - 1 >= 1; to -= 3) ranges.push({ from: to - 1, to });
  return PortSet.fromRanges(ranges);
}

const SECRET = ["sk", "live", "4eC39HqLyjWDarjtT1zdp7dc"].join("_");

describe("limits sized from what AWS allows", () => {
  it("PORT_SPEC_MAX_CHARS is the longest SPEC any port set has, and that SPEC is accepted", () => {
    const spec = worstCasePortSet().toSpec();
    expect([longestSpecLength(), spec.length]).toEqual([PORT_SPEC_MAX_CHARS, PORT_SPEC_MAX_CHARS]);
    const inventory = parseInventory({
      clusters: [
        {
          account: "111122223333",
          region: "us-east-1",
          name: "prod",
          kind: "eks",
          nodes: [{ instanceId: "i-0123456789abcdef0", publicIps: ["203.0.113.1"], internetAllowed: spec }],
        },
      ],
    });
    expect(inventory.rejected).toBeUndefined();
  });

  it("a record at every limit fits one DynamoDB item (400 KB) and passes the store's schema", () => {
    const record: ExposureRecord = {
      key: "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255#65535#latent",
      ip: "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255",
      port: 65535,
      portSpec: worstCasePortSet().toSpec(),
      service: "s".repeat(SERVICE_MAX_CHARS),
      severity: "critical",
      kind: "latent",
      evidence: "😀".repeat(EVIDENCE_MAX_CHARS),
      fix: "😀".repeat(FIX_MAX_CHARS),
      account: "111122223333",
      region: "ap-southeast-4",
      cluster: "😀".repeat(CLUSTER_NAME_MAX_CHARS),
      instanceId: "i-0123456789abcdef0",
      tags: selectNodeTags(
        Object.fromEntries(
          Array.from({ length: 50 }, (_, i) => [`${i}${"😀".repeat(127)}`, "😀".repeat(256)]),
        ),
      ),
      status: "open",
      firstSeen: "2026-11-29T03:00:00.000Z",
      lastSeen: "2026-11-29T03:00:00.000Z",
      missedCompleteScans: 0,
      pendingAlert: "new",
      version: 0,
    };
    expect(() => assertStorable([record])).not.toThrow();
    const itemBytes = Buffer.byteLength(JSON.stringify(marshall(record)));
    expect(itemBytes).toBeLessThan(DYNAMODB_ITEM_MAX_BYTES);
  });

  it("a store refuses to write a record its reader would refuse, naming the field", () => {
    const bad = {
      key: "203.0.113.1#22",
      ip: "203.0.113.1",
      port: 22,
      service: "x".repeat(101),
    } as ExposureRecord;
    expect(() =>
      assertStorable([
        {
          ...bad,
          severity: "low",
          kind: "exposed",
          evidence: "",
          status: "open",
          firstSeen: "t",
          lastSeen: "t",
          missedCompleteScans: 0,
          version: 0,
        },
      ]),
    ).toThrow("record 203.0.113.1#22.service: is longer than 100 characters; not written");
  });
});

// ---- the property: inventory -> round -> store -> reload -------------------------------------

/** Unicode a tag value may hold, including what must never reach a terminal (bidi, separators). */
const tagCharacter = fc.constantFrom(
  "a",
  "Z",
  "9",
  "-",
  "_",
  " ",
  "ü",
  "é",
  "中",
  "😀",
  "\u202e",
  "\u2028",
  "\u200b",
  "/",
  ":",
);
const tagValue = fc.oneof(
  fc.string({ unit: tagCharacter, minLength: 1, maxLength: TAG_VALUE_MAX_CHARS }),
  fc.constant("😀\u202e".repeat(TAG_VALUE_MAX_CHARS / 2)),
);
/** Up to 60 tags (50 user tags plus `aws:` ones) at AWS's lengths, hostile characters, a secret. */
const nodeTags = fc
  .dictionary(fc.string({ unit: tagCharacter, minLength: 1, maxLength: TAG_KEY_MAX_CHARS }), tagValue, {
    maxKeys: 60,
  })
  .map((tags) => ({ ...tags, Name: `node\u202e token=${SECRET}` }));
const hex17 = fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), minLength: 17, maxLength: 17 });
const sixtyNodePorts = PortSet.fromPorts(Array.from({ length: 64 }, (_, i) => 30000 + 11 * i));
const portSet = fc.oneof(
  fc.constant(sixtyNodePorts),
  fc.constant(PortSet.ALL),
  fc.constant(worstCasePortSet()),
  fc.constant(PortSet.EMPTY),
  fc
    .uniqueArray(fc.integer({ min: 1, max: 65535 }), { minLength: 1, maxLength: 400 })
    .map((ports) => PortSet.fromPorts(ports)),
);

function inventoryArbitrary(): fc.Arbitrary<Inventory> {
  let nextIp = 0;
  const node = fc
    .record({ id: hex17, internetAllowed: portSet, tags: nodeTags })
    .map(({ id, internetAllowed, tags }) => {
      nextIp++;
      return {
        instanceId: `i-${id}`,
        tags,
        publicIps: [`203.0.${113 + Math.floor(nextIp / 250)}.${(nextIp % 250) + 1}`],
        internetAllowed,
      };
    });
  const cluster = fc
    .record({
      name: tagValue,
      nodes: fc.array(node, { minLength: 1, maxLength: 3 }),
      selfManaged: fc.boolean(),
    })
    .map(
      ({ name, nodes, selfManaged }): ClusterInventory => ({
        account: "111122223333",
        region: "ap-southeast-4",
        name,
        kind: selfManaged ? "self-managed" : "eks",
        nodes,
      }),
    );
  return fc.array(cluster, { minLength: 1, maxLength: 2 }).map((clusters) => ({ clusters, errors: [] }));
}

/** Every SG-allowed port of a target answers (so exposed findings carry the long context). */
function scanOpening(inventory: Inventory) {
  const allowed = new Map(targetsFromInventory(inventory).map((t) => [t.ip, t.internetAllowed]));
  return async (hosts: string[], _opts: ScanOptions): Promise<ScanResult[]> =>
    hosts.map((ip) => {
      const open = (allowed.get(ip) ?? PortSet.EMPTY).toArray().slice(0, 70);
      return { target: ip, ip, open, closed: 0, filtered: 0, complete: true, durationMs: 1 };
    });
}

/** Remote text as long and hostile as a banner can be: unicode, bidi, a secret. */
const probe: ProbeOpenPorts = async (_ip, ports) =>
  ports.map((port) => ({
    port,
    service: `svc\u202e${"ü".repeat(150)}`,
    verdict: "fingerprint",
    evidence: `banner ${"😀".repeat(2500)} token=${SECRET}\u2028next`,
  }));

const quiet: Notifier = {
  publish: async (events) => ({ accepted: events.map((e) => e.id), failed: [] }),
  summary: async () => {},
};

describe("discovery-shaped extremes survive inventory -> round -> store -> reload", () => {
  const dir = mkdtempSync(join(tmpdir(), "portwarden-limits-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let run = 0;

  it.each(["file", "memory"] as const)(
    "with the %s store",
    async (kind) => {
      await fc.assert(
        fc.asyncProperty(inventoryArbitrary(), async (generated) => {
          // Prepare: the inventory as `inventory --json` writes it and `run --inventory` reads it
          const inventory = parseInventory(JSON.parse(JSON.stringify(generated)));
          expect(inventory.rejected).toBeUndefined();
          const targets = targetsFromInventory(inventory);
          const path = join(dir, `state-${run++}.json`);
          const memory = new MemoryStateStore();
          const store: () => StateStore = () => (kind === "file" ? new FileStateStore({ path }) : memory);
          const deps = { scan: scanOpening(inventory), probe, notifier: quiet };
          const round = (s: StateStore) =>
            runRound(
              targets,
              { ...deps, store: s },
              { ports: PortSet.ALL, inventory, now: () => new Date("2026-11-29T03:00:00Z") },
            );

          // Act: a round, then a reload of the store and a second round on it
          const first = await round(store());
          const reloaded = store();
          const second = await round(reloaded);

          // Assess: nothing failed, the state reads back whole and holds no secret or bidi character
          expect(first.failedTargets).toEqual([]);
          expect(second.failedTargets).toEqual([]);
          expect(second.newExposures).toEqual([]);
          const records = (await Promise.all(targets.map((t) => reloaded.loadIp(t.ip)))).flat();
          expect(records.length).toBe(first.newExposures.filter((f) => !f.ip.startsWith("eks-")).length);
          // A round that recorded nothing writes no file.
          const stored =
            kind === "file" && existsSync(path) ? readFileSync(path, "utf8") : JSON.stringify(records);
          expect(stored).not.toContain(SECRET);
          expect(stored).not.toMatch(/[\u202e\u2028\u200b]/);
          expect(JSON.stringify(first)).not.toMatch(/[\u202e\u2028\u200b]/);
        }),
        { numRuns: 12, endOnFailure: true },
      );
    },
    120_000,
  );
});
