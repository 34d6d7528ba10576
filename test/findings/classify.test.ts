import { describe, expect, it } from "vitest";
import { classifyExposures, lowerSeverity } from "../../lib/findings/classify.ts";
import { PortSet } from "../../lib/ports/port-set.ts";
import { parsePortSpec } from "../../lib/ports/port-spec.ts";
import type { ProbeResult } from "../../lib/probes/types.ts";

const IP = "127.0.2.1";
const scanned = parsePortSpec("kubernetes,9999");

describe("classifyExposures: open ports", () => {
  it("names an open catalogue port and takes its severity and fix from the catalogue", () => {
    // Prepare / Act
    const [finding] = classifyExposures({ ip: IP, open: [10250], scanned });
    // Assess
    expect(finding).toMatchObject({
      ip: IP,
      port: 10250,
      service: "kubelet",
      severity: "high",
      kind: "exposed",
    });
    expect(finding?.fix).toContain("anonymous-auth=false");
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

  it("ignores a probe that failed and keeps the catalogue's verdict", () => {
    const probe: ProbeResult = { port: 2379, service: "", verdict: "error", evidence: "timeout" };
    const [finding] = classifyExposures({ ip: IP, open: [2379], scanned, probes: [probe] });
    expect(finding).toMatchObject({
      service: "etcd",
      severity: "critical",
      evidence: "TCP connect succeeded",
    });
  });

  it("takes the service name a probe fingerprinted on an unknown port", () => {
    const probe: ProbeResult = {
      port: 9999,
      service: "http",
      verdict: "fingerprint",
      evidence: "HTTP/1.1 200",
    };
    const [finding] = classifyExposures({ ip: IP, open: [9999], scanned, probes: [probe] });
    expect(finding?.service).toBe("http");
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
  it("keeps the catalogue's service when the probe could not name it", () => {
    const probe: ProbeResult = {
      port: 31337,
      service: "unknown",
      verdict: "reachable",
      evidence: "TCP connect succeeded",
    };
    const [finding] = classifyExposures({ ip: IP, open: [31337], scanned, probes: [probe] });
    expect(finding?.service).toBe("nodeport");
  });
});
