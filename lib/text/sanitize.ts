import { PortSet } from "../ports/port-set.ts";

/**
 * The one routine that makes text from outside (tags, banners, titles, error messages, evidence)
 * safe to print, store, publish or log: control and invisible characters out, credentials masked.
 * Every output goes through it: console lines and --json (lib/cli), the state (findings are cleaned
 * before they are recorded, lib/round/scan-stage.ts), SNS messages and subjects (lib/alerts/format.ts),
 * Security Hub fields and the Lambda logs.
 */

/**
 * Characters that break a line or a terminal: C0/C1 controls, DEL, NEL and the line/paragraph
 * separators U+2028/U+2029. Each run becomes one space.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g;
/**
 * Characters that reorder or hide text: bidi embeddings, overrides and isolates (U+202A-U+202E,
 * U+2066-U+2069), marks (U+200E/U+200F, U+061C), zero-width characters (U+200B-U+200D, U+2060,
 * U+FEFF, U+180E) and the invisible operators U+2061-U+2064. Removed, so a secret split by one is
 * whole again for the redaction.
 */
const INVISIBLE_CHARACTERS = /[\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]+/g;

/** Credentials that must never leave the process, with what replaces them. */
const SECRET_PATTERNS: ReadonlyArray<readonly [RegExp, string]> = [
  // PEM private keys (whole block, or a cut-off start of one).
  [
    /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g,
    "[redacted private key]",
  ],
  // Authorization headers, whatever the scheme.
  [/\b(authorization)(\s*[=:]\s*)(?:[A-Za-z]+\s+)?[^\s,;&]+/gi, "$1$2[redacted]"],
  [/\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi, "$1 [redacted]"],
  // AWS access key ids and `aws_secret_access_key = ...` (also as env vars / JSON keys).
  [/\b(?:AKIA|ASIA|AIDA|AROA|ANPA)[A-Z0-9]{16}\b/g, "[redacted]"],
  [
    /\b(aws_?secret_?access_?key|aws_?session_?token|secret_?access_?key)("?\s*[=:]\s*"?)[A-Za-z0-9/+=]{8,}/gi,
    "$1$2[redacted]",
  ],
  // JWTs (header.payload.signature).
  [/\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g, "[redacted]"],
  // Vendor tokens with a recognisable prefix: Stripe, GitHub, Slack, Google API keys, npm.
  [/\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{8,}/g, "[redacted]"],
  [/\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})/g, "[redacted]"],
  [/\bxox[abposr]-[A-Za-z0-9-]{10,}/g, "[redacted]"],
  [/\bAIza[0-9A-Za-z_-]{35}\b/g, "[redacted]"],
  [/\bnpm_[A-Za-z0-9]{36}\b/g, "[redacted]"],
  // key=value / key: value / "key": "value" for the usual secret names.
  [
    /\b(password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|client[_-]?secret|session[_-]?token)("?\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s,;&]+)/gi,
    "$1$2[redacted]",
  ],
  // user:password@ in URLs (basic auth).
  [/(\/\/)[^/\s:@]+:[^/\s@]+@/g, "$1[redacted]@"],
];

/** Masks things that look like credentials (the backstop: evidence is built not to carry any). */
export function redactSecrets(text: string): string {
  return SECRET_PATTERNS.reduce((out, [pattern, replacement]) => out.replace(pattern, replacement), text);
}

/** Control and separator characters become a space; bidi and zero-width characters are removed. */
export function stripUnsafeCharacters(text: string): string {
  return text.replace(INVISIBLE_CHARACTERS, "").replace(CONTROL_CHARACTERS, " ");
}

/** Cuts to `max` characters by code point (never half a surrogate pair), `…` when cut. */
function clamp(text: string, max: number): string {
  if (text.length <= max) return text;
  const points = Array.from(text);
  return points.length <= max ? text : `${points.slice(0, max - 1).join("")}…`;
}

/** One safe line of at most `maxChars`: unsafe characters out, secrets redacted, whitespace collapsed. */
export function safeText(text: string, maxChars: number, options: { asciiOnly?: boolean } = {}): string {
  let clean = redactSecrets(stripUnsafeCharacters(text));
  if (options.asciiOnly) clean = clean.replace(/[^\x20-\x7e]+/g, " ");
  return clamp(clean.replace(/\s+/g, " ").trim(), maxChars);
}

/**
 * A value about to be printed as JSON, stored or published, with every string in it cleaned
 * (secrets redacted, unsafe characters out; lengths kept: limits are the schemas' job).
 */
export function sanitizeDeep<T>(value: T): T {
  if (typeof value === "string") return redactSecrets(stripUnsafeCharacters(value)) as T;
  if (Array.isArray(value)) return value.map((item) => sanitizeDeep(item)) as T;
  // A port set holds numbers only, and must stay a value (its JSON form is its SPEC).
  if (value instanceof PortSet) return value;
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = sanitizeDeep(item);
    return out as T;
  }
  return value;
}
