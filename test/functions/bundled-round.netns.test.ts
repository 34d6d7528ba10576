import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { CreateTableCommand, type CreateTableCommandInput, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { CreateTopicCommand, SNSClient, SubscribeCommand } from "@aws-sdk/client-sns";
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { App, Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Portwarden } from "../../infra/portwarden.ts";
import { BUNDLING, functionEntry } from "../../infra/scanner-function.ts";
import type { AlertMessageV1 } from "../../lib/alerts/format.ts";
import type { Inventory } from "../../lib/discovery/types.ts";
import type { ExposureRecord } from "../../lib/findings/types.ts";
import { PortSet } from "../../lib/ports/port-set.ts";
import { partitionKeyFor } from "../../lib/state/dynamo-schema.ts";
import { type Moto, startMoto } from "../support/moto.ts";
import { freshLoopbackAddress, requirePrivateNetns } from "../support/netns.ts";

// The three Lambda bundles, built with the options CDK uses, run one round in the order Step
// Functions runs them (discover → Distributed Map of scan batches → notify) against moto, with a
// real listener on a loopback address of the private netns. The Map itself is emulated: the test
// reads the target list, batches it, and writes the result manifest the way the Map's ResultWriter does.
type Handler = (event: unknown, context?: unknown) => Promise<Record<string, unknown>>;

const REGION = "us-east-1";
const TABLE = "portwarden-state";
const BUCKET = "portwarden-rounds";
const INVENTORY_KEY = "rounds/inventory/latest.json";
const ROUND_ID = "r-bundle-test-1";
const STARTED_AT = "2026-11-29T03:00:00.000Z";
const OPEN_PORT = 10250;
const CLOSED_PORT = 31337;

/** The state table exactly as the CDK construct declares it (keys, attributes, GSI). */
function stateTableFromTemplate(): CreateTableCommandInput {
  const stack = new Stack(new App({ context: { "aws:cdk:bundling-stacks": [] } }), "T");
  new Portwarden(stack, "Portwarden");
  const [table] = Object.values(Template.fromStack(stack).findResources("AWS::DynamoDB::Table"));
  const p = table?.Properties;
  return {
    TableName: TABLE,
    BillingMode: "PAY_PER_REQUEST",
    KeySchema: p.KeySchema,
    AttributeDefinitions: p.AttributeDefinitions,
    GlobalSecondaryIndexes: p.GlobalSecondaryIndexes,
  };
}

/** esbuild with the options of infra/scanner-function.ts, one `.mjs` per handler. */
async function buildBundle(name: "discover" | "scan" | "notify", outdir: string): Promise<Handler> {
  const outfile = join(outdir, `${name}.mjs`);
  await build({
    entryPoints: [functionEntry(name)],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: BUNDLING.target,
    minify: BUNDLING.minify,
    keepNames: BUNDLING.keepNames,
    sourcemap: BUNDLING.sourceMap,
    external: [...BUNDLING.externalModules],
    mainFields: [...BUNDLING.mainFields],
    banner: { js: BUNDLING.banner },
    logLevel: "error",
  });
  return (await import(pathToFileURL(outfile).href)).handler as Handler;
}

function inventoryWith(ip: string): Inventory {
  return {
    clusters: [
      {
        account: "111122223333",
        region: REGION,
        name: "prod",
        kind: "eks",
        nodes: [{ instanceId: "i-0abc", publicIps: [ip], internetAllowed: PortSet.fromPorts([OPEN_PORT]) }],
      },
    ],
    errors: [],
  };
}

describe.runIf(requirePrivateNetns())("the Lambda bundles run one round: discover → scan → notify", () => {
  const node = freshLoopbackAddress();
  const outdir = mkdtempSync(join(tmpdir(), "portwarden-bundles-"));
  let moto: Moto;
  let listener: Server;
  let s3: S3Client;
  let sqs: SQSClient;
  let dynamo: DynamoDBClient;
  let queueUrl: string;
  let discoverOutput: Record<string, unknown>;
  let scanOutputs: Record<string, unknown>[];
  let notifyOutput: Record<string, unknown>;
  let scanHandler: Handler;

  beforeAll(async () => {
    // Prepare: moto resources as the stack would have them, a listener, the bundles
    moto = await startMoto();
    dynamo = new DynamoDBClient({ region: REGION });
    s3 = new S3Client({ region: REGION, forcePathStyle: true });
    sqs = new SQSClient({ region: REGION });
    const sns = new SNSClient({ region: REGION });
    await dynamo.send(new CreateTableCommand(stateTableFromTemplate()));
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    const topicArn = (await sns.send(new CreateTopicCommand({ Name: "portwarden-alerts" })))
      .TopicArn as string;
    queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: "alerts" }))).QueueUrl as string;
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["QueueArn"] }),
    );
    await sns.send(
      new SubscribeCommand({
        TopicArn: topicArn,
        Protocol: "sqs",
        Endpoint: Attributes?.QueueArn,
        Attributes: { RawMessageDelivery: "true" },
      }),
    );
    sns.destroy();
    await s3.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: INVENTORY_KEY, Body: JSON.stringify(inventoryWith(node)) }),
    );
    listener = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => listener.listen(OPEN_PORT, node, resolve));
    Object.assign(process.env, {
      AWS_REGION: REGION,
      STATE_TABLE_NAME: TABLE,
      ROUND_BUCKET_NAME: BUCKET,
      ALERT_TOPIC_ARN: topicArn,
      PORT_SPEC: `${OPEN_PORT},${CLOSED_PORT}`,
      INVENTORY_S3_KEY: INVENTORY_KEY,
      // The node is a loopback address of the private netns: an operator's opt-in.
      ALLOW_PRIVATE_TARGETS: "true",
      POWERTOOLS_SERVICE_NAME: "portwarden",
      POWERTOOLS_METRICS_NAMESPACE: "PortwardenTest",
    });
    const [discover, scan, notify] = await Promise.all(
      (["discover", "scan", "notify"] as const).map((name) => buildBundle(name, outdir)),
    );

    scanHandler = scan as Handler;
    // Act: the round, stage by stage
    discoverOutput = await (discover as Handler)({ roundId: ROUND_ID, startedAt: STARTED_AT });
    const targetsObject = await s3.send(
      new GetObjectCommand({ Bucket: BUCKET, Key: discoverOutput.targetsKey as string }),
    );
    const items = JSON.parse(await (targetsObject.Body?.transformToString() ?? "[]")) as unknown[];
    const batches = [];
    for (let i = 0; i < items.length; i += 4)
      batches.push({ Items: items.slice(i, i + 4), BatchInput: { roundId: ROUND_ID } });
    scanOutputs = [];
    for (const batch of batches)
      scanOutputs.push(await (scan as Handler)(batch, { getRemainingTimeInMillis: () => 60_000 }));
    const resultsKey = "rounds/map-results/run-1/SUCCEEDED_0.json";
    const children = batches.map((batch, i) => ({
      Name: `child-${i}`,
      Status: "SUCCEEDED",
      Input: JSON.stringify(batch),
      Output: JSON.stringify(scanOutputs[i]),
    }));
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: resultsKey, Body: JSON.stringify(children) }));
    const manifestKey = "rounds/map-results/run-1/manifest.json";
    const manifest = {
      DestinationBucket: BUCKET,
      MapRunArn: "arn:aws:states:us-east-1:111122223333:mapRun:round/run-1",
      ResultFiles: { FAILED: [], PENDING: [], SUCCEEDED: [{ Key: resultsKey, Size: 1 }] },
    };
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: manifestKey, Body: JSON.stringify(manifest) }));
    notifyOutput = await (notify as Handler)({
      ...discoverOutput,
      map: { MapRunArn: manifest.MapRunArn, ResultWriterDetails: { Bucket: BUCKET, Key: manifestKey } },
    });
  }, 120_000);

  afterAll(async () => {
    await new Promise((resolve) => listener?.close(resolve));
    for (const client of [s3, sqs, dynamo]) client?.destroy();
    await moto?.stop();
    rmSync(outdir, { recursive: true, force: true });
  });

  async function received(): Promise<Message[]> {
    const { Messages } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 300 }),
    );
    return Messages ?? [];
  }

  it("discover writes one target per node IP for the Distributed Map", () => {
    expect(discoverOutput).toMatchObject({
      roundId: ROUND_ID,
      startedAt: STARTED_AT,
      targetsKey: `rounds/${ROUND_ID}/targets.json`,
      targets: 1,
      discoveryErrors: 0,
    });
  });

  it("scan reports the open port and a complete scan", () => {
    expect(scanOutputs).toEqual([
      {
        targets: 1,
        newExposures: 1,
        resolved: 0,
        openExposures: 1,
        incompleteScans: 0,
        openPorts: 1,
        failedTargets: [],
      },
    ]);
  });

  it("stores the exposure of the listening port in DynamoDB, and nothing for the closed one", async () => {
    // Act
    const { Items } = await DynamoDBDocumentClient.from(dynamo).send(
      new QueryCommand({
        TableName: TABLE,
        KeyConditionExpression: "pk = :pk",
        ExpressionAttributeValues: { ":pk": partitionKeyFor(node) },
      }),
    );
    // Assess
    const records = (Items ?? []) as ExposureRecord[];
    expect(records.map((r) => [r.port, r.status, r.kind, r.cluster])).toEqual([
      [OPEN_PORT, "open", "exposed", "prod"],
    ]);
    expect(records[0]?.pendingAlert).toBeUndefined();
  });

  it("publishes the new exposure to the topic, as the SQS subscriber receives it", async () => {
    // Act
    const bodies = (await received()).map((m) => JSON.parse(m.Body ?? "{}") as AlertMessageV1);
    // Assess
    const alerts = bodies.filter((b) => b.eventType === "new");
    expect(alerts.map((a) => [a.finding.ip, a.finding.port, a.finding.account])).toEqual([
      [node, OPEN_PORT, "111122223333"],
    ]);
  });

  it("keeps error names in the minified bundle: a rejected batch logs InputError", async () => {
    // Prepare: capture what the handler's logger writes
    const lines: string[] = [];
    const writes = [process.stdout, process.stderr].map((stream) => {
      const original = stream.write.bind(stream);
      stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
        lines.push(String(chunk));
        return (original as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
      }) as typeof stream.write;
      return () => {
        stream.write = original as typeof stream.write;
      };
    });
    // Act
    const outcome = await scanHandler(
      { Items: [], BatchInput: { roundId: ROUND_ID } },
      { getRemainingTimeInMillis: () => 60_000 },
    ).catch((error: unknown) => error);
    for (const restore of writes) restore();
    // Assess
    expect((outcome as Error).name).toBe("InputError");
    const logged = lines
      .join("")
      .split("\n")
      .filter((l) => l.includes("scan failed"));
    expect(logged.map((l) => JSON.parse(l).errorName)).toEqual(["InputError"]);
  });

  it("notify reports a complete round with the alert published", () => {
    expect(notifyOutput).toMatchObject({
      roundId: ROUND_ID,
      complete: true,
      newExposures: 1,
      openExposures: 1,
      incompleteScans: 0,
      published: 1,
      failed: 0,
      staleIps: [],
    });
  });
});
