import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { catalogEntryFor, KUBERNETES_PORTS } from "../../lib/catalog/kubernetes-ports.ts";
import { isSeverity } from "../../lib/catalog/severity.ts";
import { PORT_PROFILES } from "../../lib/ports/port-spec.ts";

describe("the Kubernetes port catalogue", () => {
  it("has an entry for every port of the kubernetes profile", () => {
    const profile = PORT_PROFILES.kubernetes;

    const missing = profile?.toArray().filter((port) => catalogEntryFor(port) === undefined);

    expect(profile?.size).toBeGreaterThan(2_768);
    expect(missing).toEqual([]);
  });

  it("fills every text field of every entry", () => {
    const empty = KUBERNETES_PORTS.flatMap((e) =>
      (["service", "exposes", "why", "fix"] as const)
        .filter((field) => e[field].trim() === "")
        .map((field) => `${e.from}.${field}`),
    );

    expect(empty).toEqual([]);
  });

  it("gives every entry a known severity", () => {
    const invalid = KUBERNETES_PORTS.filter((e) => !isSeverity(e.severity)).map((e) => e.from);

    expect(invalid).toEqual([]);
  });

  it("keeps entries sorted, in valid port bounds and non-overlapping", () => {
    const problems = KUBERNETES_PORTS.flatMap((e, i) => {
      const previous = KUBERNETES_PORTS[i - 1];
      const out: string[] = [];
      if (e.from < 1 || e.to > 65535 || e.from > e.to) out.push(`${e.from}-${e.to} out of bounds`);
      if (previous && e.from <= previous.to) out.push(`${e.from} overlaps or precedes ${previous.to}`);
      return out;
    });

    expect(problems).toEqual([]);
  });

  it("uses each service name once, since findings and alerts are keyed by it", () => {
    const names = KUBERNETES_PORTS.map((e) => e.service);

    expect(new Set(names).size).toBe(names.length);
  });

  it("returns undefined for a port it does not know", () => {
    expect(catalogEntryFor(12345)).toBeUndefined();
  });

  it.each([
    [10250, "kubelet", "high"],
    [10255, "kubelet-readonly", "critical"],
    [2379, "etcd", "critical"],
    [2380, "etcd", "critical"],
    [6443, "kube-apiserver", "high"],
    [2375, "docker", "critical"],
    [31337, "nodeport", "high"],
  ])("knows port %i as %s with default severity %s", (port, service, severity) => {
    expect(catalogEntryFor(port)).toMatchObject({ service, severity });
  });

  it("covers the NodePort range at both ends and not beyond", () => {
    expect([29999, 30000, 32767, 32768].map((port) => catalogEntryFor(port)?.service)).toEqual([
      undefined,
      "nodeport",
      "nodeport",
      undefined,
    ]);
  });

  it("names the kubelet's hardening flags in its fix", () => {
    expect(catalogEntryFor(10250)?.fix).toMatch(/--anonymous-auth=false.*Webhook/);
  });

  it("names client-cert auth in etcd's fix", () => {
    expect(catalogEntryFor(2379)?.fix).toContain("--client-cert-auth=true");
  });
});

describe("the README's catalogue table", () => {
  it("lists every catalogue entry with its current service, severity and fix", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

    const missing = KUBERNETES_PORTS.filter((e) => {
      const ports = e.from === e.to ? `${e.from}` : `${e.from}-${e.to}`;
      return !readme.includes(`| ${ports} | ${e.service} | ${e.severity} | ${e.fix.replace(/\|/g, "\\|")} |`);
    }).map((e) => e.from);

    expect(missing).toEqual([]);
  });
});
