import { describe, expect, it } from "vitest";
import { makeRescanHandler } from "../../functions/rescan.ts";
import type { Notifier, PublishOutcome, RoundSummary } from "../../lib/alerts/types.ts";
import type { ClusterInventory } from "../../lib/discovery/types.ts";
import type { AlertEvent } from "../../lib/findings/types.ts";
import { parsePortSpec } from "../../lib/ports/port-spec.ts";
import { MemoryStateStore } from "../../lib/state/memory-state-store.ts";
import { fixture, fixtureFor } from "./fixtures.ts";

// The handler's own job: SQS batch → scoped change events → one rescan; bad messages → item failures.
// No node here has a public IP, so nothing is scanned.
class Recording implements Notifier {
  events: AlertEvent[] = [];
  summaries: RoundSummary[] = [];
  async publish(events: readonly AlertEvent[]): Promise<PublishOutcome> {
    this.events.push(...events);
    return { accepted: events.map((e) => e.id), failed: [] };
  }
  async summary(s: RoundSummary): Promise<void> {
    this.summaries.push(s);
  }
}

const PUBLIC_ENDPOINT: ClusterInventory = {
  account: "111122223333",
  region: "us-east-1",
  name: "prod",
  kind: "eks",
  endpoint: { publicAccess: true, privateAccess: false, publicAccessCidrs: ["0.0.0.0/0"] },
  nodes: [],
};

function setup(accounts: string[] = []) {
  const reads: string[] = [];
  const notifier = new Recording();
  const handler = makeRescanHandler(() => ({
    scan: async () => [],
    probe: async () => [],
    store: new MemoryStateStore(),
    notifier,
    inventoryRegion: async (account, region) => {
      reads.push(`${account}/${region}`);
      return [PUBLIC_ENDPOINT];
    },
    ports: parsePortSpec("10250"),
    accounts,
    regions: [],
  }));
  return { handler, reads, notifier };
}

const sqs = (...bodies: unknown[]) => ({
  Records: bodies.map((b, i) => ({
    messageId: `m-${i}`,
    body: typeof b === "string" ? b : JSON.stringify(b),
  })),
});
const context = { getRemainingTimeInMillis: () => 60_000 };

describe("rescan handler", () => {
  it("makes one round of a burst: one inventory read per account-region, the cluster endpoint alerted with its cause", async () => {
    const { handler, reads, notifier } = setup();
    const out = await handler(
      sqs(
        fixture("eks-update-cluster-config"),
        fixture("eks-update-nodegroup-config"),
        fixture("run-instances"),
      ),
      context,
    );
    expect(out).toEqual({ batchItemFailures: [] });
    expect(reads).toEqual(["111122223333/us-east-1"]);
    expect(notifier.summaries).toHaveLength(1);
    expect(notifier.events.map((e) => [e.finding.service, e.cause?.eventName])).toEqual([
      ["eks-api-endpoint", "UpdateClusterConfig"],
    ]);
  });

  it("returns unparsable messages as batch item failures (they reach the DLQ) and still rescans the rest", async () => {
    const { handler, reads } = setup();
    const out = await handler(
      sqs("not json", { ...fixture("run-instances"), account: "x" }, fixture("eks-create-nodegroup")),
      context,
    );
    expect(out.batchItemFailures).toEqual([{ itemIdentifier: "m-0" }, { itemIdentifier: "m-1" }]);
    expect(reads).toHaveLength(1);
  });

  it("failed calls (real records with errorCode) are acknowledged, not rescanned and not sent to the DLQ", async () => {
    const { handler, reads, notifier } = setup();
    const out = await handler(
      sqs(
        fixture("authorize-security-group-ingress-denied"),
        fixture("run-instances-denied"),
        fixture("run-instances-dry-run"),
      ),
      context,
    );
    expect(out).toEqual({ batchItemFailures: [] });
    expect(reads).toEqual([]);
    expect(notifier.summaries).toEqual([]);
  });

  it("ignores changes outside the deployment's accounts: nothing read, nothing scanned", async () => {
    const { handler, reads, notifier } = setup(["444455556666"]);
    const out = await handler(sqs(fixtureFor("eks-update-cluster-config", {})), context);
    expect(out).toEqual({ batchItemFailures: [] });
    expect(reads).toEqual([]);
    expect(notifier.summaries).toEqual([]);
  });

  it("refuses an event that is not an SQS batch, naming the field", async () => {
    const { handler } = setup();
    await expect(handler({ Records: [{ body: "{}" }] }, context)).rejects.toThrow(
      /event\.Records\[0\]\.messageId/,
    );
  });
});
