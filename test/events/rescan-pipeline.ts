// The event-rescan path end to end on this machine, for the latency benchmark
// (test/bench/rescan-bench.ts) and its correctness test (rescan-latency.netns.test.ts):
// a recorded CloudTrail event is put on an EventBridge bus in moto whose rules are the construct's
// own patterns, lands in an SQS queue, the real rescan handler (functions/rescan.ts) takes it as
// Lambda would, reads the account from moto (security group → ENIs → instances → cluster), scans
// the node's loopback address in this private netns with the real scanner and probes, diffs and
// stores state in DynamoDB (moto), and publishes through SNS (moto) to a subscribed SQS queue.
// Every node address is one this process chose (an Elastic IP on loopback): nothing moto invented
// is ever scanned.

import { createServer, type Server } from "node:http";
import {
  AllocateAddressCommand,
  AssociateAddressCommand,
  AuthorizeSecurityGroupIngressCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DescribeInstancesCommand,
} from "@aws-sdk/client-ec2";
import {
  CreateEventBusCommand,
  EventBridgeClient,
  PutEventsCommand,
  PutRuleCommand,
  PutTargetsCommand,
} from "@aws-sdk/client-eventbridge";
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { App, Stack } from "aws-cdk-lib";
import { type CfnRule, type EventPattern, Rule } from "aws-cdk-lib/aws-events";
import { alertNotifier, readEnvironment, stateStore } from "../../functions/environment.ts";
import { makeRescanHandler } from "../../functions/rescan.ts";
import { CHANGE_PATTERN, LAUNCH_PATTERN, RUNNING_PATTERN } from "../../infra/change-patterns.ts";
import type { Notifier } from "../../lib/alerts/types.ts";
import { AwsClients } from "../../lib/aws/clients.ts";
import { DEFAULT_CHANGE_BUS_NAME, DEFAULT_MEMBER_ROLE_NAME, ENV } from "../../lib/contracts/deployment.ts";
import { MemberCredentials } from "../../lib/discovery/member-credentials.ts";
import { memberInventoryReader } from "../../lib/events/member-inventory.ts";
import { ALLOW_INTERNAL } from "../../lib/net/address-policy.ts";
import { parsePortSpec } from "../../lib/ports/port-spec.ts";
import { probeOpenPorts } from "../../lib/probes/probe-open-ports.ts";
import { scanHosts } from "../../lib/scan/scanner.ts";
import { eksCluster, instance, SCANNER_ACCOUNT, securityGroup, tcpFromWorld } from "../discovery/seed.ts";
import { createStateTable } from "../state/dynamo-table.ts";
import { type Moto, startMoto } from "../support/moto.ts";
import { freshLoopbackAddress, iptables } from "../support/netns.ts";
import { topicWithQueue } from "../support/sns-queue.ts";
import { fixtureFor } from "./fixtures.ts";

const REGION = "us-east-1";
const stateTableName = "portwarden-state";
/** The deployment's default profile: what a rescan scans on each affected node. */
export const RESCAN_PORTS = parsePortSpec("kubernetes");
const KUBELET = 10250;

/** A node of cluster `prod` in moto whose only public address is a loopback address of this netns. */
export interface Node {
  sg: string;
  instanceId: string;
  eni: string;
  ip: string;
}

/** Wall-clock stages of one event, in ms. */
export interface StageTimes {
  /** PutEvents on the change bus → the message received from the rule's SQS queue. */
  busToQueue: number;
  /** The handler's inventory read(s): DescribeInstances/SecurityGroups, EKS (moto). */
  inventory: number;
  /** TCP connect scan of the affected nodes. */
  scan: number;
  /** Read-only probes of the open ports. */
  probe: number;
  /** SNS Publish of the alerts (moto). */
  publish: number;
  /** The whole handler invocation (the stages above plus state reads/writes, diff, outbox). */
  handler: number;
  /** Handler returned → the alert received from the queue subscribed to the topic. */
  delivery: number;
  /** PutEvents → alert received. */
  total: number;
}

export interface CaseResult {
  times: StageTimes;
  /** The alert bodies for the node (SNS → SQS), as a subscriber gets them. */
  alerts: Record<string, unknown>[];
  /** What the rescan scanned: scanner calls, addresses, ports per address. */
  scans: { calls: number; addresses: number; portsPerAddress: number[] };
  /** Which rule's queue the event reached (undefined: no rule matched). */
  queue: "changes" | "launches" | undefined;
}

type Timer = { ms: number };
function timed<A extends unknown[], R>(timer: Timer, fn: (...args: A) => Promise<R>) {
  return async (...args: A): Promise<R> => {
    const started = performance.now();
    try {
      return await fn(...args);
    } finally {
      timer.ms += performance.now() - started;
    }
  };
}

/** The construct's EventPattern as EventBridge receives it (CDK renders Match.* on synthesis). */
export function renderedPattern(pattern: EventPattern): string {
  const stack = new Stack(new App(), "Patterns");
  const rule = new Rule(stack, "Rule", { eventPattern: pattern });
  return JSON.stringify(stack.resolve((rule.node.defaultChild as CfnRule).eventPattern));
}

/**
 * An EventBridge bus (moto) with the construct's three rules, each into an SQS queue as deployed:
 * changes into one, launches and "running" into the other. Returns the two queue URLs.
 */
export async function changeBusWithQueues(
  events: EventBridgeClient,
  sqs: SQSClient,
  bus: string,
): Promise<{ changes: string; launches: string }> {
  await events.send(new CreateEventBusCommand({ Name: bus }));
  const queue = async (name: string) => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `${bus}-${name}` }));
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["QueueArn"] }),
    );
    return { url: QueueUrl as string, arn: Attributes?.QueueArn as string };
  };
  const changes = await queue("changes");
  const launches = await queue("launches");
  for (const [name, pattern, arn] of [
    ["ChangeRule", CHANGE_PATTERN, changes.arn],
    ["LaunchRule", LAUNCH_PATTERN, launches.arn],
    ["RunningRule", RUNNING_PATTERN, launches.arn],
  ] as const) {
    await events.send(
      new PutRuleCommand({ Name: name, EventBusName: bus, EventPattern: renderedPattern(pattern) }),
    );
    await events.send(
      new PutTargetsCommand({ Rule: name, EventBusName: bus, Targets: [{ Id: "queue", Arn: arn }] }),
    );
  }
  return { changes: changes.url, launches: launches.url };
}

export class RescanPipeline {
  private readonly servers: Server[] = [];
  private readonly firewalled: string[] = [];
  private readonly timers = { inventory: { ms: 0 }, scan: { ms: 0 }, probe: { ms: 0 }, publish: { ms: 0 } };
  private scans = { calls: 0, addresses: 0, portsPerAddress: [] as number[] };
  private handler!: ReturnType<typeof makeRescanHandler>;
  private subnetId = "";
  private vpcId = "";
  private changeQueue = "";
  private launchQueue = "";
  private alertQueue = "";

  private constructor(
    private readonly moto: Moto,
    readonly clients: AwsClients,
    private readonly events: EventBridgeClient,
    private readonly sqs: SQSClient,
  ) {}

  static async start(): Promise<RescanPipeline> {
    const moto = await startMoto();
    const pipeline = new RescanPipeline(
      moto,
      new AwsClients({ region: REGION }),
      new EventBridgeClient({ region: REGION }),
      new SQSClient({ region: REGION }),
    );
    await pipeline.seed();
    return pipeline;
  }

  private async seed(): Promise<void> {
    const ec2 = this.clients.ec2;
    // A VPC of our own: its subnet maps no public IPs, so the only public addresses are our EIPs.
    this.vpcId = (await ec2.send(new CreateVpcCommand({ CidrBlock: "10.7.0.0/16" }))).Vpc?.VpcId ?? "";
    this.subnetId =
      (await ec2.send(new CreateSubnetCommand({ VpcId: this.vpcId, CidrBlock: "10.7.1.0/24" }))).Subnet
        ?.SubnetId ?? "";
    await eksCluster(this.clients.eks, "prod", {
      subnetId: this.subnetId,
      publicAccess: false,
      privateAccess: true,
    });

    // The scanner account's bus and rules, with the construct's patterns; queues without the
    // deployed delivery delay / batching window (those are added from the configuration, not waited).
    const queues = await changeBusWithQueues(this.events, this.sqs, DEFAULT_CHANGE_BUS_NAME);
    this.changeQueue = queues.changes;
    this.launchQueue = queues.launches;

    // State table and alert topic as the construct binds them, through the handlers' own env reading.
    await createStateTable(this.clients.dynamodb, stateTableName);
    const { topicArn, queueUrl } = await topicWithQueue(this.clients.sns, this.sqs, "portwarden-alerts");
    this.alertQueue = queueUrl;
    const env = readEnvironment({
      ...process.env,
      [ENV.stateTableName]: stateTableName,
      [ENV.alertTopicArn]: topicArn,
    });
    const store = stateStore(env, this.clients);
    const sns = alertNotifier(env, this.clients);
    const notifier: Notifier = {
      publish: timed(this.timers.publish, (events) => sns.publish(events)),
      summary: (s) => sns.summary(s),
    };
    const read = memberInventoryReader(
      new MemberCredentials(this.clients.sts, DEFAULT_MEMBER_ROLE_NAME),
      [],
      {},
      ALLOW_INTERNAL,
    );
    const { inventory, scan, probe } = this.timers;
    const deps = {
      scan: timed(scan, (hosts: string[], opts: Parameters<typeof scanHosts>[1]) => {
        this.scans.calls++;
        this.scans.addresses += hosts.length;
        for (const _ of hosts) this.scans.portsPerAddress.push(opts.ports.size);
        return scanHosts(hosts, opts);
      }),
      probe: timed(probe, probeOpenPorts),
      store,
      notifier,
      // The nodes' Elastic IPs are loopback addresses of this netns: opted in, and nothing else passes.
      addressPolicy: ALLOW_INTERNAL,
      inventoryRegion: timed(inventory, async (account: string, region: string) => {
        const clusters = await read(account, region);
        for (const ip of clusters.flatMap((c) => c.nodes.flatMap((n) => n.publicIps)))
          if (!ip.startsWith("127.")) throw new Error(`refusing to scan ${ip}: not a loopback address`);
        return clusters;
      }),
      ports: RESCAN_PORTS,
      accounts: [],
      regions: [],
    };
    this.handler = makeRescanHandler(() => deps);
  }

  /**
   * A node of cluster `prod` with its own security group. `listening`: a kubelet-like HTTP service
   * on 10250; `open`: the group already admits 10250 from anywhere (otherwise the kernel drops SYNs
   * to it, as the group would, until `openPort`).
   */
  async addNode(options: { listening: boolean; open: boolean }): Promise<Node> {
    const ec2 = this.clients.ec2;
    const sg = await securityGroup(ec2, this.vpcId, options.open ? [tcpFromWorld(KUBELET)] : []);
    const instanceId = await instance(ec2, {
      subnetId: this.subnetId,
      groupIds: [sg],
      tags: { "eks:cluster-name": "prod" },
    });
    const ip = freshLoopbackAddress();
    const { AllocationId } = await ec2.send(new AllocateAddressCommand({ Domain: "vpc", Address: ip }));
    await ec2.send(new AssociateAddressCommand({ AllocationId, InstanceId: instanceId }));
    const described = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    const eni = described.Reservations?.[0]?.Instances?.[0]?.NetworkInterfaces?.[0]?.NetworkInterfaceId ?? "";
    if (options.listening) {
      const server = createServer((_req, res) => res.end('{"kind":"PodList","items":[]}'));
      await new Promise<void>((resolve) => server.listen(KUBELET, ip, resolve));
      this.servers.push(server);
    }
    if (!options.open) {
      iptables("-A", "INPUT", "-d", ip, "-p", "tcp", "--syn", "--dport", String(KUBELET), "-j", "DROP");
      this.firewalled.push(ip);
    }
    return { sg, instanceId, eni, ip };
  }

  /** The change itself: the group admits 10250 from anywhere, in moto and on the wire. */
  async openPort(node: Node): Promise<void> {
    await this.clients.ec2.send(
      new AuthorizeSecurityGroupIngressCommand({ GroupId: node.sg, IpPermissions: [tcpFromWorld(KUBELET)] }),
    );
    iptables("-D", "INPUT", "-d", node.ip, "-p", "tcp", "--syn", "--dport", String(KUBELET), "-j", "DROP");
    this.firewalled.splice(this.firewalled.indexOf(node.ip), 1);
  }

  private async receive(
    queueUrl: string,
    attempts: number,
    waitSeconds = 1,
  ): Promise<{ body: string; receipt: string }[]> {
    for (let i = 0; i < attempts; i++) {
      const { Messages } = await this.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: waitSeconds,
        }),
      );
      if (Messages?.length)
        return Messages.map((m) => ({ body: m.Body ?? "", receipt: m.ReceiptHandle ?? "" }));
    }
    return [];
  }

  /**
   * Puts one recorded event (a fixture with its ids replaced by `ids`) on the change bus and follows
   * it to the alert queue, timing each stage.
   */
  async run(fixtureName: string, ids: Record<string, string>, node: Node): Promise<CaseResult> {
    for (const t of Object.values(this.timers)) t.ms = 0;
    this.scans = { calls: 0, addresses: 0, portsPerAddress: [] };
    const event = fixtureFor(fixtureName, { "111122223333": SCANNER_ACCOUNT, ...ids });

    const t0 = performance.now();
    await this.events.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: DEFAULT_CHANGE_BUS_NAME,
            Source: event.source as string,
            DetailType: event["detail-type"] as string,
            Detail: JSON.stringify(event.detail),
            Time: new Date(),
          },
        ],
      }),
    );
    // Which rule took it: both queues short-polled until one holds it (none within 3 s: no rule matched).
    let changes: { body: string; receipt: string }[] = [];
    let launches: { body: string; receipt: string }[] = [];
    for (const until = t0 + 3_000; performance.now() < until; ) {
      changes = await this.receive(this.changeQueue, 1, 0);
      launches = changes.length ? [] : await this.receive(this.launchQueue, 1, 0);
      if (changes.length || launches.length) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const t1 = performance.now();
    const queue = changes.length ? "changes" : launches.length ? "launches" : undefined;
    const messages = [...changes, ...launches];
    const times: StageTimes = {
      busToQueue: t1 - t0,
      inventory: 0,
      scan: 0,
      probe: 0,
      publish: 0,
      handler: 0,
      delivery: 0,
      total: 0,
    };
    if (messages.length === 0) return { times, alerts: [], scans: this.scans, queue };

    // moto's EventBridge leaves out the envelope's `account` (AWS sets it to the sender's account).
    const records = messages.map((m, i) => ({
      messageId: `m-${i}`,
      body: JSON.stringify({ ...JSON.parse(m.body), account: SCANNER_ACCOUNT }),
    }));
    const out = await this.handler({ Records: records }, { getRemainingTimeInMillis: () => 120_000 });
    const t2 = performance.now();
    if (out.batchItemFailures.length > 0) throw new Error(`rescan refused: ${JSON.stringify(out)}`);
    for (const m of messages)
      await this.sqs.send(
        new DeleteMessageCommand({
          QueueUrl: queue === "changes" ? this.changeQueue : this.launchQueue,
          ReceiptHandle: m.receipt,
        }),
      );

    const alerts: Record<string, unknown>[] = [];
    let t3 = t2;
    for (let i = 0; i < 5 && alerts.length === 0; i++) {
      for (const m of await this.receive(this.alertQueue, 1)) {
        const body = JSON.parse(m.body) as Record<string, unknown>;
        if ((body.finding as { ip?: string } | undefined)?.ip === node.ip) alerts.push(body);
      }
      t3 = performance.now();
    }
    times.inventory = this.timers.inventory.ms;
    times.scan = this.timers.scan.ms;
    times.probe = this.timers.probe.ms;
    times.publish = this.timers.publish.ms;
    times.handler = t2 - t1;
    times.delivery = alerts.length ? t3 - t2 : 0;
    times.total = alerts.length ? t3 - t0 : 0;
    return { times, alerts, scans: this.scans, queue };
  }

  async stop(): Promise<void> {
    for (const ip of this.firewalled)
      iptables("-D", "INPUT", "-d", ip, "-p", "tcp", "--syn", "--dport", String(KUBELET), "-j", "DROP");
    for (const s of this.servers) await new Promise<void>((resolve) => s.close(() => resolve()));
    this.clients.destroy();
    this.events.destroy();
    this.sqs.destroy();
    await this.moto.stop();
  }
}
