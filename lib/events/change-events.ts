import { z } from "zod";
import { parseInput } from "../config/zod-input.ts";
import { accountIdSchema, regionSchema } from "../contracts/aws-identifiers.ts";
import type { ChangeCause } from "../findings/types.ts";

/**
 * The AWS changes that can open a node to the internet, as EventBridge delivers them (CloudTrail
 * management events, "AWS API Call via CloudTrail", plus EC2's own instance state-change
 * notification). The member accounts' forwarding rules (infra/event-rescans.ts) match exactly these.
 */
export const EC2_CHANGE_EVENT_NAMES = [
  "AuthorizeSecurityGroupIngress",
  "ModifySecurityGroupRules",
  "RunInstances",
  "StartInstances",
  "AssociateAddress",
  "AttachNetworkInterface",
  "ModifyNetworkInterfaceAttribute",
  "ModifyInstanceAttribute",
] as const;
export const EKS_CHANGE_EVENT_NAMES = [
  "CreateNodegroup",
  "UpdateNodegroupConfig",
  "UpdateClusterConfig",
] as const;
export const CLOUDTRAIL_DETAIL_TYPE = "AWS API Call via CloudTrail";
export const STATE_CHANGE_DETAIL_TYPE = "EC2 Instance State-change Notification";

/**
 * Events about a node that is only starting: its services need a moment to listen, so these go to a
 * queue with a delivery delay (infra/event-rescans.ts) instead of being scanned the same second.
 */
export const LAUNCH_EVENT_NAMES = ["RunInstances", "StartInstances", "EC2 instance running"] as const;

/** What one change event says may have changed, in one member account and region. */
export interface ChangeEvent {
  account: string;
  region: string;
  cause: ChangeCause;
  securityGroupIds: string[];
  instanceIds: string[];
  networkInterfaceIds: string[];
  publicIps: string[];
  clusters: string[];
  /** Nothing narrows it (e.g. AssociateAddress with only an allocation id): every node of the account-region. */
  wholeRegion: boolean;
}

const MAX_IDS = 1000;
const SG = /^sg-[0-9a-f]{8,17}$/;
const INSTANCE = /^i-[0-9a-f]{8,17}$/;
const ENI = /^eni-[0-9a-f]{8,17}$/;
const CLUSTER = /^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$/;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

const envelopeSchema = z.object({
  "detail-type": z.string().max(128),
  source: z.string().max(128),
  account: accountIdSchema,
  region: regionSchema,
  time: z.string().max(64),
  detail: z.record(z.string(), z.unknown()),
});

const userIdentitySchema = z
  .object({
    type: z.string().max(64).optional(),
    arn: z.string().max(2048).optional(),
    principalId: z.string().max(256).optional(),
    invokedBy: z.string().max(256).optional(),
  })
  .loose();

const cloudTrailSchema = z
  .object({
    eventName: z.string().max(128),
    eventTime: z.string().max(64),
    eventSource: z.string().max(128).optional(),
    userIdentity: userIdentitySchema.optional(),
    // Real records carry null, {} or (for some services) a string here, and a failed call's
    // responseElements is null: read leniently, as objects when they are.
    errorCode: z.unknown().optional(),
    requestParameters: z.unknown().optional(),
    responseElements: z.unknown().optional(),
  })
  .loose();

type Json = Record<string, unknown>;

function obj(value: unknown): Json | undefined {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Json) : undefined;
}

/**
 * `{ items: [...] }` (how CloudTrail records EC2 lists; a few sets say `item`, e.g.
 * privateIpAddressesSet) or a plain array → its objects.
 */
function items(value: unknown): Json[] {
  const wrapper = obj(value);
  const list = Array.isArray(value) ? value : (wrapper?.items ?? wrapper?.item);
  return Array.isArray(list) ? list.map(obj).filter((o): o is Json => o !== undefined) : [];
}

function str(value: unknown, pattern: RegExp): string | undefined {
  return typeof value === "string" && pattern.test(value) ? value : undefined;
}

function ids(values: unknown[], pattern: RegExp): string[] {
  return [...new Set(values.map((v) => str(v, pattern)).filter((v): v is string => v !== undefined))].slice(
    0,
    MAX_IDS,
  );
}

/**
 * CloudTrail writes `2024-10-14T14:11:38Z`; copies that passed through log pipelines say
 * `2021-01-24 04:55:45.000` (UTC). One ISO form, so causes compare as times.
 */
function isoTime(text: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(\.\d+)?Z?$/.exec(text);
  return m ? `${m[1]}T${m[2]}Z` : text;
}

function actorOf(identity: z.infer<typeof userIdentitySchema> | undefined): string {
  return identity?.arn ?? identity?.invokedBy ?? identity?.principalId ?? identity?.type ?? "unknown";
}

function empty(envelope: z.infer<typeof envelopeSchema>, cause: ChangeCause): ChangeEvent {
  return {
    account: envelope.account,
    region: envelope.region,
    cause,
    securityGroupIds: [],
    instanceIds: [],
    networkInterfaceIds: [],
    publicIps: [],
    clusters: [],
    wholeRegion: false,
  };
}

/** Reads what a CloudTrail record says may have changed; undefined when the change cannot open anything. */
function fromCloudTrail(envelope: z.infer<typeof envelopeSchema>): ChangeEvent | undefined {
  const d = parseInput(cloudTrailSchema, envelope.detail, "event.detail");
  // A refused call (AccessDenied, Client.UnauthorizedOperation, Client.DryRunOperation: "would have
  // succeeded") changed nothing; the rules drop these already, this guards a hand-made rule.
  if (d.errorCode !== undefined && d.errorCode !== null && d.errorCode !== "") return undefined;
  const req = obj(d.requestParameters) ?? {};
  const res = obj(d.responseElements) ?? {};
  const event = empty(envelope, {
    eventName: d.eventName,
    actor: actorOf(d.userIdentity),
    at: isoTime(d.eventTime),
    account: envelope.account,
    region: envelope.region,
  });
  switch (d.eventName) {
    case "AuthorizeSecurityGroupIngress":
      // groupId is the changed group; ipPermissions' groups are the *sources* it admits, not targets.
      event.securityGroupIds = ids(
        [req.groupId, ...items(res.securityGroupRuleSet).map((r) => r.groupId)],
        SG,
      );
      break;
    case "ModifySecurityGroupRules":
      event.securityGroupIds = ids([obj(req.ModifySecurityGroupRulesRequest)?.GroupId, req.groupId], SG);
      break;
    case "RunInstances":
    case "StartInstances": {
      const instances = [...items(res.instancesSet), ...items(req.instancesSet)];
      event.instanceIds = ids(
        instances.map((i) => i.instanceId),
        INSTANCE,
      );
      event.networkInterfaceIds = ids(
        instances.flatMap((i) => items(i.networkInterfaceSet).map((n) => n.networkInterfaceId)),
        ENI,
      );
      break;
    }
    case "AssociateAddress":
      event.instanceIds = ids([req.instanceId], INSTANCE);
      event.networkInterfaceIds = ids([req.networkInterfaceId], ENI);
      event.publicIps = ids([req.publicIp], IPV4);
      break;
    case "AttachNetworkInterface":
      event.instanceIds = ids([req.instanceId], INSTANCE);
      event.networkInterfaceIds = ids([req.networkInterfaceId], ENI);
      break;
    case "ModifyNetworkInterfaceAttribute":
      event.networkInterfaceIds = ids([req.networkInterfaceId], ENI);
      break;
    case "ModifyInstanceAttribute":
      // Only a security-group change can open ports; instance type, user data etc. cannot.
      if (items(req.groupSet).length === 0) return undefined;
      event.instanceIds = ids([req.instanceId], INSTANCE);
      break;
    case "CreateNodegroup":
    case "UpdateNodegroupConfig":
      event.clusters = ids([req.name, req.clusterName, obj(res.nodegroup)?.clusterName], CLUSTER);
      break;
    case "UpdateClusterConfig":
      // Logging or access-config updates do not touch the endpoint.
      if (!obj(req.resourcesVpcConfig)) return undefined;
      event.clusters = ids([req.name, req.clusterName], CLUSTER);
      break;
    default:
      return undefined;
  }
  const narrowed =
    event.securityGroupIds.length +
    event.instanceIds.length +
    event.networkInterfaceIds.length +
    event.publicIps.length +
    event.clusters.length;
  event.wholeRegion = narrowed === 0;
  return event;
}

/**
 * One EventBridge event → the change it describes, or undefined when it cannot open anything (a
 * failed call, an event name or state portwarden does not act on). Malformed input throws an
 * InputError naming the field.
 */
export function parseChangeEvent(raw: unknown, field = "event"): ChangeEvent | undefined {
  const envelope = parseInput(envelopeSchema, raw, field);
  if (envelope["detail-type"] === CLOUDTRAIL_DETAIL_TYPE) return fromCloudTrail(envelope);
  if (envelope["detail-type"] === STATE_CHANGE_DETAIL_TYPE) {
    const instance = str(envelope.detail["instance-id"], INSTANCE);
    if (envelope.detail.state !== "running" || !instance) return undefined;
    const event = empty(envelope, {
      eventName: "EC2 instance running",
      actor: "ec2.amazonaws.com",
      at: envelope.time,
      account: envelope.account,
      region: envelope.region,
    });
    event.instanceIds = [instance];
    return event;
  }
  return undefined;
}
