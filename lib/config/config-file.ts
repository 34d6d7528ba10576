import { readFile, stat } from "node:fs/promises";
import { z } from "zod";
import { accountIdSchema } from "../contracts/aws-identifiers.ts";
import { CLUSTER_NAME_MAX_CHARS } from "../contracts/limits.ts";
import { errorMessage, InputError } from "../errors/errors.ts";
import { isIpOrCidr } from "../net/cidr.ts";
import { nonEmptyPortSetSchema } from "../ports/port-set-schema.ts";
import type { Suppression } from "./suppressions.ts";
import { boundedText, parseInput } from "./zod-input.ts";

/** The round's diff policy; every knob has a default (see DEFAULT_DIFF_POLICY in lib/findings/diff.ts). */
export interface RoundPolicyConfig {
  resolveAfterScans?: number;
  flapQuietHours?: number;
  alertOnResolved?: boolean;
}

export interface PortwardenConfig extends RoundPolicyConfig {
  suppressions: Suppression[];
  /** Baseline digests (README "Baseline round"); false turns them off. */
  baseline?: BaselineConfig | false;
}

export interface BaselineConfig {
  firstRoundAbove?: number;
  above?: number;
  worst?: number;
}

/** Shared with the CDK construct's props: the same bounds everywhere. */
export const baselineConfigSchema = z.union([
  z.literal(false),
  z.strictObject({
    firstRoundAbove: z.number().int().min(0).max(1_000_000).optional(),
    above: z.number().int().min(0).max(1_000_000).optional(),
    worst: z.number().int().min(1).max(50).optional(),
  }),
]);

/** Config files are small; refuse anything that is clearly not one. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

function isIsoDate(value: string): boolean {
  return (
    /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/.test(value) &&
    !Number.isNaN(Date.parse(value))
  );
}

const suppressionSchema = z
  .strictObject({
    account: accountIdSchema.optional(),
    cluster: boundedText(CLUSTER_NAME_MAX_CHARS, 1).optional(),
    cidr: z.string().refine(isIpOrCidr, { error: "is not an IP address or CIDR" }).optional(),
    ports: nonEmptyPortSetSchema.optional(),
    kinds: z
      .array(z.enum(["exposed", "unexplained", "latent"]))
      .min(1)
      .optional(),
    reason: z.string().trim().min(1, { error: "is empty: say why this is accepted" }).max(500),
    expires: z
      .string()
      .refine(isIsoDate, {
        error: "is not an ISO 8601 date or date-time (e.g. 2026-12-31 or 2026-12-31T00:00:00Z)",
      })
      .optional(),
  })
  .refine(
    (s) =>
      s.account !== undefined || s.cluster !== undefined || s.cidr !== undefined || s.ports !== undefined,
    { error: "needs at least one of account, cluster, cidr, ports (it would hide everything)" },
  );

const configSchema = z.strictObject({
  resolveAfterScans: z.number().int().min(1).max(100).optional(),
  flapQuietHours: z
    .number()
    .min(0)
    .max(24 * 90)
    .optional(),
  alertOnResolved: z.boolean().optional(),
  suppressions: z.array(suppressionSchema).max(10_000).default([]),
  baseline: baselineConfigSchema.optional(),
});

/** Validates a parsed config document; errors name the field path (`config.suppressions[2].cidr`). */
export function parseConfig(data: unknown, root = "config"): PortwardenConfig {
  const parsed = parseInput(configSchema, data, root);
  const suppressions = parsed.suppressions.map((s): Suppression => {
    const out: Suppression = { reason: s.reason };
    if (s.account !== undefined) out.account = s.account;
    if (s.cluster !== undefined) out.cluster = s.cluster;
    if (s.cidr !== undefined) out.cidr = s.cidr;
    if (s.ports !== undefined) out.ports = s.ports;
    if (s.kinds !== undefined) out.kinds = s.kinds;
    if (s.expires !== undefined) out.expires = new Date(s.expires);
    return out;
  });
  const config: PortwardenConfig = { suppressions };
  if (parsed.resolveAfterScans !== undefined) config.resolveAfterScans = parsed.resolveAfterScans;
  if (parsed.flapQuietHours !== undefined) config.flapQuietHours = parsed.flapQuietHours;
  if (parsed.alertOnResolved !== undefined) config.alertOnResolved = parsed.alertOnResolved;
  if (parsed.baseline !== undefined)
    config.baseline =
      parsed.baseline === false
        ? false
        : Object.fromEntries(Object.entries(parsed.baseline).filter(([, v]) => v !== undefined));
  return config;
}

/** Reads a small JSON file, bounded; errors name `field` and the path. */
export async function readJsonFile(path: string, field: string, maxBytes: number): Promise<unknown> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (error) {
    throw new InputError(field, `cannot read '${path}': ${errorMessage(error)}`);
  }
  if (size > maxBytes)
    throw new InputError(field, `'${path}' is ${size} bytes, more than the ${maxBytes} allowed`);
  const text = await readFile(path, "utf8");
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new InputError(field, `'${path}' is not valid JSON: ${errorMessage(error)}`);
  }
}

/** Loads and validates `--config FILE`. */
export async function loadConfigFile(path: string): Promise<PortwardenConfig> {
  return parseConfig(await readJsonFile(path, "--config", MAX_CONFIG_BYTES));
}
