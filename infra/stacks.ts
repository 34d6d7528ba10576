import { type App, CfnOutput, Stack, type StackProps } from "aws-cdk-lib";
import type { Construct } from "constructs";
import type { Severity } from "../lib/catalog/severity.ts";
import { DEFAULT_RESCAN_ROLE_NAME } from "../lib/contracts/deployment.ts";
import { InputError } from "../lib/errors/errors.ts";
import { PortwardenEventForwarderStack, PortwardenMemberRoleStack } from "./member-role-stack.ts";
import { Portwarden, type PortwardenProps } from "./portwarden.ts";

/** The scanner's stack: it only wires the construct. */
export class PortwardenStack extends Stack {
  readonly portwarden: Portwarden;
  constructor(scope: Construct, id: string, props: StackProps & { portwarden?: PortwardenProps } = {}) {
    super(scope, id, props);
    this.portwarden = new Portwarden(this, "Portwarden", props.portwarden ?? {});
    const p = this.portwarden;
    new CfnOutput(this, "AlertTopicArn", { value: p.alertTopic.topicArn });
    new CfnOutput(this, "StateTableName", { value: p.stateTable.tableName });
    new CfnOutput(this, "RoundBucketName", { value: p.roundBucket.bucketName });
    new CfnOutput(this, "StateMachineArn", { value: p.stateMachine.stateMachineArn });
    new CfnOutput(this, "DiscoveryRoleArn", { value: p.discoverFunction.role?.roleArn ?? "" });
    new CfnOutput(this, "ExternalId", {
      value: p.settings.externalId,
      description: "sts:ExternalId the member roles require (-c externalId=... for PortwardenMemberRole)",
    });
    if (p.eventRescans) new CfnOutput(this, "ChangeBusArn", { value: p.eventRescans.bus.eventBusArn });
  }
}

type Context = (key: string) => unknown;

/** A context value as a string; `-c key=value` always arrives as a string, cdk.json may hold JSON. */
function text(get: Context, key: string): string | undefined {
  const value = get(key);
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean")
    throw new InputError(`context '${key}'`, `expected a string, got ${JSON.stringify(value)}`);
  return String(value);
}

/** A comma list (`-c accounts=111122223333,444455556666`) or a JSON array in cdk.json. */
function list(get: Context, key: string): string[] | undefined {
  const value = get(key);
  if (Array.isArray(value)) return value.map(String);
  const raw = text(get, key);
  return raw === undefined
    ? undefined
    : raw
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s !== "");
}

function integer(get: Context, key: string): number | undefined {
  const raw = text(get, key);
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw)) throw new InputError(`context '${key}'`, `'${raw}' is not a whole number`);
  return Number(raw);
}

function bool(get: Context, key: string): boolean | undefined {
  const raw = text(get, key);
  if (raw === undefined) return undefined;
  if (raw !== "true" && raw !== "false")
    throw new InputError(`context '${key}'`, `'${raw}' is not true or false`);
  return raw === "true";
}

/** `baseline=false` turns digests off; `baselineFirstRoundAbove` / `baselineAbove` set the thresholds. */
function baselineFrom(get: Context): PortwardenProps["baseline"] {
  const enabled = bool(get, "baseline");
  const firstRoundAbove = integer(get, "baselineFirstRoundAbove");
  const above = integer(get, "baselineAbove");
  if (enabled === false) return false;
  if (firstRoundAbove === undefined && above === undefined) return undefined;
  return {
    ...(firstRoundAbove !== undefined ? { firstRoundAbove } : {}),
    ...(above !== undefined ? { above } : {}),
  };
}

/** Context keys (cdk.json "context" or `-c key=value`) → construct props; unknown values fail with the key name. */
export function propsFromContext(get: Context): PortwardenProps {
  const props: Record<string, unknown> = {
    schedule: text(get, "schedule"),
    accounts: list(get, "accounts"),
    organization: bool(get, "organization"),
    regions: list(get, "regions"),
    memberRoleName: text(get, "memberRoleName"),
    externalId: text(get, "externalId"),
    ports: text(get, "ports"),
    alertEmails: list(get, "alertEmails"),
    pagerUrl: text(get, "pagerUrl"),
    pagerSeverities: list(get, "pagerSeverities") as Severity[] | undefined,
    scannerMemoryMb: integer(get, "scannerMemoryMb"),
    maxConcurrency: integer(get, "maxConcurrency"),
    targetsPerBatch: integer(get, "targetsPerBatch"),
    securityHub: bool(get, "securityHub"),
    eventRescans: bool(get, "eventRescans"),
    organizationId: text(get, "organizationId"),
    expectedNodes: integer(get, "expectedNodes"),
    coveragePeriodHours: integer(get, "coveragePeriodHours"),
    baseline: baselineFrom(get),
  };
  return Object.fromEntries(Object.entries(props).filter(([, v]) => v !== undefined)) as PortwardenProps;
}

/** Context keys the CDK CLI itself passes without a `:` or `@` in the name. */
const CDK_OWN_CONTEXT_KEYS = new Set(["acknowledged-issue-numbers"]);

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] ?? 0;
      row[j] = Math.min(above + 1, (row[j - 1] ?? 0) + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length] ?? 0;
}

/**
 * Refuses context keys the app never read (`-c maxConcuurency=10` would otherwise be ignored in
 * silence), naming the valid ones. CDK's own keys (`aws:cdk:…`, `@aws-cdk/…`, lookups) pass.
 */
export function checkContextKeys(given: Record<string, unknown>, known: ReadonlySet<string>): void {
  for (const key of Object.keys(given)) {
    if (known.has(key) || key.includes(":") || key.startsWith("@") || CDK_OWN_CONTEXT_KEYS.has(key)) continue;
    const valid = [...known].sort();
    const closest = valid
      .map((k) => [k, editDistance(key.toLowerCase(), k.toLowerCase())] as const)
      .sort((a, b) => a[1] - b[1])[0];
    const hint = closest && closest[1] <= 3 ? ` (did you mean '${closest[0]}'?)` : "";
    throw new InputError(`context '${key}'`, `unknown key${hint}; valid keys: ${valid.join(", ")}`);
  }
}

/** Builds the app: the scanner stack, plus a member-role stack when `scannerAccountId` is given. */
export function buildApp(app: App): App {
  const read = new Set<string>(["scannerAccountId", "externalId", "memberRoleName", "scannerEventBusArn"]);
  const get: Context = (key) => {
    read.add(key);
    return app.node.tryGetContext(key);
  };
  const env = { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION };
  const portwarden = propsFromContext(get);
  const scannerAccountId = text(get, "scannerAccountId");
  // Before any stack is built (building bundles the Lambdas): a typo fails at once.
  checkContextKeys(app.node.getAllContext(), read);
  new PortwardenStack(app, "Portwarden", { env, portwarden });
  if (scannerAccountId !== undefined) {
    const externalId = text(get, "externalId");
    if (externalId === undefined)
      throw new InputError(
        "context 'externalId'",
        "needed with scannerAccountId (the member role requires it)",
      );
    const roleName = text(get, "memberRoleName");
    const scannerEventBusArn = text(get, "scannerEventBusArn");
    new PortwardenMemberRoleStack(app, "PortwardenMemberRole", {
      env,
      scannerAccountId,
      externalId,
      ...(roleName ? { roleName } : {}),
      ...(scannerEventBusArn ? { rescanRoleName: DEFAULT_RESCAN_ROLE_NAME } : {}),
    });
    if (scannerEventBusArn)
      new PortwardenEventForwarderStack(app, "PortwardenEventForwarder", { env, scannerEventBusArn });
  }
  return app;
}
