import { z } from "zod";
import { charCount } from "../contracts/limits.ts";
import { InputError } from "../errors/errors.ts";

/** `root.clusters[0].nodes[1]` from a zod issue path. */
export function fieldPath(root: string, path: readonly PropertyKey[]): string {
  let out = root;
  for (const part of path) out += typeof part === "number" ? `[${part}]` : `.${String(part)}`;
  return out;
}

/** A value short enough to quote in an error line (user data, never secrets: config and inventory only). */
function quote(value: unknown): string {
  const text = typeof value === "string" ? `'${value}'` : JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** One clear line for a zod issue: the field path, the value, what is wrong. */
export function describeIssue(issue: z.core.$ZodIssue, root: string): { field: string; message: string } {
  const field = fieldPath(root, issue.path);
  const input = (issue as { input?: unknown }).input;
  if (issue.code === "custom") return { field, message: `${quote(input)} ${issue.message}` };
  if (issue.code === "invalid_type" && input === undefined)
    return { field, message: `is required (${issue.expected})` };
  if (issue.code === "unrecognized_keys") return { field, message: issue.message };
  return { field, message: `${quote(input)}: ${issue.message}` };
}

/**
 * Parses `data` with `schema`; on failure throws an InputError whose field is the full path under
 * `root` (e.g. `inventory.clusters[0].nodes[1].publicIps[0]`) and whose message quotes the value.
 */
export function parseInput<T>(schema: z.ZodType<T>, data: unknown, root: string): T {
  const result = schema.safeParse(data, { reportInput: true });
  if (result.success) return result.data;
  const first = result.error.issues[0];
  if (!first) throw new InputError(root, "invalid");
  const { field, message } = describeIssue(first, root);
  const more = result.error.issues.length > 1 ? ` (and ${result.error.issues.length - 1} more problems)` : "";
  throw new InputError(field, `${message}${more}`);
}

/**
 * A string of `min`-`max` characters counted as AWS counts them (code points, so a 256-character
 * tag value of emoji passes where `.max(256)` on UTF-16 units would refuse it).
 */
export function boundedText(max: number, min = 0): z.ZodString {
  return z.string().check(
    z.refine((v: string) => charCount(v) >= min && charCount(v) <= max, {
      error: min > 0 ? `must be ${min}-${max} characters` : `is longer than ${max} characters`,
    }),
  );
}
