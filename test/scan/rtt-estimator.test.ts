import { describe, expect, it } from "vitest";
import { RttEstimator } from "../../lib/scan/rtt-estimator.ts";
import { networkPrefix } from "../../lib/scan/scanner.ts";

describe("RttEstimator", () => {
  const policy = { initialMs: 500, floorMs: 100, ceilingMs: 1500 };

  it("starts at the initial timeout before any answer", () => {
    expect(new RttEstimator(policy).timeoutMs).toBe(500);
  });

  it("drops to the floor after fast answers", () => {
    const rtt = new RttEstimator(policy);
    for (let i = 0; i < 5; i++) rtt.observe(0.2);
    expect(rtt.timeoutMs).toBe(100);
  });

  it("tracks a slow host above the floor (srtt + 4 rttvar)", () => {
    const rtt = new RttEstimator(policy);
    for (let i = 0; i < 50; i++) rtt.observe(i % 2 === 0 ? 240 : 260);
    expect(rtt.timeoutMs).toBeGreaterThan(260);
    expect(rtt.timeoutMs).toBeLessThan(400);
  });

  it("never exceeds the ceiling", () => {
    const rtt = new RttEstimator(policy);
    rtt.observe(5000);
    expect(rtt.timeoutMs).toBe(1500);
  });
});

describe("networkPrefix (hosts that share group timing)", () => {
  it("groups IPv4 by /24 and IPv6 by /64, whatever the spelling", () => {
    expect(networkPrefix("10.1.2.3", 4)).toBe("10.1.2");
    expect(networkPrefix("10.1.3.3", 4)).not.toBe(networkPrefix("10.1.2.3", 4));
    expect(networkPrefix("2001:db8::1", 6)).toBe("2001:db8:0:0");
    expect(networkPrefix("2001:0db8:0000:0000:ffff::2", 6)).toBe("2001:db8:0:0");
    expect(networkPrefix("2001:db8:0:1::1", 6)).toBe("2001:db8:0:1");
    expect(networkPrefix("::1", 6)).toBe("0:0:0:0");
  });
});
