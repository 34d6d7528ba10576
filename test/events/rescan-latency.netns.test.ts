// The path the latency benchmark times (npm run bench:rescan), checked for what it does, not how
// fast: a recorded CloudTrail event put on the change bus (moto, the construct's rule patterns)
// becomes one alert on the SNS topic's subscribed queue that names the change; a change that opens
// nothing costs one scan of one node and no alert; a failed call reaches no queue.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requirePrivateNetns } from "../support/netns.ts";
import { RESCAN_PORTS, RescanPipeline } from "./rescan-pipeline.ts";

describe.runIf(requirePrivateNetns())("event → rescan → alert, through bus, queue, handler and SNS", () => {
  let pipeline: RescanPipeline;
  beforeAll(async () => {
    pipeline = await RescanPipeline.start();
  }, 60_000);
  afterAll(async () => {
    await pipeline?.stop();
  });

  it("a security-group change that opens a kubelet port: one alert naming the event, who and when", async () => {
    const node = await pipeline.addNode({ listening: true, open: false });
    await pipeline.openPort(node);
    const result = await pipeline.run(
      "authorize-security-group-ingress",
      { "sg-0f63fecfa17ef4fee": node.sg },
      node,
    );
    expect(result.queue).toBe("changes");
    expect(result.alerts).toHaveLength(1);
    expect(result.alerts[0]).toMatchObject({
      eventType: "new",
      finding: { ip: node.ip, port: 10250 },
      cause: {
        eventName: "AuthorizeSecurityGroupIngress",
        actor: "arn:aws:iam::111122223333:user/alice",
        at: "2024-10-14T14:11:38Z",
      },
    });
    expect(result.scans).toMatchObject({ calls: 1, addresses: 1 });
  }, 60_000);

  it("a launch (RunInstances) of a node whose group is open: routed to the launch queue, alerted with its cause", async () => {
    const node = await pipeline.addNode({ listening: true, open: true });
    const result = await pipeline.run(
      "run-instances",
      { "i-0f2f135de18b555e3": node.instanceId, "eni-043138569d4a31e90": node.eni },
      node,
    );
    expect(result.queue).toBe("launches");
    expect(result.alerts.map((a) => a.cause)).toEqual([
      expect.objectContaining({ eventName: "RunInstances", actor: "arn:aws:iam::111122223333:user/bob" }),
    ]);
  }, 60_000);

  it("a change that opens nothing: one scan of the one touched node (the profile's ports), no alert", async () => {
    // Its group admits nothing and nothing listens: neither an exposure nor a latent one.
    const node = await pipeline.addNode({ listening: false, open: false });
    const result = await pipeline.run(
      "modify-network-interface-attribute",
      { "eni-0123456789abcdef0": node.eni },
      node,
    );
    expect(result.queue).toBe("changes");
    expect(result.scans).toEqual({ calls: 1, addresses: 1, portsPerAddress: [RESCAN_PORTS.size] });
    expect(result.alerts).toEqual([]);
  }, 60_000);

  it("a refused call (errorCode) matches no rule: no queue, no scan", async () => {
    const node = await pipeline.addNode({ listening: false, open: true });
    const result = await pipeline.run("authorize-security-group-ingress-denied", {}, node);
    expect(result.queue).toBeUndefined();
    expect(result.scans.calls).toBe(0);
  }, 60_000);
});
