import { randomBytes } from "node:crypto";
import type { Notifier, PublishOutcome, RoundSummary } from "../alerts/types.ts";
import type { ClusterInventory, Inventory, InventoryError, NodeInventory } from "../discovery/types.ts";
import { errorMessage } from "../errors/errors.ts";
import type { AlertEvent, ChangeCause, Finding } from "../findings/types.ts";
import type { PortSet } from "../ports/port-set.ts";
import { finishRound, tallyOf } from "../round/round-outcome.ts";
import { type RoundDeps, recordClusterFindings, scanTargets } from "../round/scan-stage.ts";
import { clusterFindingId, targetsFromInventory } from "../round/targets.ts";
import type { ChangeEvent } from "./change-events.ts";

/**
 * Event-driven rescans: a batch of change events → the affected nodes only → the same scan, diff,
 * state and outbox as the scheduled round (lib/round stage functions), so an exposure is alerted
 * once whichever round finds it first, with the same alert id.
 */

export interface RescanDeps extends RoundDeps {
  notifier: Notifier;
  /** One account+region's clusters and nodes, read fresh (discovery's inventoryRegion via the member role). */
  inventoryRegion: (account: string, region: string) => Promise<ClusterInventory[]>;
}

export interface RescanOptions {
  ports: PortSet;
  /** Epoch ms by which the scan stage should be done. */
  deadline?: number;
  now?: () => Date;
  roundId?: string;
}

export interface RescanReport {
  roundId: string;
  /** Change events given / account-regions read / nodes and clusters rescanned. */
  events: number;
  accountRegions: number;
  targets: number;
  clusters: number;
  complete: boolean;
  newExposures: Finding[];
  resolved: Finding[];
  alerts: { published: number; failed: number };
  /** Account-regions that could not be read (the hourly round still covers them). */
  errors: InventoryError[];
}

/** The affected part of one account-region, and which change touched each target. */
export interface Affected {
  clusters: ClusterInventory[];
  /** Target id (public IP, or cluster-finding id) → the latest change that touched it. */
  causes: Map<string, ChangeCause>;
}

function touches(event: ChangeEvent, node: NodeInventory): boolean {
  if (event.wholeRegion) return true;
  if (event.instanceIds.includes(node.instanceId)) return true;
  if (node.publicIps.some((ip) => event.publicIps.includes(ip))) return true;
  return (node.interfaces ?? []).some(
    (eni) =>
      event.networkInterfaceIds.includes(eni.id) ||
      eni.securityGroupIds.some((sg) => event.securityGroupIds.includes(sg)),
  );
}

function later(a: ChangeCause | undefined, b: ChangeCause): ChangeCause {
  return a && a.at >= b.at ? a : b;
}

/**
 * Resolves changes to nodes over a fresh inventory of their account-region: security group →
 * interfaces carrying it → their instances; interface → instance; address → node; cluster name →
 * every node of the cluster and its endpoint. Instances in no cluster are not portwarden's targets.
 */
export function selectAffected(
  clusters: readonly ClusterInventory[],
  events: readonly ChangeEvent[],
): Affected {
  const affected: Affected = { clusters: [], causes: new Map() };
  for (const cluster of clusters) {
    const clusterEvents = events.filter(
      (e) =>
        e.account === cluster.account && e.region === cluster.region && e.clusters.includes(cluster.name),
    );
    const nodes: NodeInventory[] = [];
    for (const node of cluster.nodes) {
      const hits = [
        ...clusterEvents,
        ...events.filter(
          (e) => e.account === cluster.account && e.region === cluster.region && touches(e, node),
        ),
      ];
      if (hits.length === 0) continue;
      nodes.push(node);
      for (const ip of node.publicIps)
        for (const hit of hits) affected.causes.set(ip, later(affected.causes.get(ip), hit.cause));
    }
    if (nodes.length === 0 && clusterEvents.length === 0) continue;
    affected.clusters.push({ ...cluster, nodes });
    const id = clusterFindingId(cluster.account, cluster.region, cluster.name);
    for (const hit of clusterEvents) affected.causes.set(id, later(affected.causes.get(id), hit.cause));
  }
  return affected;
}

/**
 * Names the change in the "new" alerts this round created (first seen at or after its start) about
 * the targets a change touched. Older pending alerts go out unchanged.
 */
export class CauseNotifier implements Notifier {
  constructor(
    private readonly inner: Notifier,
    private readonly causes: ReadonlyMap<string, ChangeCause>,
    private readonly since: string,
  ) {}

  publish(events: readonly AlertEvent[]): Promise<PublishOutcome> {
    return this.inner.publish(
      events.map((event) => {
        const cause = this.causes.get(event.finding.ip);
        const fresh = event.eventType === "new" && (event.firstSeen ?? "") >= this.since;
        return cause && fresh ? { ...event, cause } : event;
      }),
    );
  }

  summary(summary: RoundSummary): Promise<void> {
    return this.inner.summary(summary);
  }
}

function rescanRoundId(now: Date): string {
  return `ev-${now.toISOString().replace(/[-:.]/g, "")}-${randomBytes(3).toString("hex")}`;
}

/**
 * One targeted round for a batch of changes (however many: a burst is one round): per affected
 * account-region one inventory read, then one scan of the union of the affected nodes, the cluster
 * endpoint findings of affected clusters, and the notify stage over the shared outbox.
 */
export async function rescanAfterChanges(
  events: readonly ChangeEvent[],
  deps: RescanDeps,
  options: RescanOptions,
): Promise<RescanReport> {
  const now = options.now ?? (() => new Date());
  const started = now();
  const startedAt = started.toISOString();
  const roundId = options.roundId ?? rescanRoundId(started);
  const groups = new Map<string, ChangeEvent[]>();
  for (const event of events) {
    const key = `${event.account}/${event.region}`;
    groups.set(key, [...(groups.get(key) ?? []), event]);
  }
  const inventory: Inventory = { clusters: [], errors: [] };
  const causes = new Map<string, ChangeCause>();
  for (const group of groups.values()) {
    const { account, region } = group[0] as ChangeEvent;
    try {
      const affected = selectAffected(await deps.inventoryRegion(account, region), group);
      inventory.clusters.push(...affected.clusters);
      for (const [id, cause] of affected.causes) causes.set(id, cause);
    } catch (error) {
      inventory.errors.push({ account, region, message: errorMessage(error) });
    }
  }
  const targets = targetsFromInventory(inventory);
  const stage = await scanTargets(targets, deps, {
    roundId,
    ports: options.ports,
    now,
    ...(options.deadline !== undefined ? { deadline: options.deadline } : {}),
  });
  const clusterStage = await recordClusterFindings(inventory, deps, { now });
  const round = await finishRound(
    { store: deps.store, notifier: new CauseNotifier(deps.notifier, causes, startedAt) },
    { roundId, startedAt, targets: targets.length, discoveryErrors: inventory.errors.length },
    [tallyOf(stage), tallyOf(clusterStage)],
    { now },
  );
  const { complete } = round.summary;
  const { alerts } = round;
  return {
    roundId,
    events: events.length,
    accountRegions: groups.size,
    targets: targets.length,
    clusters: inventory.clusters.length,
    complete,
    newExposures: [...stage.newExposures, ...clusterStage.newExposures],
    resolved: [...stage.resolved, ...clusterStage.resolved],
    alerts: { published: alerts.published, failed: alerts.failed },
    errors: inventory.errors,
  };
}
