import { readFileSync } from "node:fs";
import { join } from "node:path";

/** An EventBridge event from test/events/fixtures (CloudTrail management events as EventBridge delivers them). */
export function fixture(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(import.meta.dirname, "fixtures", `${name}.json`), "utf8"));
}

/**
 * The fixture with its account and resource ids replaced (moto invents its own ids): every string
 * value equal to a key of `ids` becomes that key's value, wherever it sits in the event.
 */
export function fixtureFor(name: string, ids: Record<string, string>): Record<string, unknown> {
  const swap = (value: unknown): unknown => {
    if (typeof value === "string") return ids[value] ?? value;
    if (Array.isArray(value)) return value.map(swap);
    if (value && typeof value === "object")
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, swap(v)]));
    return value;
  };
  return swap(fixture(name)) as Record<string, unknown>;
}

/** Sets `value` at a dotted path (array indexes as numbers) inside a fixture: a variant of a real record. */
export function setPath(event: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split(".");
  const last = keys.pop() as string;
  let node: unknown = event;
  for (const key of keys) node = (node as Record<string, unknown>)[key];
  (node as Record<string, unknown>)[last] = value;
}

/** The value at a dotted path inside a fixture. */
export function getPath(event: Record<string, unknown>, path: string): unknown {
  return path.split(".").reduce<unknown>((node, key) => (node as Record<string, unknown>)?.[key], event);
}
