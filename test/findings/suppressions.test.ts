import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfigFile, parseConfig } from "../../lib/config/config-file.ts";
import { applySuppressions, type Suppression, suppresses } from "../../lib/config/suppressions.ts";
import { InputError } from "../../lib/errors/errors.ts";
import { type ClassifiedFinding, classifyExposures, recordable } from "../../lib/findings/classify.ts";
import type { Finding } from "../../lib/findings/types.ts";
import { parsePortSpec } from "../../lib/ports/port-spec.ts";

const NOW = new Date("2026-11-29T03:00:00Z");

function finding(over: Partial<Finding> = {}): Finding {
  return {
    ip: "203.0.113.7",
    port: 443,
    service: "https",
    severity: "info",
    kind: "exposed",
    evidence: "TCP connect succeeded",
    account: "111122223333",
    cluster: "prod",
    ...over,
  };
}

const allow = (over: Partial<Suppression>): Suppression => ({ reason: "expected", ...over });

describe("suppresses", () => {
  it("matches expected ingress 80/443 by port", () => {
    expect(suppresses(allow({ ports: parsePortSpec("80,443") }), finding(), NOW)).toBe(true);
  });

  it("does not match a port outside the suppression's ports", () => {
    expect(suppresses(allow({ ports: parsePortSpec("80,443") }), finding({ port: 10250 }), NOW)).toBe(false);
  });

  it("matches an IP inside a CIDR and not one outside it", () => {
    const s = allow({ cidr: "203.0.113.0/24" });
    expect([suppresses(s, finding(), NOW), suppresses(s, finding({ ip: "198.51.100.1" }), NOW)]).toEqual([
      true,
      false,
    ]);
  });

  it("matches IPv6 addresses inside an IPv6 CIDR", () => {
    expect(suppresses(allow({ cidr: "2001:db8::/32" }), finding({ ip: "2001:db8::5" }), NOW)).toBe(true);
  });

  it("matches by account and cluster only when both agree", () => {
    const s = allow({ account: "111122223333", cluster: "prod" });
    expect([suppresses(s, finding(), NOW), suppresses(s, finding({ cluster: "staging" }), NOW)]).toEqual([
      true,
      false,
    ]);
  });

  it("matches a latent range finding only when its whole range is inside the suppression", () => {
    const latent = {
      ...finding({ port: 30000, portSpec: "30000-32767", kind: "latent" }),
      ports: parsePortSpec("30000-32767"),
    };
    expect([
      suppresses(allow({ ports: parsePortSpec("30000-32767") }), latent, NOW),
      suppresses(allow({ ports: parsePortSpec("30000-31000") }), latent, NOW),
    ]).toEqual([true, false]);
  });

  it("matches a range finding by the port set classification gave it, never by re-reading its text", () => {
    const [latent] = classifyExposures({
      ip: "203.0.113.7",
      open: [],
      scanned: parsePortSpec("kubernetes"),
      internetAllowed: parsePortSpec("30000-32767"),
    });
    expect([latent?.portSpec, latent?.ports?.toSpec()]).toEqual(["30000-32767", "30000-32767"]);
    expect(suppresses(allow({ ports: parsePortSpec("30000-32767") }), latent as ClassifiedFinding, NOW)).toBe(
      true,
    );
    // Text alone (as a stored record holds it) is not enough to hide a range: over-report instead.
    const textOnly = recordable(latent as ClassifiedFinding);
    expect(Object.keys(textOnly)).not.toContain("ports");
    expect(suppresses(allow({ ports: parsePortSpec("30000-32767") }), textOnly, NOW)).toBe(false);
  });

  it("stops matching once it has expired, so the finding alerts again", () => {
    const s = allow({ ports: parsePortSpec("443"), expires: new Date("2026-11-29T02:59:59Z") });
    expect(suppresses(s, finding(), NOW)).toBe(false);
  });

  it("matches before its expiry", () => {
    const s = allow({ ports: parsePortSpec("443"), expires: new Date("2026-12-01T00:00:00Z") });
    expect(suppresses(s, finding(), NOW)).toBe(true);
  });

  it("splits findings into reported and suppressed", () => {
    const out = applySuppressions(
      [finding(), finding({ port: 10250 })],
      [allow({ ports: parsePortSpec("443") })],
      NOW,
    );
    expect([out.reported.map((f) => f.port), out.suppressed.map((f) => f.port)]).toEqual([[10250], [443]]);
  });
});

describe("parseConfig", () => {
  it("parses suppressions with ports, cidr, expiry and the diff policy", () => {
    const config = parseConfig({
      resolveAfterScans: 3,
      suppressions: [{ ports: "80,443", cidr: "203.0.113.0/24", reason: "ingress", expires: "2026-12-31" }],
    });
    expect(config.resolveAfterScans).toBe(3);
    expect(config.suppressions[0]).toMatchObject({ cidr: "203.0.113.0/24", reason: "ingress" });
    expect(config.suppressions[0]?.ports?.toSpec()).toBe("80,443");
    expect(config.suppressions[0]?.expires?.toISOString()).toBe("2026-12-31T00:00:00.000Z");
  });

  it("rejects a bad CIDR naming the field path and the value", () => {
    expect(() =>
      parseConfig({
        suppressions: [
          { ports: "22", reason: "x" },
          { cidr: "10.0.0.0/33", reason: "x" },
        ],
      }),
    ).toThrow("config.suppressions[1].cidr: '10.0.0.0/33' is not an IP address or CIDR");
  });

  it("rejects a bad port spec naming the field path and the value", () => {
    expect(() => parseConfig({ suppressions: [{ ports: "70000", reason: "x" }] })).toThrow(
      "config.suppressions[0].ports: '70000' is not a port SPEC",
    );
  });

  it("rejects a suppression without a reason", () => {
    expect(() => parseConfig({ suppressions: [{ ports: "443" }] })).toThrow(
      "config.suppressions[0].reason: is required",
    );
  });

  it("rejects a suppression with no selector, which would hide everything", () => {
    expect(() => parseConfig({ suppressions: [{ reason: "all" }] })).toThrow(
      /config\.suppressions\[0\].*at least one of/,
    );
  });

  it("rejects an unparseable expiry", () => {
    expect(() =>
      parseConfig({ suppressions: [{ ports: "443", reason: "x", expires: "next week" }] }),
    ).toThrow("config.suppressions[0].expires: 'next week' is not an ISO 8601 date");
  });

  it("rejects unknown keys so typos do not silently disable a setting", () => {
    expect(() => parseConfig({ resolveAfterScan: 3 })).toThrow(InputError);
  });
});

describe("loadConfigFile", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "portwarden-config-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("loads a config file from disk", async () => {
    const path = join(dir, "ok.json");
    await writeFile(path, JSON.stringify({ suppressions: [{ ports: "80,443", reason: "public ingress" }] }));
    expect((await loadConfigFile(path)).suppressions).toHaveLength(1);
  });

  it("names --config and the path when the file is not JSON", async () => {
    const path = join(dir, "bad.json");
    await writeFile(path, "{ nope");
    await expect(loadConfigFile(path)).rejects.toThrow(`--config: '${path}' is not valid JSON`);
  });

  it("names --config and the path when the file is missing", async () => {
    await expect(loadConfigFile(join(dir, "missing.json"))).rejects.toThrow(/^--config: cannot read/);
  });
});
