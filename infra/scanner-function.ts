import { existsSync } from "node:fs";
import { join, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { Duration, RemovalPolicy } from "aws-cdk-lib";
import type { ITable } from "aws-cdk-lib/aws-dynamodb";
import { PolicyStatement, Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Architecture, Runtime, Tracing } from "aws-cdk-lib/aws-lambda";
import { NodejsFunction, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import type { IBucket } from "aws-cdk-lib/aws-s3";
import type { ITopic } from "aws-cdk-lib/aws-sns";
import type { Construct } from "constructs";
import { ENV, METRICS_NAMESPACE, ROUND_OBJECTS, SERVICE_NAME } from "../lib/contracts/deployment.ts";
import { OUTBOX_INDEX_NAME, STATE_STORE_ACTIONS, type StateStoreMethod } from "../lib/state/dynamo-schema.ts";

/**
 * Run from the sources (`infra/*.ts`, the repo's own CDK app) or from the built package
 * (`dist/infra/*.js`, a team's CDK app importing `portwarden/infra`): entries and root differ.
 */
const FROM_SOURCE = import.meta.url.endsWith(".ts");

/** The package root: the repository, or `node_modules/portwarden` (built), or a linked checkout. */
const PACKAGE_ROOT = fileURLToPath(new URL(FROM_SOURCE ? ".." : "../..", import.meta.url));

/**
 * Where esbuild runs (NodejsFunction's projectRoot: it runs `npx esbuild` there, so it must be the
 * project that has esbuild installed): the repository itself, or, for an installed package, the app
 * it is installed in (the path before the first `/node_modules/`). The handlers are under it.
 */
export const PROJECT_ROOT = PACKAGE_ROOT.includes(`${sep}node_modules${sep}`)
  ? PACKAGE_ROOT.slice(0, PACKAGE_ROOT.indexOf(`${sep}node_modules${sep}`))
  : PACKAGE_ROOT;

/**
 * NodejsFunction wants a lock file under the project root and only reads its name (npm, yarn, pnpm
 * or bun runs esbuild): the project's own, or its package.json (an npm project) when it has none.
 */
const DEPS_LOCK_FILE = [
  "pnpm-lock.yaml",
  "yarn.lock",
  "bun.lockb",
  "bun.lock",
  "package-lock.json",
  "package.json",
]
  .map((name) => join(PROJECT_ROOT, name))
  .find((f) => existsSync(f)) as string;

/** `functions/<name>.ts` (sources) or `dist/functions/<name>.js` (package) as an absolute path. */
export function functionEntry(name: "discover" | "scan" | "notify" | "rescan"): string {
  return fileURLToPath(new URL(`../functions/${name}.${FROM_SOURCE ? "ts" : "js"}`, import.meta.url));
}

/**
 * The esbuild options every portwarden Lambda is bundled with. Exported so the bundle tests build
 * exactly what CDK builds: ESM, the AWS SDK bundled (no reliance on the runtime's copy), minified,
 * source maps, and a `require` for the CommonJS dependencies inside an ESM bundle.
 */
export const BUNDLING = {
  format: OutputFormat.ESM,
  minify: true,
  // Error names survive minification: a rejected batch logs `InputError`, not `lo`.
  keepNames: true,
  sourceMap: true,
  externalModules: [] as string[],
  banner: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
  mainFields: ["module", "main"],
  target: "node20",
} as const;

export interface ScannerFunctionProps {
  /** Which handler in `functions/`. */
  readonly handlerName: "discover" | "scan" | "notify" | "rescan";
  /** Default: 256 MB. */
  readonly memorySize?: number;
  /** Default: 1 minute. */
  readonly timeout?: Duration;
  /** Merged over the defaults (service name, metrics namespace, source maps); never dropped. */
  readonly environment?: Record<string, string>;
  /** Default: one month. */
  readonly logRetention?: RetentionDays;
  /** A fixed role name (member accounts trust the discovery role by name). Default: generated. */
  readonly roleName?: string;
  /** Default: RemovalPolicy.DESTROY for the log group (logs are operational, not the record). */
  readonly logRemovalPolicy?: RemovalPolicy;
}

/**
 * A portwarden Lambda: arm64, Node 24 (bundle targets Node 20+), explicit memory/timeout/log group, ESM bundle with the SDK
 * inside built by the local esbuild (no Docker), outside any VPC. `bind…()` grant and set the
 * environment variable together so a function can never have one without the other.
 */
export class ScannerFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: ScannerFunctionProps) {
    const logGroup = new LogGroup(scope, `${id}Logs`, {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.DESTROY,
    });
    // Our own role with inline log permissions on this log group only (no AWSLambdaBasicExecutionRole).
    const role = new Role(scope, `${id}Role`, {
      assumedBy: new ServicePrincipal("lambda.amazonaws.com"),
      ...(props.roleName ? { roleName: props.roleName } : {}),
    });
    logGroup.grantWrite(role);
    super(scope, id, {
      entry: functionEntry(props.handlerName),
      handler: "handler",
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: DEPS_LOCK_FILE,
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout ?? Duration.minutes(1),
      logGroup,
      role,
      tracing: Tracing.ACTIVE,
      environment: {
        NODE_OPTIONS: "--enable-source-maps",
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        POWERTOOLS_LOG_LEVEL: "INFO",
        ...props.environment,
      },
      bundling: {
        ...BUNDLING,
        externalModules: [...BUNDLING.externalModules],
        mainFields: [...BUNDLING.mainFields],
        forceDockerBundling: false,
      },
    });
  }

  /**
   * State table: exactly the DynamoDB actions of the StateStore methods this handler calls
   * (STATE_STORE_ACTIONS, checked against the store in test/state/store-grants.test.ts), on the
   * table, and on the outbox index only when it reads the outbox.
   */
  bindStateTable(table: ITable, methods: readonly StateStoreMethod[]): this {
    const uses = methods.map((m) => STATE_STORE_ACTIONS[m]);
    this.addToRolePolicy(
      new PolicyStatement({
        actions: [...new Set(uses.flatMap((u) => u.actions))].sort(),
        resources: [
          table.tableArn,
          ...(uses.some((u) => u.outboxIndex) ? [`${table.tableArn}/index/${OUTBOX_INDEX_NAME}`] : []),
        ],
      }),
    );
    table.encryptionKey?.grantEncryptDecrypt(this);
    this.addEnvironment(ENV.stateTableName, table.tableName);
    return this;
  }

  /** Round data bucket: GetObject (and PutObject when it writes round data) under `rounds/` only. */
  bindRoundBucket(bucket: IBucket, access: "read" | "readWrite"): this {
    this.addToRolePolicy(
      new PolicyStatement({
        actions: access === "readWrite" ? ["s3:GetObject", "s3:PutObject"] : ["s3:GetObject"],
        resources: [bucket.arnForObjects(ROUND_OBJECTS)],
      }),
    );
    this.addEnvironment(ENV.roundBucketName, bucket.bucketName);
    return this;
  }

  /** Alert topic: publish only (the KMS grant comes with it). */
  bindAlertTopic(topic: ITopic): this {
    topic.grantPublish(this);
    this.addEnvironment(ENV.alertTopicArn, topic.topicArn);
    return this;
  }
}
