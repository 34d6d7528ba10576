import { SnsNotifier } from "../lib/alerts/sns-notifier.ts";
import type { Notifier } from "../lib/alerts/types.ts";
import { AwsClients } from "../lib/aws/clients.ts";
import { parseInput } from "../lib/config/zod-input.ts";
import { ENV, type HandlerEnvironment, handlerEnvironmentSchema } from "../lib/contracts/deployment.ts";
import { withSecurityHub } from "../lib/securityhub/destination.ts";
import { DynamoStateStore } from "../lib/state/dynamo-state-store.ts";
import { logger, tracer } from "./observability.ts";

export type { HandlerEnvironment };

/** Parses `env`; a bad value fails the cold start with the variable's name (`environment.AWS_REGION: …`). */
export function readEnvironment(env: NodeJS.ProcessEnv = process.env): HandlerEnvironment {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  return parseInput(handlerEnvironmentSchema.loose(), present, "environment") as HandlerEnvironment;
}

/** A variable the handler cannot work without. */
export function required<K extends keyof HandlerEnvironment>(
  env: HandlerEnvironment,
  key: K,
): NonNullable<HandlerEnvironment[K]> {
  const value = env[key];
  if (value === undefined)
    throw new Error(`environment.${String(key)} is not set (the CDK construct sets it)`);
  return value as NonNullable<HandlerEnvironment[K]>;
}

let clients: AwsClients | undefined;

/** Every SDK client a handler makes is traced (X-Ray subsegments; a pass-through outside Lambda). */
export const traceClient = <C extends object>(client: C): C => tracer.captureAWSv3Client(client);

/** One AwsClients per cold start in the Lambda's own region, each client traced; reused by every invocation. */
export function lambdaClients(env: HandlerEnvironment): AwsClients {
  clients ??= new AwsClients({ region: env.AWS_REGION, instrument: traceClient });
  return clients;
}

/** Caches the first successful build of a handler's dependencies (once per cold start). */
export function once<T>(make: () => T): () => T {
  let made: { value: T } | undefined;
  return () => {
    made ??= { value: make() };
    return made.value;
  };
}

/** The state table the construct bound (`STATE_TABLE_NAME`). */
export function stateStore(env: HandlerEnvironment, clients: AwsClients): DynamoStateStore {
  return new DynamoStateStore({ client: clients.dynamodb, tableName: required(env, ENV.stateTableName) });
}

/** The alert topic (`ALERT_TOPIC_ARN`), plus Security Hub when the construct turned it on. */
export function alertNotifier(env: HandlerEnvironment, clients: AwsClients): Notifier {
  return withSecurityHub(
    new SnsNotifier({ client: clients.sns, topicArn: required(env, ENV.alertTopicArn) }),
    env[ENV.securityHub] === "true",
    () => clients,
    (rejected) => logger.warn("Security Hub refused findings", { rejected }),
  );
}

/**
 * A scanning handler's deadline: Lambda's remaining time minus what the DynamoDB writes and the
 * return need (5%, 3-15 s). The stage itself keeps time for probes back from this deadline.
 */
export function stageDeadline(remainingMs: number, nowMs: number): number {
  const margin = Math.min(15_000, Math.max(3_000, remainingMs * 0.05));
  return nowMs + Math.max(1_000, remainingMs - margin);
}
