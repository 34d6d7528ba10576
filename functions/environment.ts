import { z } from "zod";
import { AwsClients } from "../lib/aws/clients.ts";
import { parseInput } from "../lib/config/zod-input.ts";

/** The environment CDK sets for the handlers (infra/scanner-function.ts `bind…()`), validated once. */
const environmentSchema = z.object({
  AWS_REGION: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, "is not an AWS region"),
  STATE_TABLE_NAME: z.string().min(3).max(255).optional(),
  ROUND_BUCKET_NAME: z.string().min(3).max(63).optional(),
  ALERT_TOPIC_ARN: z.string().startsWith("arn:").optional(),
  PORT_SPEC: z.string().min(1).optional(),
  ACCOUNTS: z.string().optional(),
  ORGANIZATION: z.enum(["true", "false"]).optional(),
  REGIONS: z.string().optional(),
  MEMBER_ROLE_NAME: z.string().optional(),
  EXTERNAL_ID: z.string().optional(),
  /** Discover reads this inventory (JSON of `portwarden inventory --json`) from the round bucket instead of calling AWS. */
  INVENTORY_S3_KEY: z.string().min(1).max(1024).optional(),
});

export type HandlerEnvironment = z.infer<typeof environmentSchema>;

/** Parses `env`; a bad value fails the cold start with the variable's name (`environment.AWS_REGION: …`). */
export function readEnvironment(env: NodeJS.ProcessEnv = process.env): HandlerEnvironment {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  return parseInput(environmentSchema.loose(), present, "environment") as HandlerEnvironment;
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

/** One AwsClients per cold start in the Lambda's own region; reused by every invocation. */
export function lambdaClients(env: HandlerEnvironment): AwsClients {
  clients ??= new AwsClients({ region: env.AWS_REGION });
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
