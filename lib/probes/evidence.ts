import { safeText } from "../text/sanitize.ts";

/** Longest piece of text taken from a remote service into evidence (titles, banners, headers). */
const MAX_REMOTE_TEXT = 80;

/**
 * Makes untrusted remote text safe for a one-line alert: printable ASCII only, whitespace
 * collapsed, length capped. Used for banners, titles, Server headers and certificate names.
 */
export function remoteText(value: unknown, max = MAX_REMOTE_TEXT): string {
  if (typeof value !== "string") return "";
  // The shared sanitiser (controls, bidi, zero-width out; secrets redacted), ASCII only.
  return safeText(value, max, { asciiOnly: true });
}

/** A version string as a service reports it (`v1.29.3-eks-1`, `3.4.23`); anything else is dropped. */
export function versionText(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  const trimmed = value.trim();
  return /^[\w.+~-]{1,40}$/.test(trimmed) ? trimmed : undefined;
}

/** Parses JSON that may have been cut at the byte cap; undefined when it does not parse. */
export function parseJsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === "object" && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** The `<title>` of an HTML page, made safe. */
export function htmlTitle(body: string): string | undefined {
  const match = /<title[^>]*>([\s\S]*?)<\/title>/i.exec(body);
  const title = remoteText(match?.[1]);
  return title === "" ? undefined : title;
}

/**
 * `3 keys`, `1 member`: a count a service reported, printed only when it is a sane whole number
 * (etcd sends int64 counts as strings; anything else, e.g. `-1e+300`, is "an unreadable count").
 */
export function countText(value: unknown, noun: string): string {
  const text = typeof value === "number" ? String(value) : typeof value === "string" ? value.trim() : "";
  if (!/^\d{1,15}$/.test(text)) return `an unreadable ${noun} count`;
  const count = Number(text);
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

/** `items` count of a Kubernetes list that was read completely, or a note that it was cut. */
export function listSize(body: string, truncated: boolean, noun: string, capBytes: number): string {
  const items = truncated ? undefined : parseJsonObject(body)?.items;
  if (Array.isArray(items)) return countText(items.length, noun);
  if (truncated && body.length >= capBytes)
    return `a ${noun} list longer than ${Math.round(capBytes / 1024)} KB, not read further`;
  return `a ${noun} list that could not be read completely`;
}
