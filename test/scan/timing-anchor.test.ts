import { describe, expect, it } from "vitest";
import { InputError } from "../../lib/errors/errors.ts";
import { PortSet } from "../../lib/ports/port-set.ts";
import { scanTargets } from "../../lib/round/scan-stage.ts";
import { AnchorEstimate } from "../../lib/scan/timing-anchor.ts";
import {
  anchorsForTargets,
  parseTimingAnchor,
  regionEndpoint,
} from "../../lib/scan/timing-anchor-setting.ts";
import type { ScanOptions } from "../../lib/scan/types.ts";
import { MemoryStateStore } from "../../lib/state/memory-state-store.ts";

describe("timing anchor settings", () => {
  it("parses off, region-endpoint and HOST:PORT (IPv6 in brackets)", () => {
    expect(parseTimingAnchor("off", "f")).toBe("off");
    expect(parseTimingAnchor(" region-endpoint ", "f")).toBe("region-endpoint");
    expect(parseTimingAnchor("127.0.9.1:443", "f")).toEqual({ host: "127.0.9.1", port: 443 });
    expect(parseTimingAnchor("anchor.example:8443", "f")).toEqual({ host: "anchor.example", port: 8443 });
    expect(parseTimingAnchor("[::1]:443", "f")).toEqual({ host: "::1", port: 443 });
  });

  it("refuses anything else with the field named, and never the metadata service", () => {
    for (const bad of ["on", "host", "host:0", "host:65536", "[nothost]:443", "a:b:443", ""])
      expect(() => parseTimingAnchor(bad, "--timing-anchor")).toThrow(/^--timing-anchor: /);
    expect(() => parseTimingAnchor("169.254.169.254:80", "--timing-anchor")).toThrow(InputError);
    expect(() => parseTimingAnchor("169.254.169.254:80", "--timing-anchor")).toThrow(/never scanned/);
  });

  it("names each region's EC2 endpoint in its partition's domain", () => {
    expect(regionEndpoint("eu-west-1")).toEqual({ host: "ec2.eu-west-1.amazonaws.com", port: 443 });
    expect(regionEndpoint("cn-north-1")?.host).toBe("ec2.cn-north-1.amazonaws.com.cn");
    expect(regionEndpoint("us-gov-west-1")?.host).toBe("ec2.us-gov-west-1.amazonaws.com");
    expect(regionEndpoint("us-iso-east-1")?.host).toBe("ec2.us-iso-east-1.c2s.ic.gov");
    expect(regionEndpoint("us-isob-east-1")?.host).toBe("ec2.us-isob-east-1.sc2s.sgov.gov");
    expect(regionEndpoint("us-isof-south-1")?.host).toBe("ec2.us-isof-south-1.csp.hci.ic.gov");
    expect(regionEndpoint("eu-isoe-west-1")?.host).toBe("ec2.eu-isoe-west-1.cloud.adc-e.uk");
    expect(regionEndpoint("eusc-de-east-1")?.host).toBe("ec2.eusc-de-east-1.amazonaws.eu");
    expect(regionEndpoint("us-isob-east-1")?.host).toBe("ec2.us-isob-east-1.sc2s.sgov.gov");
    expect(regionEndpoint("x.evil/1")).toBeUndefined();
  });

  it("anchors public targets with a region only; an explicit endpoint anchors every target", () => {
    const targets = [
      { ip: "203.0.113.7", region: "eu-west-1" }, // documentation range: public by policy, never contacted here
      { ip: "127.0.2.1", region: "eu-west-1" },
      { ip: "10.0.0.5", region: "eu-west-1" },
      { ip: "198.51.100.9" },
    ];
    const regional = anchorsForTargets("region-endpoint", targets);
    expect([...regional.keys()]).toEqual(["203.0.113.7"]);
    expect(regional.get("203.0.113.7")).toEqual({ host: "ec2.eu-west-1.amazonaws.com", port: 443 });
    expect(anchorsForTargets("off", targets).size).toBe(0);
    const explicit = anchorsForTargets({ host: "127.0.9.1", port: 443 }, targets);
    expect(explicit.size).toBe(4);
  });
});

describe("an anchor's timeout", () => {
  const policy = { initialMs: 500, floorMs: 50, ceilingMs: 1500 };
  const estimate = (rtts: number[]) => {
    const e = new AnchorEstimate(policy);
    for (const rtt of rtts) e.observe(rtt);
    return e.timeoutMs;
  };
  it("is the floor for a near anchor, twice a far one's median RTT, and never above the initial timeout", () => {
    expect(estimate([])).toBe(500);
    expect(estimate([0.8, 1.1, 0.9])).toBe(50);
    expect(estimate([150, 160, 140, 155, 150])).toBe(300);
    expect(estimate([400])).toBe(500);
  });

  it("is not set by one delayed handshake (the first runs while the scan starts)", () => {
    expect(estimate([62, 0.6, 0.5, 0.4, 0.5])).toBe(50);
    // Until the median settles it errs long: two samples take the upper one.
    expect(estimate([0.5, 62])).toBe(124);
  });
});

describe("the scan stage", () => {
  it("hands the scanner each target's anchor: the setting's, region endpoints by default", async () => {
    const seen: (ScanOptions["timingAnchors"] | undefined)[] = [];
    const deps = {
      // A recording scan adapter: the stage's contract with the scanner is what is under test.
      scan: async (hosts: string[], options: ScanOptions) => {
        seen.push(options.timingAnchors);
        return hosts.map((ip) => ({
          target: ip,
          ip,
          open: [],
          closed: 0,
          filtered: 1,
          complete: true,
          durationMs: 1,
        }));
      },
      probe: async () => [],
      store: new MemoryStateStore(),
    };
    const targets = [{ ip: "127.0.2.1", region: "eu-west-1" }];
    const options = { roundId: "r", ports: PortSet.fromPorts([22]) };
    await scanTargets(targets, { ...deps, addressPolicy: { allowInternal: true } }, options);
    await scanTargets(
      targets,
      { ...deps, addressPolicy: { allowInternal: true }, timingAnchor: { host: "127.0.9.1", port: 443 } },
      options,
    );
    expect(seen[0]?.size).toBe(0); // loopback: never a region endpoint
    expect(seen[1]?.get("127.0.2.1")).toEqual({ host: "127.0.9.1", port: 443 });
  });
});
