import { describe, expect, it } from "vitest";
import { classifyExposures, lowerSeverity } from "../../lib/findings/classify.ts";
import { PortSet } from "../../lib/ports/port-set.ts";
import { parsePortSpec } from "../../lib/ports/port-spec.ts";
import type { ProbeResult } from "../../lib/probes/types.ts";

const IP = "127.0.2.1";
const scanned = parsePortSpec("kubernetes,9999");

describe("classifyExposures: open ports", () => {
  it("rates an open catalogue port nobody probed by policy: unknown service, expected name, catalogue severity and fix", () => {
    // Prepare / Act
    const [finding] = classifyExposures({ ip: IP, open: [10250], scanned });
    // Assess
    expect(finding).toMatchObject({
      ip: IP,
      port: 10250,
      service: "unknown",
      expected: "kubelet",
      basis: "policy",
      severity: "high",
      kind: "exposed",
      evidence: "TCP connect succeeded, not probed; rated by policy as the expected kubelet",
    });
    expect(finding?.fix).toContain("anonymous-auth=false");
  });

  it("never rates an unproven port critical: the policy caps a critical catalogue default at high", () => {
    const [finding] = classifyExposures({ ip: IP, open: [10255], scanned });
    expect(finding).toMatchObject({ service: "unknown", expected: "kubelet-readonly", severity: "high" });
  });

  it("rates what answered, not the port: Docker found on 9100 is docker, critical, expected node-exporter", () => {
    const probe: ProbeResult = {
      port: 9100,
      service: "docker",
      verdict: "anonymous-access",
      severity: "critical",
      evidence: "Docker Engine 20.10.24 (API 1.41) answered GET /version",
    };
    const [finding] = classifyExposures({ ip: IP, open: [9100], scanned, probes: [probe] });
    expect(finding).toMatchObject({
      service: "docker",
      expected: "node-exporter",
      basis: "probe",
      severity: "critical",
    });
    expect(finding?.fix).toContain("Never bind dockerd to TCP without TLS");
  });

  it("raises severity when a probe proves anonymous access", () => {
    const probe: ProbeResult = {
      port: 10250,
      service: "kubelet",
      verdict: "anonymous-access",
      severity: "critical",
      evidence: "GET /pods answered 200 without credentials",
    };
    const [finding] = classifyExposures({ ip: IP, open: [10250], scanned, probes: [probe] });
    expect(finding).toMatchObject({
      severity: "critical",
      evidence: "GET /pods answered 200 without credentials",
    });
  });

  it("lowers severity when a probe proves authentication is required", () => {
    const probe: ProbeResult = {
      port: 6443,
      service: "kube-apiserver",
      verdict: "auth-required",
      severity: "medium",
      evidence: "anonymous requests get 401",
    };
    const [finding] = classifyExposures({ ip: IP, open: [6443], scanned, probes: [probe] });
    expect(finding?.severity).toBe("medium");
  });

  it("says in the evidence when a probe could not tell, and rates by policy", () => {
    const probe: ProbeResult = { port: 2379, service: "unknown", verdict: "no-answer", evidence: "timeout" };
    const [finding] = classifyExposures({ ip: IP, open: [2379], scanned, probes: [probe] });
    expect(finding).toMatchObject({
      service: "unknown",
      expected: "etcd",
      basis: "policy",
      severity: "high",
      evidence: "not identified this round (timeout); rated by policy as the expected etcd",
    });
  });

  it("takes the service name a probe fingerprinted on an unknown port", () => {
    const probe: ProbeResult = {
      port: 9999,
      service: "http",
      verdict: "fingerprint",
      severity: "medium",
      evidence: "HTTP/1.1 200",
    };
    const [finding] = classifyExposures({ ip: IP, open: [9999], scanned, probes: [probe] });
    expect(finding?.service).toBe("http");
    expect(finding?.expected).toBeUndefined();
  });

  it("reports an unknown port as service 'unknown' with medium severity when open to the world", () => {
    const [finding] = classifyExposures({
      ip: IP,
      open: [9999],
      scanned,
      internetAllowed: PortSet.fromPorts([9999]),
    });
    expect(finding).toMatchObject({ service: "unknown", severity: "medium", kind: "exposed" });
  });

  it("reports an unknown port allowed only from specific public CIDRs at low severity", () => {
    const [finding] = classifyExposures({
      ip: IP,
      open: [9999],
      scanned,
      internetAllowed: PortSet.EMPTY,
      publicCidrAllowed: PortSet.fromPorts([9999]),
    });
    expect(finding).toMatchObject({ service: "unknown", severity: "low", kind: "exposed" });
  });

  it("marks a port open to 0.0.0.0/0 as exposed and says which rule allows it", () => {
    const [finding] = classifyExposures({
      ip: IP,
      open: [22],
      scanned,
      internetAllowed: PortSet.fromPorts([22]),
    });
    expect(finding?.kind).toBe("exposed");
    expect(finding?.evidence).toContain("0.0.0.0/0");
  });

  it("marks a port open although no rule allows it as unexplained and says why it is worth a look", () => {
    const [finding] = classifyExposures({ ip: IP, open: [22], scanned, internetAllowed: PortSet.EMPTY });
    expect(finding?.kind).toBe("unexplained");
    expect(finding?.evidence).toMatch(/no security-group rule.*worth a look/);
  });

  it("treats open ports as exposed when there is no security-group data (--targets)", () => {
    const findings = classifyExposures({ ip: IP, open: [22, 10250], scanned });
    expect(findings.map((f) => f.kind)).toEqual(["exposed", "exposed"]);
  });

  it("copies the node context onto each finding", () => {
    const [finding] = classifyExposures({
      ip: IP,
      open: [22],
      scanned,
      account: "111122223333",
      region: "eu-west-1",
      cluster: "prod",
      instanceId: "i-0abc",
    });
    expect(finding).toMatchObject({
      account: "111122223333",
      region: "eu-west-1",
      cluster: "prod",
      instanceId: "i-0abc",
    });
  });
});

describe("classifyExposures: latent findings", () => {
  it("reports the NodePort range open to the world with nothing listening as one latent finding", () => {
    const findings = classifyExposures({
      ip: IP,
      open: [],
      scanned,
      internetAllowed: parsePortSpec("30000-32767"),
    });
    expect(findings).toEqual([
      expect.objectContaining({
        port: 30000,
        portSpec: "30000-32767",
        service: "nodeport",
        kind: "latent",
        severity: "medium",
      }),
    ]);
  });

  it("keeps the latent range finding's port stable when one NodePort starts listening", () => {
    const findings = classifyExposures({
      ip: IP,
      open: [31337],
      scanned,
      internetAllowed: parsePortSpec("30000-32767"),
    });
    expect(findings.map((f) => [f.port, f.kind])).toEqual([
      [31337, "exposed"],
      [30000, "latent"],
    ]);
  });

  it("reports a world-open sensitive single port with nothing listening as latent at lower severity", () => {
    const findings = classifyExposures({
      ip: IP,
      open: [],
      scanned,
      internetAllowed: PortSet.fromPorts([10250]),
    });
    expect(findings).toEqual([expect.objectContaining({ port: 10250, kind: "latent", severity: "medium" })]);
  });

  it("does not report expected ingress ports (80/443) as latent", () => {
    const findings = classifyExposures({
      ip: IP,
      open: [],
      scanned,
      internetAllowed: PortSet.fromPorts([80, 443]),
    });
    expect(findings).toEqual([]);
  });

  it("does not claim a port latent when it was not scanned", () => {
    const findings = classifyExposures({
      ip: IP,
      open: [],
      scanned: PortSet.fromPorts([22]),
      internetAllowed: PortSet.fromPorts([10250]),
    });
    expect(findings).toEqual([]);
  });

  it("does not report a latent finding for a port that is open (it is an exposure instead)", () => {
    const findings = classifyExposures({
      ip: IP,
      open: [10250],
      scanned,
      internetAllowed: PortSet.fromPorts([10250]),
    });
    expect(findings.map((f) => f.kind)).toEqual(["exposed"]);
  });

  it("lowers severity one step and never below info", () => {
    expect([lowerSeverity("high"), lowerSeverity("info"), lowerSeverity("critical", 2)]).toEqual([
      "medium",
      "info",
      "medium",
    ]);
  });
});

describe("classifyExposures: probe service names", () => {
  it("names an unidentified NodePort 'unknown' and keeps 'nodeport' only as what is expected", () => {
    const probe: ProbeResult = {
      port: 31337,
      service: "unknown",
      verdict: "no-answer",
      evidence: "could not tell what answers",
    };
    const [finding] = classifyExposures({ ip: IP, open: [31337], scanned, probes: [probe] });
    expect(finding).toMatchObject({ service: "unknown", expected: "nodeport", severity: "high" });
  });
});

describe("classifyExposures: a host answering on every port", () => {
  const everything = parsePortSpec("kubernetes");
  const open = everything.toArray();

  it("reports one finding with the count instead of one per port", () => {
    const findings = classifyExposures({ ip: IP, open, scanned: everything });
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      port: 0,
      portSpec: `${open[0]}-${open[open.length - 1]}`,
      service: "tarpit",
      severity: "medium",
      basis: "policy",
    });
    expect(findings[0]?.evidence).toContain(`answers on ${open.length} of ${everything.size} scanned ports`);
  });

  it("still reports a port whose probe identified a real service behind it", () => {
    const probe: ProbeResult = {
      port: 10250,
      service: "kubelet",
      verdict: "anonymous-access",
      severity: "critical",
      evidence: "GET /pods answered 200 without credentials",
    };
    const findings = classifyExposures({ ip: IP, open, scanned: everything, probes: [probe] });
    expect(findings.map((f) => [f.port, f.service, f.severity])).toEqual([
      [10250, "kubelet", "critical"],
      [0, "tarpit", "medium"],
    ]);
  });

  it("does not call a host with a few open ports of a small scan a tarpit", () => {
    const small = parsePortSpec("22,80,443");
    const findings = classifyExposures({ ip: IP, open: [22, 80, 443], scanned: small });
    expect(findings.map((f) => f.port)).toEqual([22, 80, 443]);
  });
});
