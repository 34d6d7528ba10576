import { describe, expect, it } from "vitest";
import { logReplacer } from "../../functions/observability.ts";
import { alertMessageBody, consoleLine, emailText, subjectLine } from "../../lib/alerts/format.ts";
import type { AlertEvent } from "../../lib/findings/types.ts";
import { remoteText } from "../../lib/probes/evidence.ts";
import { redactSecrets, safeText, sanitizeDeep, stripUnsafeCharacters } from "../../lib/text/sanitize.ts";

// Secrets assembled at run time so no scanner mistakes this file for a leak.
const STRIPE = ["sk", "live", "4eC39HqLyjWDarjtT1zdp7dc"].join("_");
const GITHUB = `ghp_${"a1B2c3D4e5F6g7H8i9J0".repeat(2)}`;
const AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.c2lnbmF0dXJlc2lnbmF0dXJl";
const PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA1234\nabcd\n-----END RSA PRIVATE KEY-----";

describe("redactSecrets: one routine for every output", () => {
  it.each([
    ["aws_secret_access_key=", `aws_secret_access_key=${AWS_SECRET}`, "aws_secret_access_key=[redacted]"],
    [
      "AWS_SECRET_ACCESS_KEY env",
      `AWS_SECRET_ACCESS_KEY: ${AWS_SECRET}`,
      "AWS_SECRET_ACCESS_KEY: [redacted]",
    ],
    ["JSON secret key", `{"SecretAccessKey":"${AWS_SECRET}"}`, '{"SecretAccessKey":"[redacted]"}'],
    ["access key id", "key AKIAIOSFODNN7EXAMPLE in use", "key [redacted] in use"],
    ["Stripe live key", `stripe ${STRIPE}`, "stripe [redacted]"],
    ["GitHub token", `token for ${GITHUB} here`, "token for [redacted] here"],
    ["JWT", `cookie=${JWT}`, "cookie=[redacted]"],
    ["bearer token", "Authorization: Bearer abcdef123456.xyz", "Authorization: [redacted]"],
    ["bearer alone", "sent bearer abcdef1234567890", "sent bearer [redacted]"],
    ["basic-auth URL", "GET https://admin:hunter2@example.com/x", "GET https://[redacted]@example.com/x"],
    ["password=", "password=hunter2&user=a", "password=[redacted]&user=a"],
    ["private key", `key ${PEM} end`, "key [redacted private key] end"],
    [
      "cut-off private key",
      "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA",
      "[redacted private key]",
    ],
  ])("masks a %s", (_name, text, expected) => {
    expect(redactSecrets(text)).toBe(expected);
  });

  it("leaves ordinary evidence alone", () => {
    const text = "GET /pods answered 200 without credentials (12 pods); Server: nginx/1.25";
    expect(redactSecrets(text)).toBe(text);
  });
});

describe("stripUnsafeCharacters", () => {
  it.each([
    ["right-to-left override U+202E", "prod\u202Egnp.exe", "prodgnp.exe"],
    ["bidi isolate U+2066..U+2069", "a\u2066b\u2069c", "abc"],
    ["line separator U+2028", "a\u2028b", "a b"],
    ["paragraph separator U+2029", "a\u2029b", "a b"],
    ["C0 controls and ESC", "a\u0000b\u001b[31mc\r\nd", "a b [31mc d"],
    ["C1 controls incl. NEL", "a\u0085b\u009bc", "a b c"],
    ["zero-width space/joiners and BOM", "ad\u200bmin\u200d\ufeff", "admin"],
  ])("removes %s", (_name, text, expected) => {
    expect(stripUnsafeCharacters(text)).toBe(expected);
  });

  it("cannot be dodged by splitting a secret with an invisible character", () => {
    expect(safeText(`AKIA\u200bIOSFODNN7EXAMPLE`, 100)).toBe("[redacted]");
  });
});

describe("safeText and sanitizeDeep", () => {
  it("makes one bounded line, cutting by code point", () => {
    expect(safeText("x\u2028y\n z", 100)).toBe("x y z");
    expect(safeText("😀".repeat(10), 4)).toBe("😀😀😀…");
  });

  it("cleans every string of a nested value and keeps the rest", () => {
    expect(sanitizeDeep({ a: [`\u202Eab`, 3, { b: `token=${STRIPE}` }], c: null, d: true })).toEqual({
      a: ["ab", 3, { b: "token=[redacted]" }],
      c: null,
      d: true,
    });
  });

  it("is the routine behind probe evidence (remoteText): ASCII, one line, redacted", () => {
    expect(remoteText(`Server: x\u202E ${GITHUB}`, 80)).toBe("Server: x [redacted]");
  });

  it("cleans every log line's strings (the Lambda logger's replacer)", () => {
    expect(JSON.stringify({ error: `aws_secret_access_key=${AWS_SECRET}\u2028x` }, logReplacer)).toBe(
      '{"error":"aws_secret_access_key=[redacted] x"}',
    );
  });
});

describe("alerts: console, email, SNS JSON and subject carry no secret and no bidi", () => {
  const event: AlertEvent = {
    id: "203.0.113.9#10250|new|2026-11-29T03:00:00.000Z",
    eventType: "new",
    at: "2026-11-29T03:00:05.000Z",
    finding: {
      ip: "203.0.113.9",
      port: 10250,
      service: "kubelet\u202E",
      severity: "critical",
      kind: "exposed",
      evidence: `GET /pods 200; env AWS_SECRET_ACCESS_KEY=${AWS_SECRET}\u2028Bcc: x`,
      cluster: "prod\u202Edorp\u2029",
      account: "111122223333",
    },
  };

  it.each([
    ["console line", () => consoleLine(event)],
    ["email", () => emailText(event).replace(/\n/g, " ")],
    ["SNS JSON body", () => JSON.stringify(alertMessageBody(event))],
    ["SNS subject", () => subjectLine(`CRITICAL ${event.finding.cluster} ${event.finding.evidence}`)],
  ])("%s", (_name, render) => {
    const text = render();
    expect(text).not.toContain(AWS_SECRET);
    expect(text).not.toMatch(/[\u202a-\u202e\u2028\u2029\u2066-\u2069\u200b]/);
    expect(text).toContain("[redacted]");
  });
});
