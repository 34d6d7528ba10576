import { AwsClients } from "../lib/aws/clients.ts";
import { parseInput } from "../lib/config/zod-input.ts";
import { type HandlerEnvironment, handlerEnvironmentSchema } from "../lib/contracts/deployment.ts";
import { tracer } from "./observability.ts";

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
